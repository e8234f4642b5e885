package org.tinker.tint;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.util.Arrays;
import org.tinker.config.ConfigError;
import org.tinker.config.ModelParams;
import org.tinker.model.LM;

/**
 * Aux models of the paper's sizes that tinker makes itself, for benchmarks and tests without a downloaded checkpoint:
 * GPT-2 124M (D=768, 12 layers, 12 heads, V=50257, 1024 positions, gelu_new) and OPT-125M (the same block with ReLU,
 * V=50272, 2048 positions read at row p+2 of a 2050-row table). Weights: tinker's GPT-2 initialisation ({@link LM}:
 * N(0, 0.02), residual projections N(0, 0.02/√(2L)), LayerNorm γ=1, β=0, biases 0), from a seed.
 */
public enum AuxShape {
    GPT2_124M("gpt2-124m", AuxModel.Family.GPT2, 768, 12, 12, 50257, 1024, "gelu_new"),
    OPT_125M("opt-125m", AuxModel.Family.OPT, 768, 12, 12, 50272, 2048, "relu");

    public final String id;
    public final AuxModel.Family family;
    public final int D, L, H, V, T;
    public final String act;

    AuxShape(String id, AuxModel.Family family, int D, int L, int H, int V, int T, String act) {
        this.id = id; this.family = family; this.D = D; this.L = L; this.H = H; this.V = V; this.T = T; this.act = act;
    }

    public int ff() {
        return 4 * D;
    }

    /** The aux's parameter count: wte, wpe (T + offset rows), 12 per-layer tensors, ln_f; the head is tied. */
    public long parameters() {
        long d = D, f = ff();
        return V * d + (T + family.posOffset) * d + L * (4 * d + 4 * d * d + 4 * d + 2 * d * f + f + d) + 2 * d;
    }

    public static AuxShape of(String id) {
        for (AuxShape s : values()) if (s.id.equals(id)) return s;
        throw new ConfigError("--aux-shape=" + id + ": expected one of " + Arrays.stream(values()).map(s -> s.id).toList());
    }

    /** The aux model with tinker's GPT-2 initialisation from {@code seed}. */
    public AuxModel build(long seed, boolean f32) {
        ModelParams mp = ModelParams.DEFAULTS.with("n_layers", L).with("n_heads", H).with("dim", D).with("dim_ff_factor", 4)
                .with("max_seq_len", T + family.posOffset).with("pos_encoding", "learned").with("tie_embed_deembed", true).with("norm_first", true)
                .with("final_norm", true).with("activation", act).with("layer_norm_eps", 1e-5).with("norm", "layernorm");
        try (NDManager m = NDManager.newBaseManager(Device.cpu()); LM lm = new LM(mp, V, m, seed, DataType.FLOAT32)) {
            AuxModel gpt2 = TintStore.fromLm(lm, f32, "layernorm");
            if (family == AuxModel.Family.GPT2) return gpt2;
            // the same tensors as an OPT: positions read at row p + 2 of the (T + 2)-row table
            AuxModel opt = new AuxModel(family, D, H, L, V, T, ff(), gpt2.eps, act, "layernorm", f32);
            opt.wte = gpt2.wte; opt.wpe = gpt2.wpe; opt.lnfW = gpt2.lnfW; opt.lnfB = gpt2.lnfB;
            opt.layers.addAll(gpt2.layers);
            return opt;
        }
    }
}
