package org.tinker.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.tinker.config.ModelParams;

/**
 * Both layer_architecture names hold the same parameters and run the same {@link Block}; its two attention routes — the
 * fused kernel (a plain forward) and the explicit scores/softmax (attention maps asked for) — compute the same function.
 */
class ArchitectureEquivalenceTest extends WithBaseManager {
    static List<Arguments> configs() {
        List<Arguments> out = new ArrayList<>();
        for (boolean normFirst : new boolean[] {false, true})
            for (String pos : new String[] {"none", "learned", "sin"})
                for (boolean tie : new boolean[] {false, true})
                    out.add(Arguments.of(normFirst, pos, tie, true, "relu"));
        out.add(Arguments.of(false, "learned", false, false, "gelu")); // no ln_f, gelu
        out.add(Arguments.of(true, "sin", true, false, "gelu"));
        return out;
    }

    @ParameterizedTest(name = "norm_first={0} pos={1} tie={2} final_norm={3} {4}")
    @MethodSource("configs")
    void torchAndCustomAgree(boolean normFirst, String pos, boolean tie, boolean finalNorm, String act) {
        ModelParams fusedMp = Tiny.params("torch-transformer").with("norm_first", normFirst).with("pos_encoding", pos)
                .with("tie_embed_deembed", tie).with("final_norm", finalNorm).with("activation", act);
        try (LM fused = new LM(fusedMp, Tiny.V, base, 1);
             LM custom = new LM(Tiny.withArch(fusedMp, "custom-transformer", false), Tiny.V, base, 99);
             NDManager step = base.newSubManager()) {
            assertEquals(fused.parameters().keySet(), custom.parameters().keySet());
            custom.loadParameters(fused.parameters());

            NDArray ids = Tiny.randomIds(step, 7, 3, 9);
            ForwardOptions all = new ForwardOptions(true, true, null, null);
            LMOutput a = fused.forward(ids, all);
            LMOutput b = custom.forward(ids, all);
            NDArray fusedRoute = fused.forward(ids).logits(); // no maps, no hooks: the fused attention kernel
            assertTrue(Tiny.maxAbsDiff(fusedRoute, b.logits()) <= 1e-5, "fused and explicit attention differ");
            assertEquals(new Shape(3, 9, Tiny.V), a.logits().getShape());
            assertEquals(new Shape(3, 2, 2, 9, 9), a.attns().getShape());
            assertEquals(new Shape(3, 3, 9, 16), a.embeddings().getShape());
            assertTrue(Tiny.maxAbsDiff(a.logits(), b.logits()) <= 1e-5, "logits differ");
            assertTrue(Tiny.maxAbsDiff(a.attns(), b.attns()) <= 1e-5, "attns differ");
            assertTrue(Tiny.maxAbsDiff(a.embeddings(), b.embeddings()) <= 1e-5, "embeddings differ");
            // The model must actually depend on its weights (guards against comparing two constant outputs).
            assertTrue(Tiny.maxAbsDiff(a.logits().get(0), a.logits().get(1)) > 1e-4);
        }
    }

    static List<ModelParams> variants() {
        return Tiny.variants("torch-transformer");
    }

    /** Every variant (norm, positions incl. rotary/alibi, gated MLPs, tie) computes the same on both routes and names. */
    @ParameterizedTest(name = "{index}: {0}")
    @MethodSource("variants")
    void torchAndCustomAgreeOnEveryVariant(ModelParams fusedMp) {
        try (LM fused = new LM(fusedMp, Tiny.V, base, 1);
             LM custom = new LM(Tiny.withArch(fusedMp, "custom-transformer", false), Tiny.V, base, 99);
             NDManager step = base.newSubManager()) {
            assertEquals(fused.parameters().keySet(), custom.parameters().keySet());
            custom.loadParameters(fused.parameters());
            Tiny.sharpenAttention(fused, 4f);
            Tiny.sharpenAttention(custom, 4f);
            NDArray ids = Tiny.randomIds(step, 7, 3, 9);
            ForwardOptions all = new ForwardOptions(true, true, null, null);
            LMOutput a = fused.forward(ids, all);
            LMOutput b = custom.forward(ids, all);
            NDArray fusedRoute = fused.forward(ids).logits(); // no maps, no hooks: the fused attention kernel
            assertTrue(Tiny.maxAbsDiff(fusedRoute, b.logits()) <= 1e-5, "fused and explicit attention differ: " + Tiny.describe(fusedMp));
            assertTrue(Tiny.maxAbsDiff(a.logits(), b.logits()) <= 1e-5, "logits differ: " + Tiny.describe(fusedMp));
            assertTrue(Tiny.maxAbsDiff(a.attns(), b.attns()) <= 1e-5, "attns differ");
            assertTrue(Tiny.maxAbsDiff(a.logits().get(0), a.logits().get(1)) > 1e-4);
        }
    }

    /** The variants change the parameter layout as documented: RMSNorm has no biases, gated c_fc has 2·ff rows. */
    @Test
    void variantParameterLayout() {
        ModelParams mp = Tiny.params("torch-transformer").with("norm_first", true).with("pos_encoding", "rotary")
                .with("activation", "swiglu").with("norm", "rmsnorm");
        try (LM lm = new LM(mp, Tiny.V, base, 1)) {
            Map<String, NDArray> p = lm.parameters();
            assertTrue(!p.containsKey("transformer.h.0.ln_1.bias") && !p.containsKey(LM.LN_F_B));
            assertTrue(p.containsKey("transformer.h.0.ln_1.weight") && !p.containsKey(LM.WPE));
            assertEquals(new Shape(2L * mp.ffDim(), mp.dim()), p.get("transformer.h.0.mlp.c_fc.weight").getShape());
            assertEquals(new Shape(mp.dim(), mp.ffDim()), p.get("transformer.h.0.mlp.c_proj.weight").getShape());
        }
    }

    /** Separate per-head q/k/v parameters are just the rows of the fused c_attn, head by head. */
    @Test
    void individualHeadParamsEqualFusedLayout() {
        ModelParams fusedMp = Tiny.params("torch-transformer").with("norm_first", true).with("activation", "gelu");
        ModelParams headsMp = Tiny.withArch(fusedMp, "custom-transformer", true);
        try (LM fused = new LM(fusedMp, Tiny.V, base, 5);
             LM heads = new LM(headsMp, Tiny.V, base, 6);
             NDManager step = base.newSubManager()) {
            int d = fusedMp.dim();
            int hd = fusedMp.headDim();
            Map<String, NDArray> copy = new LinkedHashMap<>();
            for (Map.Entry<String, NDArray> e : fused.parameters().entrySet()) {
                String name = e.getKey();
                if (!name.contains("c_attn")) {
                    copy.put(name, e.getValue());
                    continue;
                }
                String layer = name.substring(0, name.indexOf("attn.c_attn"));
                boolean weight = name.endsWith("weight");
                String[] qkv = {"q", "k", "v"};
                for (int j = 0; j < 3; j++) {
                    for (int h = 0; h < fusedMp.n_heads(); h++) {
                        int from = j * d + h * hd;
                        String key = layer + "attn.heads." + h + "." + qkv[j] + (weight ? ".weight" : ".bias");
                        NDArray rows = e.getValue().get(from + ":" + (from + hd)); // lands in fused's manager…
                        rows.attach(step);                                         // …so hand it to this test's scope
                        copy.put(key, rows);
                    }
                }
            }
            heads.loadParameters(copy);

            assertTrue(heads.parameters().containsKey("transformer.h.1.attn.heads.1.v.bias"));
            assertTrue(!heads.parameters().containsKey("transformer.h.0.attn.c_attn.weight"));
            assertEquals(fused.numParameters(), heads.numParameters());

            NDArray ids = Tiny.randomIds(step, 3, 2, 10);
            ForwardOptions all = new ForwardOptions(true, true, null, null);
            LMOutput a = fused.forward(ids, all);
            LMOutput b = heads.forward(ids, all);
            assertTrue(Tiny.maxAbsDiff(a.logits(), b.logits()) <= 1e-5);
            assertTrue(Tiny.maxAbsDiff(a.attns(), b.attns()) <= 1e-5);
        }
    }
}
