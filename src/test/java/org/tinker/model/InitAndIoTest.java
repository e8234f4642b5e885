package org.tinker.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tinker.config.ModelParams;

/** Initialisation, names, dtypes, input checks and loading. */
class InitAndIoTest extends WithBaseManager {
    @Test
    void sameSeedSameWeightsOtherSeedOtherWeights() {
        ModelParams mp = Tiny.params("torch-transformer");
        try (LM a = new LM(mp, Tiny.V, base, 42); LM b = new LM(mp, Tiny.V, base, 42); LM c = new LM(mp, Tiny.V, base, 43)) {
            for (String name : a.parameters().keySet()) {
                NDArray pa = a.parameters().get(name);
                assertEquals(0.0, Tiny.maxAbsDiff(pa, b.parameters().get(name)), name);
                if (name.endsWith("weight") && !name.contains("ln_")) {
                    assertTrue(Tiny.maxAbsDiff(pa, c.parameters().get(name)) > 0, name);
                }
            }
        }
    }

    @Test
    void gpt2StyleNamesShapesAndInit() {
        ModelParams mp = ModelParams.DEFAULTS.with("n_layers", 4).with("n_heads", 2).with("dim", 32)
                .with("dim_ff_factor", 4).with("max_seq_len", 64).with("tokenizer_source_name", "char");
        try (LM lm = new LM(mp, 50, base, 1)) {
            Map<String, NDArray> p = lm.parameters();
            List<String> names = List.copyOf(p.keySet());
            assertEquals(LM.WTE, names.get(0));
            assertEquals(LM.WPE, names.get(1));
            assertEquals(LM.LM_HEAD, names.get(names.size() - 1));
            assertEquals(new Shape(50, 32), p.get(LM.WTE).getShape());
            assertEquals(new Shape(64, 32), p.get(LM.WPE).getShape());
            assertEquals(new Shape(96, 32), p.get("transformer.h.3.attn.c_attn.weight").getShape());
            assertEquals(new Shape(128, 32), p.get("transformer.h.0.mlp.c_fc.weight").getShape());
            assertEquals(new Shape(32, 128), p.get("transformer.h.0.mlp.c_proj.weight").getShape());
            assertEquals(2 + 4 * 12 + 2 + 1, p.size());
            long expected = 50 * 32 + 64 * 32 + 4 * (2 * 32 + 96 * 32 + 96 + 32 * 32 + 32 + 2 * 32 + 128 * 32 + 128 + 32 * 128 + 32)
                    + 2 * 32 + 50 * 32;
            assertEquals(expected, lm.numParameters());
            p.values().forEach(a -> assertTrue(a.hasGradient()));

            assertEquals(0.02, std(p.get("transformer.h.0.mlp.c_fc.weight")), 0.002);
            assertEquals(0.02 / Math.sqrt(8), std(p.get("transformer.h.2.attn.c_proj.weight")), 0.0007);
            assertEquals(0.0, Tiny.scalar(p.get("transformer.h.1.attn.c_attn.bias").abs().sum()));
            assertEquals(32.0, Tiny.scalar(p.get(LM.LN_F_W).sum()));
        }
        ModelParams tiedNoPos = ModelParams.DEFAULTS.with("n_layers", 1).with("n_heads", 2).with("dim", 8)
                .with("max_seq_len", 16).with("tokenizer_source_name", "char").with("pos_encoding", "sin")
                .with("tie_embed_deembed", true).with("norm_first", true).with("final_norm", false);
        try (LM lm = new LM(tiedNoPos, 20, base, 1)) {
            assertFalse(lm.parameters().containsKey(LM.LM_HEAD));
            assertFalse(lm.parameters().containsKey(LM.WPE));
            assertFalse(lm.parameters().containsKey(LM.LN_F_W));
        }
    }

    private static double std(NDArray a) {
        double[] v = a.toType(DataType.FLOAT64, false).toDoubleArray();
        double s = 0;
        for (double x : v) s += x * x;
        return Math.sqrt(s / v.length);
    }

    @Test
    void float64WorksAndMatchesFloat32() {
        for (String arch : new String[] {"torch-transformer", "custom-transformer"}) {
            ModelParams mp = Tiny.params(arch).with("norm_first", true).with("pos_encoding", "sin")
                    .with("tie_embed_deembed", true).with("activation", "gelu");
            try (LM f32 = new LM(mp, Tiny.V, base, 9);
                 LM f64 = new LM(mp, Tiny.V, base, 9, DataType.FLOAT64);
                 NDManager step = base.newSubManager()) {
                assertEquals(DataType.FLOAT64, f64.dtype());
                f64.loadParameters(f32.parameters()); // converts dtype on the way in
                NDArray ids = Tiny.randomIds(step, 2, 2, 9);
                LMOutput out = f64.forward(ids, new ForwardOptions(true, true, null, null));
                assertEquals(DataType.FLOAT64, out.logits().getDataType());
                assertEquals(DataType.FLOAT64, out.attns().getDataType());
                assertTrue(Tiny.maxAbsDiff(out.logits(), f32.forward(ids).logits()) < 1e-5);
                LossResult r = f64.loss(Tiny.randomIds(step, 3, 2, 9), step.ones(new Shape(2, 8)));
                assertEquals(DataType.FLOAT64, r.loss().getDataType());
                assertTrue(Double.isFinite(Tiny.scalar(r.loss())));
            }
        }
    }

    @Test
    void inputChecks() {
        try (LM lm = new LM(Tiny.params("torch-transformer"), Tiny.V, base, 1);
             NDManager step = base.newSubManager()) {
            IllegalArgumentException tooLong = assertThrows(IllegalArgumentException.class,
                    () -> lm.forward(Tiny.randomIds(step, 1, 1, Tiny.MAX_T + 1)));
            assertTrue(tooLong.getMessage().contains("max_seq_len=" + Tiny.MAX_T), tooLong.getMessage());
            assertEquals(new Shape(1, Tiny.MAX_T, Tiny.V), lm.forward(Tiny.randomIds(step, 1, 1, Tiny.MAX_T)).logits().getShape());
            NDArray ints = step.create(new int[] {1, 2, 3});
            assertEquals(new Shape(1, 3, Tiny.V), lm.forward(ints).logits().getShape());
        }
        assertThrows(IllegalArgumentException.class, () -> new LM(
                Tiny.params("torch-transformer").with("individual_head_params", true), Tiny.V, base, 1));
    }

    @Test
    void loadParametersNamesEveryProblem() {
        try (LM lm = new LM(Tiny.params("torch-transformer"), Tiny.V, base, 1);
             NDManager step = base.newSubManager()) {
            Map<String, NDArray> tensors = new LinkedHashMap<>(lm.parameters());
            tensors.remove(LM.WPE);
            tensors.put("transformer.h.9.attn.c_attn.weight", step.zeros(new Shape(2)));
            tensors.put(LM.LM_HEAD, step.zeros(new Shape(3, 3)));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> lm.loadParameters(tensors));
            assertTrue(e.getMessage().contains("missing " + LM.WPE), e.getMessage());
            assertTrue(e.getMessage().contains("unexpected transformer.h.9.attn.c_attn.weight"), e.getMessage());
            assertTrue(e.getMessage().contains(LM.LM_HEAD + " has shape (3, 3)"), e.getMessage());

            Map<String, NDArray> ok = new LinkedHashMap<>();
            lm.parameters().forEach((name, p) -> ok.put(name, step.zeros(p.getShape())));
            lm.loadParameters(ok);
            assertEquals(0.0, Tiny.scalar(lm.parameters().get(LM.WTE).abs().sum()));
            assertTrue(lm.parameters().get(LM.WTE).hasGradient(), "loading keeps the parameter trainable");
        }
    }
}
