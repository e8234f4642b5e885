package org.tinker.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Random;
import org.tinker.config.ModelParams;

/** Tiny models and helpers shared by the model tests. */
final class Tiny {
    static final int V = 11;
    static final int MAX_T = 12;

    private Tiny() {}

    /**
     * A tiny model of this layer_architecture: 2 layers, 2 heads, width 16, max_seq_len {@link #MAX_T}, char tokens,
     * every other field at its default (post-norm, learned positions, ReLU, LayerNorm, untied head, ln_f). Name what
     * differs: {@code Tiny.params("custom-transformer").with("pos_encoding", "rotary")}.
     */
    static ModelParams params(String arch) {
        return ModelParams.DEFAULTS.with("n_layers", 2).with("n_heads", 2).with("dim", 16).with("max_seq_len", MAX_T)
                .with("tokenizer_source_name", "char").with("layer_architecture", arch);
    }

    /** Same config, another architecture. */
    static ModelParams withArch(ModelParams mp, String arch, boolean individualHeads) {
        return mp.with("layer_architecture", arch).with("individual_head_params", individualHeads);
    }

    /**
     * Every variant a config can select, for one architecture: each position encoding with pre- and post-norm,
     * each activation (gated ones included) and each norm, tied and untied heads, with and without ln_f.
     */
    static java.util.List<ModelParams> variants(String arch) {
        java.util.List<ModelParams> out = new java.util.ArrayList<>();
        for (String pos : ModelParams.choices("pos_encoding"))
            for (boolean normFirst : new boolean[] {false, true})
                out.add(params(arch).with("norm_first", normFirst).with("pos_encoding", pos)
                        .with("tie_embed_deembed", normFirst));
        String[] acts = {"gelu", "gelu_new", "swiglu", "geglu"};
        for (int i = 0; i < acts.length; i++)
            out.add(params(arch).with("norm_first", i % 2 == 0).with("pos_encoding", ModelParams.choices("pos_encoding").get(1 + i))
                    .with("tie_embed_deembed", i % 2 == 1).with("final_norm", i != 1).with("activation", acts[i])
                    .with("norm", i < 2 ? "layernorm" : "rmsnorm"));
        out.add(params(arch).with("norm_first", true).with("pos_encoding", "rotary").with("activation", "swiglu")
                .with("norm", "rmsnorm")); // the LLaMA recipe
        out.add(params(arch).with("pos_encoding", "alibi").with("tie_embed_deembed", true).with("activation", "geglu")
                .with("norm", "rmsnorm"));
        out.add(params(arch).with("activation", "relu2")); // Primer's squared ReLU
        out.add(params(arch).with("norm_first", true).with("pos_encoding", "rotary").with("activation", "relu2").with("norm", "rmsnorm")
                .with("qk_norm", true)); // today's small-model recipe (modded-nanogpt)
        if (arch.equals("custom-transformer"))
            out.add(params(arch).with("norm_first", true).with("pos_encoding", "rotary").with("individual_head_params", true)
                    .with("activation", "gelu")); // individual heads
        return out;
    }

    /** A short description of a variant for test names and messages. */
    static String describe(ModelParams mp) {
        return mp.layer_architecture() + " pos=" + mp.pos_encoding() + " norm=" + mp.norm() + (mp.norm_first() ? "(pre)" : "(post)")
                + " act=" + mp.activation() + " tie=" + mp.tie_embed_deembed() + " ln_f=" + mp.final_norm()
                + (mp.individual_head_params() ? " individual-heads" : "");
    }

    static NDArray randomIds(NDManager m, long seed, int b, int t) {
        Random r = new Random(seed);
        long[] ids = new long[b * t];
        for (int i = 0; i < ids.length; i++) ids[i] = r.nextInt(V);
        return m.create(ids, new Shape(b, t));
    }

    static double maxAbsDiff(NDArray a, NDArray b) {
        if (!a.getShape().equals(b.getShape()))
            throw new AssertionError("shapes differ: " + a.getShape() + " vs " + b.getShape());
        return a.toType(DataType.FLOAT64, false).sub(b.toType(DataType.FLOAT64, false)).abs().max().getDouble();
    }

    /**
     * Scales every query/key projection up so attention patterns are far from uniform (at GPT-2 init they are
     * nearly uniform, and interventions on scores would barely show in the output).
     */
    static void sharpenAttention(LM lm, float factor) {
        lm.parameters().forEach((name, p) -> {
            if (name.contains("c_attn.weight") || name.matches(".*heads\\.\\d+\\.[qk]\\.weight")) p.muli(factor);
        });
    }

    static double scalar(NDArray a) {
        return a.toType(DataType.FLOAT64, false).getDouble();
    }

    /** pattern [..,T,T] == causal softmax(c · scores) row by row (scores before the mask), computed here in plain Java. */
    static void assertPatternIsCausalSoftmax(NDArray scores, double c, NDArray pattern) {
        int t = (int) scores.getShape().get(scores.getShape().dimension() - 1);
        double[] s = scores.toType(DataType.FLOAT64, false).toDoubleArray();
        double[] p = pattern.toType(DataType.FLOAT64, false).toDoubleArray();
        org.junit.jupiter.api.Assertions.assertEquals(s.length, p.length);
        for (int row = 0; row < s.length / t; row++) {
            int q = row % t;
            double max = Double.NEGATIVE_INFINITY, z = 0;
            for (int k = 0; k <= q; k++) max = Math.max(max, c * s[row * t + k]);
            for (int k = 0; k <= q; k++) z += Math.exp(c * s[row * t + k] - max);
            for (int k = 0; k < t; k++) {
                double want = k <= q ? Math.exp(c * s[row * t + k] - max) / z : 0;
                org.junit.jupiter.api.Assertions.assertEquals(want, p[row * t + k], 1e-5, "row " + row + " key " + k);
            }
        }
    }
}
