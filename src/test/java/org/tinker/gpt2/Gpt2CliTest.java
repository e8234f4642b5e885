package org.tinker.gpt2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.tinker.gpt2.Gpt2Fixtures.maxAbsDiff;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tinker.cli.Main;
import org.tinker.engine.SafeTensors;
import org.tinker.explore.LoadedRun;
import org.tinker.explore.Runs;
import org.tinker.train.Experiment;
import org.tinker.train.TestRuns;
import org.tinker.train.Trainer;

/** runner logits / export / lora-merge end to end. */
class Gpt2CliTest {
    @Test
    void logitsCommandWritesFixtureExactOutputs(@TempDir Path tmp) {
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> ref = SafeTensors.read(Gpt2Fixtures.randomGpt2().resolve("logits.safetensors"), m);
            Map<String, NDArray> hs = SafeTensors.read(Gpt2Fixtures.randomGpt2().resolve("hidden_states.safetensors"), m);
            StringBuilder ids = new StringBuilder();
            for (long id : ref.get("input_ids_0").toLongArray()) ids.append(ids.length() == 0 ? "" : ",").append(id);
            Path out = tmp.resolve("out.safetensors");
            assertEquals(0, Main.run("logits", "--pretrained", Gpt2Fixtures.randomGpt2Bin().toString(), "--ids", ids.toString(),
                    "--dtype", "float64", "--out", out.toString()));
            Map<String, NDArray> got = SafeTensors.read(out, m);
            assertTrue(maxAbsDiff(got.get("logits"), ref.get("logits_0")) <= 1e-10);
            for (int i = 0; i <= 3; i++) assertTrue(maxAbsDiff(got.get("hidden_states." + i), hs.get("h" + i)) <= 1e-10, "h" + i);
            // float32 from an ids file
            Path idsFile = tmp.resolve("ids.txt");
            Files.writeString(tmp.resolve("ids.txt"), ids.toString().replace(",", " ") + "\n");
            assertEquals(0, Main.run("logits", "--pretrained", Gpt2Fixtures.randomGpt2().toString(), "--ids-file", idsFile.toString(),
                    "--out", out.toString()));
            assertTrue(maxAbsDiff(SafeTensors.read(out, m).get("logits"), ref.get("logits_0")) <= 2e-6);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        // user mistakes: exit 2
        assertEquals(2, Main.run("logits", "--pretrained", Gpt2Fixtures.malicious().toString(), "--ids", "1,2", "--out", tmp.resolve("x").toString()));
        assertEquals(2, Main.run("logits", "--pretrained", Gpt2Fixtures.randomGpt2().toString(), "--ids", "1,5000", "--out", tmp.resolve("x").toString()));
        assertEquals(2, Main.run("logits", "--pretrained", tmp.resolve("nothing").toString(), "--ids", "1", "--out", tmp.resolve("x").toString()));
    }

    @Test
    void loraRunMergesAndExports(@TempDir Path saved) throws Exception {
        String cfg = TestRuns.set(Gpt2FineTuneTest.config(2), "debug_crop", "8", "epochs", "1");
        Trainer.Result r = Experiment.run(TestRuns.spec(cfg), Experiment.Setup.quiet(Path.of("."), saved, true));
        String ts = r.finalCheckpoint().getParent().getFileName().toString();
        assertEquals(0, Main.run("lora-merge", "--timestamp", ts, "--saved-models", saved.toString()));
        Runs runs = new Runs(saved, Path.of("."), Device.cpu());
        try (LoadedRun lora = runs.get(ts, "final", false); LoadedRun merged = runs.get(ts, "merged", false);
             NDManager m = NDManager.newBaseManager()) {
            assertTrue(lora.lm().hasLora());
            assertTrue(!merged.lm().hasLora());
            NDArray ids = m.create(new long[] {50256, 464, 3290, 318});
            assertTrue(maxAbsDiff(lora.lm().forward(ids).logits(), merged.lm().forward(ids).logits()) < 1e-5);
        }
        Path out = saved.resolve("hf");
        assertEquals(0, Main.run("export", "--timestamp", ts, "--saved-models", saved.toString(), "--out", out.toString()));
        assertTrue(Files.isRegularFile(out.resolve("merges.txt")));
        try (NDManager m = NDManager.newBaseManager(); var back = Gpt2Pretrained.load(out, m);
             LoadedRun merged = runs.get(ts, "merged", false)) {
            NDArray ids = m.create(new long[] {50256, 464, 3290, 318});
            assertEquals(0.0, maxAbsDiff(back.forward(ids).logits(), merged.lm().forward(ids).logits()));
        }
    }
}
