package org.tinker.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tinker.runs.Checkpoint;
import org.tinker.runs.Namer;
import org.tinker.runs.RunStore;

/**
 * --grid-index, --skip-done, grid-status and --slurm as a user meets them. The real scheduler is exercised by
 * .ci/slurm-test.sh; here sbatch is a stand-in script that records its arguments.
 */
class GridCommandsTest {
    static final String GRID = """
            [DataParams]
            dataset_name = "copy"
            debug_crop = 40
            [TrainParams]
            epochs = 1
            lr = [0.001, 0.003]
            random_seed = [0, 1]
            val_check_epoch_frac = 1.0
            max_sample_tokens = 0
            [ModelParams]
            n_layers = 1
            n_heads = 1
            dim = 8
            tokenizer_source_name = "char"
            max_seq_len = 340
            """;

    static Path configs(Path dir) throws Exception {
        Path c = dir.resolve("configs");
        Files.createDirectories(c);
        Files.writeString(c.resolve("g.txt"), GRID);
        return c;
    }

    static MainTest.Outcome run(String... args) {
        return MainTest.run(args);
    }

    @Test
    void gridIndexSelectsOnePointAndChecksItsRange(@TempDir Path dir) throws Exception {
        Path c = configs(dir);
        MainTest.Outcome o = run("--config=g", "--configs-dir=" + c, "--grid-index=3", "--dry-run");
        assertEquals(0, o.code(), o.err());
        assertTrue(o.out().contains("run 3/4 [g]: lr=0.003 random_seed=0"), o.out());
        assertFalse(o.out().contains("run 1/4") || o.out().contains("run 4/4"), o.out());
        MainTest.Outcome bad = run("--config=g", "--configs-dir=" + c, "--grid-index=5");
        assertEquals(2, bad.code());
        assertEquals("error: --grid-index=5: expected 1..4 (the grid has 4 points)", bad.err().strip());
    }

    @Test
    void skipDoneAndGridStatusFollowTheSavedParams(@TempDir Path dir) throws Exception {
        Path c = configs(dir), saved = dir.resolve("saved");
        String[] common = {"--config=g", "--configs-dir=" + c, "--saved-models=" + saved, "--no-wandb"};
        MainTest.Outcome t = run(concat(common, "--save", "--grid-index=2"));
        assertEquals(0, t.code(), t.err());
        List<RunStore.Run> runs = new RunStore(saved).list();
        assertEquals(1, runs.size());
        String ts = runs.get(0).timestamp();

        MainTest.Outcome s = run("grid-status", "--config=g", "--configs-dir=" + c, "--saved-models=" + saved);
        assertEquals(0, s.code(), s.err());
        assertTrue(s.out().contains("4 points: 1 done, 0 unfinished, 3 missing"), s.out());
        assertTrue(s.out().matches("(?s).*\\n\\s+2  done\\s+" + ts + "\\s+\\d\\.\\d{4}  \\[g\\] lr=0.001 random_seed=1\\n.*"), s.out());
        assertTrue(s.out().matches("(?s).*\\n\\s+1  missing\\s+-\\s+-  \\[g\\] lr=0.001 random_seed=0\\n.*"), s.out());
        assertEquals(3, run("grid-status", "--config=g", "--configs-dir=" + c, "--saved-models=" + saved, "--check").code());

        // --skip-done leaves out exactly the finished point
        MainTest.Outcome d = run(concat(common, "--skip-done", "--dry-run"));
        assertEquals(0, d.code(), d.err());
        assertTrue(d.out().contains("skip run 2/4 [g]: lr=0.001 random_seed=1: done as " + ts), d.out());
        for (int i : new int[] {1, 3, 4}) assertTrue(d.out().contains("  run " + i + "/4"), d.out());
        assertFalse(d.out().contains("  run 2/4"), d.out());
        MainTest.Outcome one = run(concat(common, "--skip-done", "--grid-index=2"));
        assertEquals(0, one.code(), one.err());
        assertTrue(one.out().contains("nothing to run"), one.out());
        assertEquals(1, new RunStore(saved).list().size(), "nothing trained");

        // other params (here one more epoch) are another grid: the saved run does not count for it
        MainTest.Outcome other = run("grid-status", "--config=g", "--configs-dir=" + c, "--saved-models=" + saved, "--set", "tp.epochs=2");
        assertTrue(other.out().contains("0 done, 0 unfinished, 4 missing"), other.out());

        // a run that died before its first checkpoint is unfinished (matched by its log's config line)
        Checkpoint.deleteTree(runs.get(0).dir().resolve(Checkpoint.FINAL));
        MainTest.Outcome u = run("grid-status", "--config=g", "--configs-dir=" + c, "--saved-models=" + saved);
        assertTrue(u.out().contains("0 done, 1 unfinished, 3 missing"), u.out());
        assertTrue(u.out().matches("(?s).*\\n\\s+2  unfinished\\s+" + ts + "\\s+-  .*"), u.out());
        MainTest.Outcome again = run(concat(common, "--skip-done", "--dry-run"));
        assertTrue(again.out().contains("  run 2/4"), "an unfinished point runs again: " + again.out());
    }

    @Test
    void slurmWritesAnArrayScriptAndSubmitsItWithSbatch(@TempDir Path dir) throws Exception {
        Path c = configs(dir), saved = dir.resolve("saved");
        Path record = dir.resolve("sbatch-args.txt");
        Path fake = dir.resolve("fake-sbatch");
        Files.writeString(fake, "#!/bin/sh\necho \"$@\" > '" + record + "'\necho 4242\n");
        fake.toFile().setExecutable(true);
        MainTest.Outcome o = run("--config=g", "--configs-dir=" + c, "--saved-models=" + saved, "--save", "--no-wandb", "--slurm",
                "--slurm-args", "--time=1:00:00 --cpus-per-task=2", "--set", "mp.dim=[8, 16]", "--sbatch=" + fake);
        assertEquals(0, o.code(), o.err());
        assertTrue(o.out().contains("submitted array job 4242 (8 tasks)"), o.out());
        Path script;
        try (Stream<Path> s = Files.walk(saved.resolve("g/slurm"))) {
            script = s.filter(p -> p.getFileName().toString().equals("grid.sbatch")).findFirst().orElseThrow();
        }
        assertEquals("--parsable " + script.toAbsolutePath(), Files.readString(record).strip());
        String text = Files.readString(script);
        assertTrue(text.contains("#SBATCH --array=1-8\n"), text);
        assertTrue(text.contains("#SBATCH --time=1:00:00\n#SBATCH --cpus-per-task=2\n"), text);
        assertTrue(text.contains("#SBATCH --output=" + script.getParent().toAbsolutePath() + "/task-%a.log\n"), text);
        String exec = text.lines().filter(l -> l.startsWith("exec ")).findFirst().orElseThrow();
        assertTrue(exec.endsWith(" --grid-index=\"$SLURM_ARRAY_TASK_ID\""), exec);
        assertTrue(exec.contains(" --save ") && exec.contains(" --no-wandb ") && exec.contains(" --set 'mp.dim=[8, 16]' "), exec);
        assertTrue(exec.contains(" --configs-dir=" + script.getParent().toAbsolutePath().resolve("configs")), exec);
        assertFalse(exec.contains("--slurm") || exec.contains("--sbatch") || exec.contains("--time="), exec);
        assertTrue(Files.isRegularFile(script.getParent().resolve("configs/g.txt")), "the config is kept with the submission");
        assertTrue(new RunStore(saved).list().isEmpty(), "the submission folder is not a run");

        // no sbatch: the script is written and the user told how to submit it
        MainTest.Outcome n = run("--config=g", "--configs-dir=" + c, "--saved-models=" + saved, "--save", "--slurm", "--sbatch=none");
        assertEquals(0, n.code(), n.err());
        assertTrue(n.out().contains("sbatch is not on the PATH: submit it on a SLURM login node with"), n.out());
        assertTrue(n.out().contains("  sbatch " + saved.toAbsolutePath()), n.out());
        MainTest.Outcome both = run("--config=g", "--configs-dir=" + c, "--slurm", "--grid-index=1", "--sbatch=none");
        assertEquals(2, both.code());
    }

    @Test
    void slurmWithSkipDoneSubmitsOnlyWhatIsMissing(@TempDir Path dir) throws Exception {
        Path c = configs(dir), saved = dir.resolve("saved");
        String[] common = {"--config=g", "--configs-dir=" + c, "--saved-models=" + saved, "--no-wandb", "--save"};
        assertEquals(0, run(concat(common, "--grid-index=2")).code());
        MainTest.Outcome o = run(concat(common, "--slurm", "--skip-done", "--sbatch=none"));
        assertEquals(0, o.code(), o.err());
        assertTrue(o.out().contains("(3 of 4 grid points: 1,3-4)"), o.out());
        String script = Files.readString(Path.of(o.out().replaceAll("(?s).*SLURM array script: (\\S+).*", "$1")));
        assertTrue(script.contains("#SBATCH --array=1,3-4\n"), script);
        assertTrue(script.contains(" --skip-done "), "tasks check again, in case a point finished meanwhile");
    }

    @Test
    void gpuListsWithoutAGpuAreAClearError() {
        for (String ids : new String[] {"0,1", "all"}) {
            MainTest.Outcome o = run("--config=test-grid", "--gpu-id=" + ids, "--no-wandb");
            assertEquals(2, o.code());
            assertTrue(o.err().startsWith("error: --gpu-id=" + ids + ": no CUDA device is visible"), o.err());
        }
    }

    @Test
    void arraySpecsAndTaskArguments() {
        assertEquals("1-3,5,7-8", Slurm.arraySpec(List.of(1, 2, 3, 5, 7, 8)));
        assertEquals("4", Slurm.arraySpec(List.of(4)));
        assertEquals(List.of("--config=x", "--set", "tp.lr=[1,2]", "--configs-dir=/s"),
                Slurm.taskArgs(List.of("--config=x", "--slurm", "--slurm-args", "--time=5", "--set", "tp.lr=[1,2]", "--grid-index", "3",
                        "--configs-dir=configs", "--sbatch=none", "--dry-run"), Path.of("/s")));
        assertEquals("'a b'", Slurm.quote("a b"));
        assertEquals("'it'\\''s'", Slurm.quote("it's"));
        assertEquals("--save", Slurm.quote("--save"));
    }

    @Test
    void timestampsAreClaimedOnce(@TempDir Path dir) {
        String a = Namer.claimTimestamp(dir), b = Namer.claimTimestamp(dir);
        assertNotEquals(a, b);
        assertTrue(Files.isRegularFile(dir.resolve(".timestamps").resolve(a)));
        assertTrue(Files.isRegularFile(dir.resolve(".timestamps").resolve(b)));
    }

    static String[] concat(String[] a, String... b) {
        return Stream.concat(Stream.of(a), Stream.of(b)).toArray(String[]::new);
    }
}
