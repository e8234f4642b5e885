package org.tinker.model;

import static org.junit.jupiter.api.Assertions.*;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.tinker.config.ConfigError;
import org.tinker.config.ConfigFile;
import org.tinker.config.Grid;
import org.tinker.config.ModelParams;
import org.tinker.model.flexi.FlexiSpec;
import org.tinker.model.flexi.FlexiTransformer;

/** FlexiBERT-style heterogeneous layers: every operation, widths, model_dict parsing, causality. */
class FlexiTest extends WithBaseManager {
    static final String MINI = "{'l': 4, 'o': ['sa', 'sa', 'l', 'c'], 'h': [16, 16, 8, 12], 'n': [2, 4, 2, 3], "
            + "'f': [[32, 24], [16], [8, 8, 8], [12]], 'p': ['sdp', 'wma', 'dft', 5]}";

    static ModelParams flexi(String dict) {
        return Tiny.params("flexi").with("model_dict", dict);
    }

    static List<ModelParams> configs() {
        return List.of(
                flexi(MINI),
                flexi(MINI).with("norm_first", true).with("norm", "rmsnorm"),
                flexi("{'l': 3, 'o': ['l', 'c', 'sa'], 'h': [8, 16, 16], 'n': [1, 4, 2], 'f': [[16], [16], [16]], 'p': ['dct', 9, 'sdp']}"),
                flexi("{'l': 2, 'o': ['c', 'l'], 'h': [16, 16], 'n': [2, 2], 'f': [[16], [16]], 'p': [13, 'dft']}")
                        .with("tie_embed_deembed", true).with("pos_encoding", "none"));
    }

    @ParameterizedTest(name = "{index}: {0}")
    @MethodSource("configs")
    void futureTokensDoNotChangePastLogits(ModelParams mp) {
        try (LM lm = new LM(mp, Tiny.V, base, 3); NDManager step = base.newSubManager()) {
            lm.parameters().forEach((n, p) -> { if (p.getShape().dimension() == 2 && !n.endsWith("wma")) p.muli(10f); });
            CausalityTest.assertCausal(ids -> lm.forward(ids).logits(), step, mp.model_dict().text());
        }
    }

    @Test
    void layoutFollowsTheModelDict() {
        try (LM lm = new LM(flexi(MINI), Tiny.V, base, 3); NDManager step = base.newSubManager()) {
            Map<String, NDArray> p = lm.parameters();
            assertEquals(new Shape(32, 16), p.get("flexi.0.ff.0.weight").getShape());
            assertEquals(new Shape(24, 32), p.get("flexi.0.ff.1.weight").getShape(), "two stacked FF layers");
            assertEquals(new Shape(16, 24), p.get("flexi.0.ff.out.weight").getShape());
            assertEquals(new Shape(4, 4), p.get("flexi.1.attn.wma").getShape(), "wma: head × head");
            assertTrue(Tiny.scalar(p.get("flexi.1.attn.wma").abs().max()) <= 0.1, "U(-0.1, 0.1)");
            assertEquals(new Shape(8, 16), p.get("flexi.1.proj_head.weight").getShape(), "16 → 8 between layers 1 and 2");
            assertEquals(new Shape(12, 8), p.get("flexi.2.proj_head.weight").getShape());
            assertFalse(p.containsKey("flexi.0.proj_head.weight"), "same width: no projection");
            assertTrue(p.keySet().stream().noneMatch(n -> n.startsWith("flexi.2.attn") || n.startsWith("flexi.2.conv")), "'l' has no parameters");
            assertEquals(new Shape(3, 5), p.get("flexi.3.conv.kernel").getShape(), "3 heads × kernel 5");
            assertEquals(new Shape(Tiny.V, 12), p.get(LM.LM_HEAD).getShape());
            NDArray ids = Tiny.randomIds(step, 1, 2, 7);
            assertEquals(new Shape(2, 7, Tiny.V), lm.forward(ids).logits().getShape());
            NDArray mask = step.ones(new Shape(2, 6), DataType.FLOAT32);
            try (GradientCollector gc = base.getEngine().newGradientCollector()) {
                gc.backward(lm.loss(ids, mask).loss());
            }
            for (String n : List.of("flexi.1.attn.wma", "flexi.3.conv.kernel", "flexi.1.proj_head.weight", LM.WTE))
                try (NDArray g = p.get(n).getGradient()) {
                    assertTrue(Tiny.scalar(g.abs().sum()) > 0, n);
                }
            lm.zeroGradients();
        }
    }

    /** The causal DFT and DCT layers against their definitions, summed in plain Java. */
    @Test
    void linearTransformsMatchTheirCausalDefinitions() throws Exception {
        int t = 5, h = 4, n = Tiny.MAX_T;
        ModelParams mp = flexi("{'l': 2, 'o': ['l', 'l'], 'h': [4, 4], 'n': [1, 1], 'f': [[4], [4]], 'p': ['dft', 'dct']}");
        try (LM lm = new LM(mp, Tiny.V, base, 3); NDManager m = base.newSubManager()) {
            var body = new FlexiTransformer(mp, Tiny.V, m, DataType.FLOAT64);
            double[] x = new double[t * h];
            Random r = new Random(1);
            for (int i = 0; i < x.length; i++) x[i] = r.nextGaussian();
            NDArray xs = m.create(x, new Shape(1, t, h));
            var method = body.getClass().getDeclaredMethod("linearTransform", String.class, NDArray.class);
            method.setAccessible(true);
            double[] dft = ((NDArray) method.invoke(body, "dft", xs)).toDoubleArray();
            double[] dct = ((NDArray) method.invoke(body, "dct", xs)).toDoubleArray();
            for (int q = 0; q < t; q++)
                for (int c = 0; c < h; c++) {
                    double re = 0, cos = 0;
                    for (int s = 0; s <= q; s++)
                        for (int d = 0; d < h; d++) {
                            double angle = -2 * Math.PI * ((double) q * s / n + (double) d * c / h); // e^{-i(...)}: real part
                            re += x[s * h + d] * Math.cos(angle);
                            cos += x[s * h + d] * Math.cos(Math.PI * (s + 0.5) * q / n)
                                    * Math.cos(Math.PI * (d + 0.5) * c / h) * Math.sqrt((c == 0 ? 1.0 : 2.0) / h);
                        }
                    assertEquals(re / Math.sqrt(q + 1) / Math.sqrt(h), dft[q * h + c], 1e-9, "dft " + q + "," + c);
                    assertEquals(cos / Math.sqrt(q + 1), dct[q * h + c], 1e-9, "dct " + q + "," + c);
                }
        }
    }

    @Test
    void generationFallsBackToFullRecomputation() {
        try (LM lm = new LM(configs().get(2), Tiny.V, base, 5)) {
            assertFalse(lm.hasBlocks());
            int[] cached = Generation.sample(lm, new int[] {1, 2}, 8, 0, null, null, -1, new Random(0), true);
            int[] full = Generation.sample(lm, new int[] {1, 2}, 8, 0, null, null, -1, new Random(0), false);
            assertArrayEquals(full, cached);
            assertThrows(IllegalArgumentException.class, () -> new KVCache(lm));
        }
    }

    @Test
    void modelDictIsAConfigValueAndMistakesFailClearly() {
        var spec = Grid.expand(List.of(ConfigFile.parse("configs/f.txt",
                "[ModelParams]\nlayer_architecture = \"flexi\"\nmodel_dict = \"" + MINI + "\"\n")), List.of(), null, false).get(0);
        FlexiSpec f = FlexiSpec.of(spec.mp());
        assertEquals(List.of("sa", "sa", "l", "c"), f.ops());
        assertArrayEquals(new int[] {16, 16, 8, 12}, f.hidden());
        assertEquals(5, f.kernel(3));
        String[][] bad = {
                {"{'l': 2, 'o': ['sa'], 'h': [8, 8], 'n': [2, 2], 'f': [[8], [8]], 'p': ['sdp', 'sdp']}", "'o' has 1 entries, expected l=2"},
                {"{'l': 1, 'o': ['x'], 'h': [8], 'n': [2], 'f': [[8]], 'p': ['sdp']}", "operation 'sa', 'l' or 'c'"},
                {"{'l': 1, 'o': ['sa'], 'h': [8], 'n': [2], 'f': [[8]], 'p': ['dct']}", "'sa' takes p = 'sdp' or 'wma'"},
                {"{'l': 1, 'o': ['l'], 'h': [8], 'n': [2], 'f': [[8]], 'p': ['sdp']}", "'l' takes p = 'dft' or 'dct'"},
                {"{'l': 1, 'o': ['sa'], 'h': [9], 'n': [2], 'f': [[8]], 'p': ['sdp']}", "not a multiple"},
                {"{'l': 1, 'o': ['sa'], 'h': [8], 'n': [2], 'f': [[8]]}", "needs the key 'p'"},
                {"", "model_dict such as"},
        };
        for (String[] b : bad) {
            ConfigError e = assertThrows(ConfigError.class, () -> Grid.expand(List.of(ConfigFile.parse("configs/f.txt",
                    "[ModelParams]\nlayer_architecture = \"flexi\"\nmodel_dict = \"" + b[0] + "\"\n")), List.of(), null, false), b[0]);
            assertTrue(e.getMessage().contains(b[1]) && e.getMessage().contains("configs/f.txt"), e.getMessage());
        }
    }
}
