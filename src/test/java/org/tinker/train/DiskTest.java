package org.tinker.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tinker.config.RunSpec;
import org.tinker.runs.Checkpoint;

/**
 * Issue 19, item 8: a save that fails with an IOException is one line naming the folder, earlier checkpoints stay as
 * they were and no temporary folder is left; what a killed save leaves is removed at the next start of the run.
 */
class DiskTest {
    /**
     * The failing save. Tests run as root, where permission bits do not stop a write, so the failure is simulated with a
     * regular file where the run folder should be (moved aside after the first checkpoint): the next save cannot create
     * its folder. The run folder, put back, holds exactly what it held before the failed save.
     */
    @Test
    void aFailedSaveIsOneLineAndKeepsTheEarlierCheckpoints(@TempDir Path saved) throws Exception {
        RunSpec spec = TestRuns.spec(TestRuns.set(TestRuns.PTB_TINY, "epochs", "1",
                "checkpoint_every", "-1")); // after each validation: 14, 28 batches
        Path runDir = saved.resolve("run"), aside = saved.resolve("run-aside");
        byte[][] before = new byte[1][];
        String[] first = new String[1];
        try (Experiment.Prepared p = Experiment.prepare(spec, Experiment.Setup.quiet(DivergenceTest.ROOT, saved, true), null)) {
            Trainer t = new Trainer(spec, p.lm(), p.data(), new Trainer.Options(runDir, true, List.of(), System.out, false));
            t.addCallback(new TrainingCallback() {
                @Override
                public void afterOptimizerStep(Step step) {
                    if (first[0] != null || !Files.isDirectory(runDir)) return;
                    try (Stream<Path> s = Files.list(runDir)) { // the first checkpoint is written: the disk goes away
                        List<String> cks = s.map(q -> q.getFileName().toString()).filter(n -> n.matches("\\d+")).toList();
                        if (cks.isEmpty()) return;
                        first[0] = cks.get(0);
                        before[0] = Files.readAllBytes(runDir.resolve(first[0]).resolve(Checkpoint.MODEL_FILE));
                        Files.move(runDir, aside);
                        Files.writeString(runDir, "not a folder");
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                }
            });
            Trainer.SaveFailed e = assertThrows(Trainer.SaveFailed.class, t::train);
            assertEquals(1, e.getMessage().lines().count(), e.getMessage());
            assertTrue(e.getMessage().matches(java.util.regex.Pattern.quote(runDir.toString()) + "/\\d+: cannot save the checkpoint \\(.*"),
                    e.getMessage());
            assertTrue(e.getMessage().endsWith("the checkpoints saved before are kept"), e.getMessage());
            assertEquals(0, e.getStackTrace().length, "no stack trace");
        }
        Files.delete(runDir);
        Files.move(aside, runDir);
        try (Stream<Path> s = Files.list(runDir)) {
            assertEquals(List.of(first[0]), s.map(q -> q.getFileName().toString()).sorted().toList(), "no temporary folder, nothing new");
        }
        assertArrayEquals(before[0], Files.readAllBytes(runDir.resolve(first[0]).resolve(Checkpoint.MODEL_FILE)));
    }

    @Test
    void whatAKilledSaveLeftIsRemovedAndAMovedAsideCheckpointPutBack(@TempDir Path run) throws Exception {
        for (String d : List.of("16", "final", ".16.tmp-123", ".final.old-77", ".32.old-88")) {
            Files.createDirectories(run.resolve(d));
            Files.writeString(run.resolve(d).resolve("a.txt"), d);
        }
        Files.writeString(run.resolve(".trainer_state.json.999.tmp"), "half");
        Files.writeString(run.resolve("log.txt"), "log");
        Files.writeString(run.resolve(".lock"), "");
        List<String> removed = Checkpoint.removeStale(run);
        assertEquals(List.of(".16.tmp-123", ".final.old-77", ".trainer_state.json.999.tmp"), removed.stream().sorted().toList());
        try (Stream<Path> s = Files.list(run)) {
            assertEquals(List.of(".lock", "16", "32", "final", "log.txt"), s.map(q -> q.getFileName().toString()).sorted().toList());
        }
        assertEquals(".32.old-88", Files.readString(run.resolve("32").resolve("a.txt")), "the only copy of 32 put back");
        assertEquals("final", Files.readString(run.resolve("final").resolve("a.txt")));
    }

    @Test
    void aSavedCheckpointIsSyncedAndRenamedWhole(@TempDir Path dir) throws Exception {
        Path ck = dir.resolve("8");
        Checkpoint.writeAtomically(ck, tmp -> {
            Files.writeString(tmp.resolve("a.txt"), "a");
            Files.createDirectories(tmp.resolve("sub"));
            Files.writeString(tmp.resolve("sub").resolve("b.txt"), "b");
        });
        assertEquals("b", Files.readString(ck.resolve("sub").resolve("b.txt")));
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of("8"), s.map(q -> q.getFileName().toString()).toList());
        }
        assertFalse(Files.exists(dir.resolve(".8.tmp")));
    }
}
