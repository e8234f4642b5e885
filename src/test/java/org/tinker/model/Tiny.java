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

    static ModelParams params(String arch, boolean normFirst, String pos, boolean tie, boolean individualHeads,
                              boolean finalNorm, String activation) {
        return new ModelParams(2, 2, 16, 2, MAX_T, "char", 20000, arch, "", "", individualHeads, pos, tie,
                normFirst, finalNorm, activation, 1e-5);
    }

    static ModelParams params(String arch) {
        return params(arch, false, "learned", false, false, true, "relu");
    }

    /** Same config, another architecture. */
    static ModelParams withArch(ModelParams mp, String arch, boolean individualHeads) {
        return new ModelParams(mp.n_layers(), mp.n_heads(), mp.dim(), mp.dim_ff_factor(), mp.max_seq_len(),
                mp.tokenizer_source_name(), mp.custom_tokenizer_ntokens(), arch, mp.from_os_pretrained(),
                mp.from_saved(), individualHeads, mp.pos_encoding(), mp.tie_embed_deembed(), mp.norm_first(),
                mp.final_norm(), mp.activation(), mp.layer_norm_eps());
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
}
