package org.tinker.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tinker.config.ConfigError;
import org.tinker.runs.Checkpoint;
import org.tinker.runs.RunStore;

/**
 * Issue 19, item 7: one writer per run. While another process (a child JVM holding the run folder's lock) or this
 * one writes a run, {@code runner resume} of it is refused in one line, exit 2, naming the run; once the writer is
 * gone the same resume trains to the end.
 */
class RunLockTest {
    /** A program that takes the run's lock as a second writer would, says so, and holds it until its stdin closes. */
    static final String HOLDER = """
            import java.nio.channels.FileChannel;
            import java.nio.file.*;
            public class Hold {
                public static void main(String[] a) throws Exception {
                    FileChannel ch = FileChannel.open(Path.of(a[0]), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                    var lock = ch.lock();
                    System.out.println("locked");
                    System.out.flush();
                    while (System.in.read() >= 0) { }
                    lock.release();
                }
            }
            """;

    @Test
    void aSecondWriterIsRefusedInOneLine(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("c.txt"), BadInputTest.tiny("TrainParams", "checkpoint_every", "1"));
        Path saved = dir.resolve("saved");
        MainTest.Outcome trained = MainTest.run("--config=c", "--configs-dir=" + dir, "--no-wandb", "--save", "--saved-models=" + saved);
        assertEquals(0, trained.code(), trained.err());
        RunStore.Run run = new RunStore(saved).list().get(0);
        deleteTree(run.dir().resolve(Checkpoint.FINAL)); // an interrupted run
        assertFalse(run.finished());
        assertFalse(run.checkpoints().isEmpty(), "an intermediate checkpoint to resume from");
        String ts = run.timestamp();
        String[] resume = {"resume", "--timestamp=" + ts, "--saved-models=" + saved, "--no-wandb"};

        // another process writes the run
        Path src = dir.resolve("Hold.java");
        Files.writeString(src, HOLDER);
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process holder = new ProcessBuilder(java.toString(), src.toString(), run.dir().resolve(RunStore.Lock.FILE).toString())
                .redirectErrorStream(true).start();
        try {
            BufferedReader r = new BufferedReader(new InputStreamReader(holder.getInputStream(), StandardCharsets.UTF_8));
            assertEquals("locked", r.readLine(), "the holder took the lock");
            assertRefused(MainTest.run(resume), ts);
            assertFalse(run.finished(), "the refused resume wrote nothing");
        } finally {
            holder.getOutputStream().close();
            assertTrue(holder.waitFor(30, TimeUnit.SECONDS));
        }

        // this process writes it (one resume holding the lock, a second one started meanwhile)
        try (RunStore.Lock held = RunStore.Lock.acquire(run.dir(), ts)) {
            assertRefused(MainTest.run(resume), ts);
            ConfigError e = assertThrows(ConfigError.class, () -> RunStore.Lock.acquire(run.dir(), ts));
            assertTrue(e.getMessage().contains("another process is writing this run"), e.getMessage());
        }

        // the writer gone, the resume runs to the end
        MainTest.Outcome ok = MainTest.run(resume);
        assertEquals(0, ok.code(), ok.err());
        assertTrue(run.finished());
        RunStore.Lock.acquire(run.dir(), ts).close(); // and the lock was released
    }

    static void assertRefused(MainTest.Outcome o, String ts) {
        assertEquals(2, o.code(), o.err());
        List<String> lines = o.err().strip().lines().toList();
        assertEquals(1, lines.size(), o.err());
        assertTrue(lines.get(0).startsWith("error: run " + ts), lines.get(0));
        assertTrue(lines.get(0).contains("another process is writing this run"), lines.get(0));
    }

    static void deleteTree(Path p) throws IOException {
        try (var s = Files.walk(p)) {
            for (Path f : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(f);
        }
    }
}
