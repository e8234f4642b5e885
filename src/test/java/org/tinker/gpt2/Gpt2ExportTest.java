package org.tinker.gpt2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.tinker.gpt2.Gpt2Fixtures.maxAbsDiff;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tinker.config.ConfigError;
import org.tinker.config.ModelParams;
import org.tinker.data.Gpt2Tokenizer;
import org.tinker.engine.SafeTensors;
import org.tinker.explore.SlidingPerplexity;
import org.tinker.model.LM;
import org.tinker.model.WithBaseManager;

/** Export to the HF layout and back; sliding-window perplexity. */
class Gpt2ExportTest extends WithBaseManager {

    @Test
    void exportWritesTheHfFileExactlyAndReimportsToTheSameLogits(@TempDir Path tmp) {
        Path out = tmp.resolve("export");
        try (NDManager m = base.newSubManager(); LM lm = Gpt2Pretrained.load(Gpt2Fixtures.randomGpt2(), m)) {
            var r = Gpt2Export.export(lm, Gpt2Tokenizer.full(), out);
            assertTrue(r.tokenizerFiles());
            // the same keys, shapes and bits as the original save_pretrained file
            Map<String, NDArray> orig = SafeTensors.read(Gpt2Fixtures.randomGpt2().resolve("model.safetensors"), m);
            Map<String, NDArray> mine = SafeTensors.read(out.resolve("model.safetensors"), m);
            assertEquals(orig.keySet(), mine.keySet());
            for (String k : orig.keySet()) assertEquals(0.0, maxAbsDiff(orig.get(k), mine.get(k)), k);
            Gpt2Config c = Gpt2Pretrained.config(out);
            assertEquals(Gpt2Pretrained.config(Gpt2Fixtures.randomGpt2()).mp(), c.mp());
            try (LM back = Gpt2Pretrained.load(out, m)) {
                NDArray ids = m.create(new long[] {0, 999, 5, 17, 400, 3});
                assertEquals(0.0, maxAbsDiff(lm.forward(ids).logits(), back.forward(ids).logits()));
            }
            assertTrue(Files.isRegularFile(out.resolve("vocab.json")) && Files.isRegularFile(out.resolve("merges.txt")));
            var tok = Gpt2Pretrained.tokenizer(out, 50257);
            org.junit.jupiter.api.Assertions.assertArrayEquals(new int[] {15496, 995}, tok.encode("Hello world"));
        }
    }

    @Test
    void aTinkerModelOfGpt2ArchitectureRoundTrips(@TempDir Path tmp) {
        ModelParams mp = ModelParams.DEFAULTS.with("n_layers", 2).with("n_heads", 2).with("dim", 8)
                .with("dim_ff_factor", 3).with("max_seq_len", 16).with("tokenizer_source_name", "gpt2")
                .with("layer_architecture", "custom-transformer").with("norm_first", true)
                .with("activation", "gelu_new");
        try (NDManager m = base.newSubManager(); LM lm = new LM(mp, 50, m, 5)) {
            Gpt2Export.export(lm, Gpt2Tokenizer.cropped(java.util.List.of("a b")), tmp.resolve("e"));
            assertTrue(Files.isRegularFile(tmp.resolve("e/tinker_tokenizer.json")));
            try (LM back = Gpt2Pretrained.load(tmp.resolve("e"), m)) {
                assertTrue(back.parameters().containsKey(LM.LM_HEAD), "untied head exported as lm_head.weight");
                NDArray ids = m.create(new long[] {1, 2, 3, 49});
                assertEquals(0.0, maxAbsDiff(lm.forward(ids).logits(), back.forward(ids).logits()));
            }
        }
        ModelParams postNorm = ModelParams.DEFAULTS.with("n_layers", 1).with("n_heads", 1).with("dim", 8)
                .with("max_seq_len", 16).with("tokenizer_source_name", "gpt2").with("tie_embed_deembed", true);
        try (NDManager m = base.newSubManager(); LM lm = new LM(postNorm, 50, m, 5)) {
            ConfigError e = assertThrows(ConfigError.class, () -> Gpt2Export.export(lm, Gpt2Tokenizer.full(), tmp.resolve("x")));
            assertTrue(e.getMessage().contains("norm_first"), e.getMessage());
        }
        // a model with recipes computes something an HF GPT-2 with its weights would not
        try (NDManager m = base.newSubManager(); LM lm = new LM(mp.with("recipes", "square_mlp_output"), 50, m, 5)) {
            ConfigError e = assertThrows(ConfigError.class, () -> Gpt2Export.export(lm, Gpt2Tokenizer.full(), tmp.resolve("y")));
            assertTrue(e.getMessage().contains("recipes=\"square_mlp_output\""), e.getMessage());
            assertTrue(!Files.exists(tmp.resolve("y")), "nothing written");
        }
    }

    @Test
    void slidingWindowPerplexityScoresEveryTokenOnce() {
        try (NDManager m = base.newSubManager(); LM lm = Gpt2Pretrained.load(Gpt2Fixtures.randomGpt2(), m, DataType.FLOAT64, null)) {
            Random r = new Random(1);
            int[] ids = new int[300];
            for (int i = 0; i < ids.length; i++) ids[i] = r.nextInt(1000);
            for (int stride : new int[] {32, 64, 127}) {
                var res = SlidingPerplexity.compute(lm, ids, 128, stride);
                assertEquals(299, res.tokens(), "stride " + stride);
            }
            // one window covering everything = the plain loss of the whole sequence
            int[] shortIds = java.util.Arrays.copyOf(ids, 100);
            var one = SlidingPerplexity.compute(lm, shortIds, 128, 64);
            long[] l = new long[100];
            for (int i = 0; i < 100; i++) l[i] = shortIds[i];
            double loss = lm.loss(m.create(l).expandDims(0), m.ones(new ai.djl.ndarray.types.Shape(1, 99))).loss().getDouble();
            assertEquals(loss, one.natsPerToken(), 1e-12);
            // stride = max_length: disjoint windows; as in the HF guide, each window's first token is not predicted
            var disjoint = SlidingPerplexity.compute(lm, ids, 128, 128);
            assertEquals(3, disjoint.windows());
            assertEquals(297, disjoint.tokens());
            // more context (smaller stride) does not score the same as none
            assertTrue(Math.abs(SlidingPerplexity.compute(lm, ids, 128, 16).nll() - disjoint.nll()) > 1e-9);
        }
    }
}
