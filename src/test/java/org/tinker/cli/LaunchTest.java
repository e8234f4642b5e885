package org.tinker.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code java -jar runner.jar} gets ./runner's process settings by starting itself once more with them. */
class LaunchTest {
    @Test
    void environmentAddsDefaultsButKeepsWhatTheUserSet() {
        Map<String, String> plain = Launch.environment(Map.of("HOME", "/h"));
        assertEquals("2000", plain.get("GOMP_SPINCOUNT"));
        assertEquals("2", plain.get("MALLOC_ARENA_MAX"));
        assertEquals(java.lang.management.ManagementFactory.getRuntimeMXBean().getStartTime(), Long.parseLong(plain.get(Launch.MARK)),
                "marked (the child must not start itself again) with this JVM's start, for time-to-first-step");
        assertEquals("/h", plain.get("HOME"));

        Map<String, String> passive = Launch.environment(Map.of("OMP_WAIT_POLICY", "PASSIVE", "MALLOC_ARENA_MAX", "8"));
        assertFalse(passive.containsKey("GOMP_SPINCOUNT"), "a wait policy the user chose is not overridden by a spin count");
        assertEquals("8", passive.get("MALLOC_ARENA_MAX"));
        assertEquals("50", Launch.environment(Map.of("GOMP_SPINCOUNT", "50")).get("GOMP_SPINCOUNT"));

        Map<String, String> dedicated = Launch.environment(Map.of(Launch.DEDICATED, "1", "MALLOC_TOP_PAD_", "0"));
        assertEquals("20000", dedicated.get("GOMP_SPINCOUNT"), "a dedicated machine spins longer");
        assertEquals("33554432", dedicated.get("MALLOC_MMAP_THRESHOLD_"), "and keeps freed blocks");
        assertEquals("0", dedicated.get("MALLOC_TOP_PAD_"));
        assertFalse(plain.containsKey("MALLOC_MMAP_THRESHOLD_"), "glibc's own thresholds otherwise");
    }

    /** The environments every rule is checked in: plain, a user's own choices, a dedicated machine. */
    private static final List<Map<String, String>> GIVEN = List.of(Map.of(), Map.of("OMP_WAIT_POLICY", "PASSIVE", "MALLOC_ARENA_MAX", "8"),
            Map.of(Launch.DEDICATED, "1"), Map.of(Launch.DEDICATED, "1", "GOMP_SPINCOUNT", "50", "MALLOC_TRIM_THRESHOLD_", "7"));

    /** Runs a bash command line in {@code given} (the variables Launch sets removed first) and returns its {@code env} output. */
    private static Map<String, String> bashEnv(List<String> cmd, Map<String, String> given, Map<String, String> extra) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().keySet().removeIf(k -> k.startsWith("OMP_") || k.startsWith("GOMP_") || k.startsWith("MALLOC_")
                || k.equals("TORCH_CPP_LOG_LEVEL") || k.equals(Launch.MARK) || k.equals(Launch.DEDICATED));
        pb.environment().putAll(given);
        pb.environment().putAll(extra);
        Process p = pb.redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        Map<String, String> got = new java.util.TreeMap<>();
        for (String line : out.split("\n")) {
            int eq = line.indexOf('=');
            if (eq > 0) got.put(line.substring(0, eq), line.substring(eq + 1));
        }
        return got;
    }

    /** What a script that sets the rules itself must export: {@link Launch#environment}, marked with 1. */
    private static void assertSameRules(Map<String, String> given, Map<String, String> got, String who) {
        Map<String, String> expected = new java.util.TreeMap<>(Launch.environment(given));
        expected.put(Launch.MARK, "1"); // scripts mark with 1, a relaunch with its start time
        for (String k : expected.keySet()) assertEquals(expected.get(k), got.get(k), who + ": " + k + " with " + given);
        for (String k : got.keySet())
            if (k.startsWith("GOMP_") || k.startsWith("MALLOC_")) assertTrue(expected.containsKey(k), who + " sets " + k + " with " + given);
    }

    /** The SLURM scripts' bash lines set what {@link Launch#environment} sets, by the same rules (run through bash). */
    @Test
    void shellExportsMatchTheEnvironmentRules() throws Exception {
        for (Map<String, String> given : GIVEN)
            assertSameRules(given, bashEnv(List.of("bash", "-c", Launch.shellExports() + "env"), given, Map.of()), "shellExports");
    }

    /**
     * {@code ./runner} writes the rules in bash (they must be set before the JVM starts): run the real script, with a
     * stand-in {@code java} that prints its environment and arguments, and compare with {@link Launch}.
     */
    @Test
    void theRunnerScriptSetsWhatLaunchSets(@TempDir Path dir) throws Exception {
        Path runner = dir.resolve("runner"), bin = Files.createDirectories(dir.resolve("bin"));
        Files.copy(Path.of("runner"), runner);
        Files.createDirectories(dir.resolve("src/main"));
        Files.writeString(dir.resolve("pom.xml"), "");
        Path jar = Files.createDirectories(dir.resolve("target")).resolve("runner.jar");
        Files.writeString(jar, "");
        jar.toFile().setLastModified(System.currentTimeMillis() + 60_000); // newer than the sources: no build
        Path fakeJava = bin.resolve("java");
        Files.writeString(fakeJava, "#!/usr/bin/env bash\nenv\nfor a in \"$@\"; do echo \"ARG:$a\"; done\n");
        assertTrue(fakeJava.toFile().setExecutable(true) && runner.toFile().setExecutable(true));
        for (Map<String, String> given : GIVEN) {
            Map<String, String> got = bashEnv(List.of("bash", runner.toString(), "--config=x"), given,
                    Map.of("PATH", bin + File.pathSeparator + System.getenv("PATH")));
            assertSameRules(given, got, "./runner");
        }
        ProcessBuilder pb = new ProcessBuilder("bash", runner.toString(), "--config=x");
        pb.environment().put("PATH", bin + File.pathSeparator + System.getenv("PATH"));
        Process p = pb.start();
        List<String> args = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).lines()
                .filter(l -> l.startsWith("ARG:")).map(l -> l.substring(4)).toList();
        assertEquals(0, p.waitFor());
        int jarAt = args.indexOf("-jar");
        assertTrue(jarAt > 0, args.toString());
        assertEquals(new java.util.TreeSet<>(Launch.jvmOptions(List.of())), new java.util.TreeSet<>(args.subList(0, jarAt)),
                "./runner's JVM options are Launch's");
        assertEquals(List.of("target/runner.jar", "--config=x"), args.subList(jarAt + 1, args.size()));
    }

    @Test
    void jvmOptionsAddTheSerialCollectorOnlyWhenNoneWasChosen() {
        List<String> none = Launch.jvmOptions(List.of("-Xmx2g"));
        assertEquals(List.of("-Xmx2g", "-XX:+UseSerialGC", "-Xmn32m", "-Xss4m", "-Dai.djl.offline=true"), none);
        List<String> g1 = Launch.jvmOptions(List.of("-XX:+UseG1GC", "-Xss8m"));
        assertFalse(g1.contains("-XX:+UseSerialGC"));
        assertFalse(g1.contains("-Xmn32m"), "the young generation size belongs to the serial default");
        assertFalse(g1.contains("-Xss4m"));
        assertEquals(1, Launch.jvmOptions(List.of("-Xmn64m")).stream().filter(o -> o.startsWith("-Xmn")).count());
    }

    @Test
    void theCommandRunsThisBuildsMainClass() {
        List<String> cmd = Launch.command(List.of("-Xss4m"));
        assertTrue(cmd.get(0).endsWith("java"), cmd.get(0));
        assertEquals("-Xss4m", cmd.get(1));
        assertTrue(cmd.contains("-jar") || cmd.get(cmd.size() - 1).equals(Main.class.getName()), cmd.toString());
    }

    /** A real child JVM that is not marked: it starts a second one, whose error and exit code come through once. */
    @Test
    void aRelaunchedRunPassesErrorsAndExitCodesThrough(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("x.txt"), "[ModelParams]\nn_heads=2\n\ndimm = 5\n");
        List<String> cmd = new ArrayList<>(Launch.command(List.of()));
        cmd.addAll(List.of("--config=x", "--configs-dir=" + dir));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(false);
        pb.environment().remove(Launch.MARK);
        Process p = pb.start();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the relaunched run finishes");
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(2, p.exitValue(), err);
        List<String> errors = err.lines().filter(l -> l.startsWith("error: ")).toList();
        assertEquals(List.of("error: " + dir.resolve("x.txt") + ":4: unknown key 'dimm' in [ModelParams] (did you mean 'dim'?)"),
                errors, "one line, printed once (by the second JVM), not twice");
        assertFalse(err.contains("at org."), "no stack trace");
    }

    /**
     * {@code java -cp ... Main bench} started bare (no settings in its environment, none on its command line) trains
     * in a second JVM that has them: the benchmark records the process it ran in.
     */
    @Test
    void aBareStartTrainsWithTheSettings(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("bench.json");
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "bench", "--config=test-nlp", "--steps=10", "--json=" + json));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        for (String v : List.of(Launch.MARK, "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "MALLOC_ARENA_MAX")) pb.environment().remove(v);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        String process = com.google.gson.JsonParser.parseString(Files.readString(json)).getAsJsonObject().get("process").getAsString();
        assertTrue(process.contains("GOMP_SPINCOUNT=2000") && process.contains("MALLOC_ARENA_MAX=2"), process);
        assertTrue(process.contains("MarkSweepCompact"), "the serial collector: " + process);
        assertTrue(out.contains("  process                        " + process), out);
        double firstStep = com.google.gson.JsonParser.parseString(Files.readString(json)).getAsJsonObject().get("secondsToFirstStep").getAsDouble();
        assertTrue(firstStep > 0 && firstStep < 120, "timed from the first JVM's start: " + firstStep);
    }

    /**
     * kill -9 of a bare {@code java -jar} (issue 19, item 7) does not leave its relaunched child running: the child
     * (here waiting on the stdin it shares with its parent, which stays open) notices and exits with one line.
     */
    @Test
    void theRelaunchedChildEndsWhenItsParentIsKilled(@TempDir Path dir) throws Exception {
        List<String> cmd = new ArrayList<>(Launch.command(List.of()));
        cmd.addAll(List.of("tokenize", "--tokenizer=gpt2"));
        Path errFile = dir.resolve("err.txt"); // a file: the parent's pipes close when it is destroyed, the child's stay
        // stdin: a FIFO this test keeps open for writing, so the child's read never ends while the test runs
        Path fifo = dir.resolve("stdin");
        assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor());
        java.nio.channels.FileChannel writer = java.nio.channels.FileChannel.open(fifo, java.nio.file.StandardOpenOption.READ,
                java.nio.file.StandardOpenOption.WRITE); // O_RDWR: does not block on a FIFO
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(errFile.toFile()).redirectInput(fifo.toFile());
        pb.environment().remove(Launch.MARK);
        Process parent = pb.start();
        ProcessHandle child = null;
        try {
            for (int i = 0; i < 600 && child == null; i++) {
                child = parent.toHandle().children().findFirst().orElse(null);
                if (child == null) Thread.sleep(100);
            }
            assertTrue(child != null, "the parent relaunched itself");
            Thread.sleep(1000); // the child is up and waiting on stdin
            parent.destroyForcibly(); // SIGKILL: no shutdown hook forwards anything
            assertTrue(parent.waitFor(30, TimeUnit.SECONDS));
            try {
                child.onExit().get(60, TimeUnit.SECONDS);
            } catch (java.util.concurrent.TimeoutException e) {
                throw new AssertionError("the orphaned child is still running 60 s after its parent was killed");
            }
            String err = Files.readString(errFile);
            assertTrue(err.contains("has ended; stopping"), err);
        } finally {
            if (child != null && child.isAlive()) child.destroyForcibly();
            parent.destroyForcibly();
            writer.close();
        }
    }
}
