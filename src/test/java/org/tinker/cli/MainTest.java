package org.tinker.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tinker.runs.RunStore;

/** The command line as a user meets it: exit codes, one-line errors, a real train → list → verify. */
class MainTest {
    record Outcome(int code, String out, String err) {}

    static synchronized Outcome run(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = Main.run(args);
            return new Outcome(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    @Test
    void badConfigIsOneLineExitTwoNoStackTrace(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("x.txt"), "[ModelParams]\nn_heads=2\n\ndimm = 5\n");
        Outcome o = run("--config=x", "--configs-dir=" + dir);
        assertEquals(2, o.code());
        assertEquals("error: " + dir.resolve("x.txt") + ":4: unknown key 'dimm' in [ModelParams] (did you mean 'dim'?)", o.err().strip());
        assertFalse(o.err().contains("at org."), "no stack trace");
    }

    @Test
    void badRecipeOrCallbackIsOneErrorLine(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("r.txt"), "[ModelParams]\nn_heads=2\nrecipes = \"sharpen(2)\"\n");
        Outcome o = run("--config=r", "--configs-dir=" + dir, "--no-wandb");
        assertEquals(2, o.code());
        assertEquals(1, o.err().strip().lines().count(), o.err());
        assertTrue(o.err().startsWith("error: " + dir.resolve("r.txt") + ":3: recipes=\"sharpen(2)\" in [ModelParams]: expected "), o.err());
        assertTrue(o.err().contains("unknown recipe 'sharpen': known are relu_after_layer(l)"), o.err());

        Files.writeString(dir.resolve("c.txt"), "[TrainParams]\ncallbacks = \"corrupt_inputs\"\n");
        o = run("--config=c", "--configs-dir=" + dir, "--no-wandb");
        assertEquals(2, o.code());
        assertEquals("error: " + dir.resolve("c.txt") + ":2: callbacks=\"corrupt_inputs\" in [TrainParams]: expected ';'-separated callbacks"
                + " name(numbers), but corrupt_inputs(frac) takes 1 argument(s), got corrupt_inputs", o.err().strip());
    }

    @Test
    void unknownFlagAndMissingConfigAreUserErrors(@TempDir Path dir) {
        Outcome o = run("--confg=x");
        assertEquals(2, o.code());
        assertTrue(o.err().contains("--confg=x"), o.err());
        Outcome m = run("--config=nope", "--configs-dir=" + dir);
        assertEquals(2, m.code());
        assertTrue(m.err().contains("nope.txt: no such config"), m.err());
        Outcome g = run("--config=nope", "--configs-dir=" + dir, "--set", "mp.dim");
        assertEquals(2, g.code());
    }

    @Test
    void gpuIdWithoutAGpuIsAClearError() throws Exception {
        Outcome o = run("--config=test-synth", "--gpu-id=0", "--no-wandb");
        assertEquals(2, o.code());
        assertTrue(o.err().contains("--gpu-id=0: no CUDA device"), o.err());
    }

    @Test
    void dryRunPrintsTheGridInOrder() {
        Outcome o = run("--config=test-synth", "--dry-run", "--set", "tp.lr=[0.001,0.003]");
        assertEquals(0, o.code(), o.err());
        assertTrue(o.out().contains("4 runs"), o.out());
        assertTrue(o.out().contains("run 1/4 [test-synth]: lr=0.001 layer_architecture=torch-transformer"), o.out());
        assertTrue(o.out().contains("run 4/4 [test-synth]: lr=0.003 layer_architecture=custom-transformer"), o.out());
    }

    @Test
    void helpDocumentsEveryFlag() {
        Outcome o = run("--help");
        assertEquals(0, o.code());
        for (String f : new String[] {"--config", "--task", "--save", "--no-wandb", "--wandb-proj-name", "--ablate", "--gpu-id", "--set",
                "list", "verify", "resume", "tokenize"})
            assertTrue(o.out().contains(f), f);
    }

    @Test
    void everySubcommandAnswersHelp() {
        for (String sub : new String[] {"list", "verify", "resume", "tokenize", "params", "bench", "grid-status", "logits", "export",
                "lora-merge", "perplexity", "wandb-sync", "checkpoints", "sample", "plot-metrics", "attentions", "logit-lens"}) {
            Outcome o = run(sub, "--help");
            assertEquals(0, o.code(), sub + ": " + o.err());
            assertTrue(o.out().contains("Usage: runner " + sub), sub + ": " + o.out());
        }
    }

    @Test
    void trainSaveListVerifyEndToEnd(@TempDir Path dir) throws Exception {
        Path configs = dir.resolve("configs");
        Files.createDirectories(configs);
        Files.writeString(configs.resolve("tiny.txt"), """
                [DataParams]
                dataset_name = "copy"
                debug_crop = 120
                [TrainParams]
                epochs = 1
                batch_size = 16
                val_check_epoch_frac = 1.0
                [ModelParams]
                n_layers = 1
                n_heads = 2
                dim = 16
                max_seq_len = 140
                tokenizer_source_name = "char"
                """);
        Path saved = dir.resolve("saved");
        Outcome t = run("--config=tiny", "--configs-dir=" + configs, "--saved-models=" + saved, "--save", "--no-wandb");
        assertEquals(0, t.code(), t.err());
        assertTrue(t.out().contains("sample:"), "prints a sample after validation");
        String ts = new RunStore(saved).list().get(0).timestamp();
        Outcome l = run("list", "--saved-models=" + saved);
        assertTrue(l.out().contains(ts) && l.out().contains("tiny") && l.out().contains("copy"), l.out());
        Outcome v = run("verify", "--timestamp=" + ts, "--saved-models=" + saved);
        assertEquals(0, v.code(), v.out() + v.err());
        assertTrue(v.out().contains("verify: OK"));
        Outcome bad = run("verify", "--timestamp=1999-01-01--00-00-00", "--saved-models=" + saved);
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("no saved run with timestamp 1999-01-01--00-00-00"), bad.err());
    }

    @Test
    void tokenizeWritesIdsPerLine() throws Exception {
        var oldIn = System.in;
        try {
            System.setIn(new java.io.ByteArrayInputStream("{\"text\": \"Hello world\"}\n".getBytes(StandardCharsets.UTF_8)));
            Outcome o = run("tokenize", "--tokenizer=gpt2");
            assertEquals(0, o.code(), o.err());
            assertEquals("{\"text\":\"Hello world\",\"ids\":[15496,995]}", o.out().strip());
        } finally {
            System.setIn(oldIn);
        }
    }
}
