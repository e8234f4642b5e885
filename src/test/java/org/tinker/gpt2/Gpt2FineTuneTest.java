package org.tinker.gpt2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.tinker.gpt2.Gpt2Fixtures.maxAbsDiff;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tinker.config.RunSpec;
import org.tinker.data.DataModule;
import org.tinker.data.Gpt2Tokenizer;
import org.tinker.model.Evaluation;
import org.tinker.model.LM;
import org.tinker.train.Experiment;
import org.tinker.train.TestRuns;
import org.tinker.train.Trainer;

/** from_os_pretrained fine-tuning through the normal trainer, and LoRA. */
class Gpt2FineTuneTest {
    static final Path ROOT = Path.of(".");

    static String config(int loraRank) {
        return """
                [DataParams]
                dataset_name = "ptb"
                debug_crop = 24
                [TrainParams]
                batch_size = 8
                epochs = 2
                lr = 5e-2
                lr_warm_steps = 2
                val_check_epoch_frac = 1.0
                max_sample_tokens = 3
                dropout = 0.0
                random_seed = 3
                lora_rank = %d
                lora_std = 0.1
                [ModelParams]
                n_layers = 1
                dim = 16
                n_heads = 2
                max_seq_len = 64
                tokenizer_source_name = "char"
                from_os_pretrained = "%s"
                """.formatted(loraRank, Gpt2Fixtures.tinyGpt2().toString().replace("\\", "\\\\"));
    }

    static LinkedHashMap<String, NDArray> copy(Map<String, NDArray> p, NDManager m) {
        LinkedHashMap<String, NDArray> c = new LinkedHashMap<>();
        p.forEach((k, v) -> {
            NDArray d = v.duplicate();
            d.attach(m);
            c.put(k, d);
        });
        return c;
    }

    @Test
    void theRunsOwnFieldsSurviveTheCheckpointsArchitecture(@TempDir Path saved) {
        // the checkpoint decides the architecture; the run keeps what is its own: recipes, layer_architecture, ...
        RunSpec spec = TestRuns.spec(config(0) + "layer_architecture = \"custom-transformer\"\nrecipes = \"scale_attention_scores(2)\"\n");
        try (Experiment.Prepared p = Experiment.prepare(spec, Experiment.Setup.quiet(ROOT, saved, false), null)) {
            assertEquals("scale_attention_scores(2)", p.spec().mp().recipes());
            assertEquals(1, p.lm().recipes().size(), "the model runs the recipe");
            assertEquals("custom-transformer", p.spec().mp().layer_architecture().spelling());
            assertEquals("layernorm", p.spec().mp().norm().spelling());
            assertEquals(2, p.spec().mp().n_layers());
        }
    }

    @Test
    void fineTuningTheTinyCheckpointOnPtbLowersTheLoss(@TempDir Path saved) {
        RunSpec spec = TestRuns.spec(config(0));
        try (Experiment.Prepared p = Experiment.prepare(spec, Experiment.Setup.quiet(ROOT, saved, false), null)) {
            // the checkpoint's architecture and the full GPT-2 tokenizer replace the config's
            assertEquals(2, p.spec().mp().n_layers());
            assertEquals(2, p.spec().mp().dim());
            assertEquals(1024, p.spec().mp().max_seq_len());
            assertEquals("gelu_new", p.spec().mp().activation().spelling());
            assertEquals("gpt2", p.spec().mp().tokenizer_source_name().spelling());
            assertTrue(p.tokenizer() instanceof Gpt2Tokenizer g && !g.isCropped());
            assertEquals(50257, p.lm().vocabSize());
            double before = Evaluation.evaluate(p.lm(), p.data(), DataModule.Split.VALID, 8)[0];
            Trainer t = new Trainer(p.spec(), p.lm(), p.data(), new Trainer.Options(saved, false, List.of(), System.out, false));
            Trainer.Result r = t.train();
            System.out.printf("fine-tune tiny-gpt2 on ptb: val loss %.4f -> %.4f%n", before, r.finalValLoss());
            assertTrue(r.finalValLoss() < before - 0.05, "val loss " + before + " -> " + r.finalValLoss());
        }
    }

    @Test
    void loraTrainsOnlyTheAdaptersAndMergesToTheSameLogits(@TempDir Path saved) {
        RunSpec spec = TestRuns.spec(config(2));
        try (Experiment.Prepared p = Experiment.prepare(spec, Experiment.Setup.quiet(ROOT, saved, false), null);
             NDManager m = p.manager().newSubManager()) {
            LM lm = p.lm();
            assertTrue(lm.hasLora());
            Map<String, NDArray> base0 = copy(lm.parameters(), m);
            Map<String, NDArray> lora0 = copy(lm.trainableParameters(), m);
            assertTrue(lora0.keySet().stream().allMatch(k -> k.contains(".lora_")));
            assertTrue(lora0.containsKey(LM.WTE + ".lora_A") && lora0.containsKey("transformer.ln_f.bias.lora_delta"));
            assertFalse(lora0.keySet().stream().anyMatch(k -> k.startsWith(LM.LM_HEAD)), "tied head: no adapter of its own");
            NDArray ids = m.create(new long[] {50256, 464, 3290, 318, 257, 1332, 13});
            NDArray plain = lm.forward(ids).logits();
            double before = Evaluation.evaluate(lm, p.data(), DataModule.Split.VALID, 8)[0];
            Trainer.Result r = new Trainer(p.spec(), lm, p.data(), new Trainer.Options(saved, false, List.of(), System.out, false)).train();
            System.out.printf("LoRA r=2 on tiny-gpt2: val loss %.4f -> %.4f%n", before, r.finalValLoss());
            assertTrue(r.finalValLoss() < before, "LoRA val loss " + before + " -> " + r.finalValLoss());
            // the base weights did not move, every adapter matrix B did
            for (var e : lm.parameters().entrySet()) assertEquals(0.0, maxAbsDiff(e.getValue(), base0.get(e.getKey())), e.getKey());
            assertTrue(maxAbsDiff(lm.trainableParameters().get(LM.WTE + ".lora_B"), lora0.get(LM.WTE + ".lora_B")) > 0);
            NDArray adapted = lm.forward(ids).logits();
            assertTrue(maxAbsDiff(adapted, plain) > 1e-4, "training changed the model");
            lm.mergeLora();
            assertFalse(lm.hasLora());
            assertFalse(lm.parameters().containsKey(LM.LM_HEAD));
            NDArray merged = lm.forward(ids).logits();
            double diff = maxAbsDiff(merged, adapted);
            assertTrue(diff < 1e-5, "merged logits differ by " + diff);
        }
    }
}
