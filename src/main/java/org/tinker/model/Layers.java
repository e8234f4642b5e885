package org.tinker.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import org.tinker.config.ModelParams.Activation;
import org.tinker.config.ModelParams.Norm;
import org.tinker.engine.Ops;

/**
 * The layers a config value chooses, for every body (the GPT {@link Block}, the final {@code ln_f}, flexi): a new norm
 * or activation is one enum constant in {@code ModelParams} and one branch here.
 */
public final class Layers {
    private Layers() {}

    /** {@code ln_1}, {@code ln_2}, {@code ln_f}: LayerNorm, or RMSNorm (scale only; {@code b} is null and unread). */
    public static NDArray norm(NDArray x, NDArray w, NDArray b, Norm kind, double eps) {
        return switch (kind) {
            case LAYERNORM -> Ops.layerNorm(x, w, b, eps);
            case RMSNORM -> Ops.rmsNorm(x, w, eps);
        };
    }

    /**
     * The feed-forward hidden layer {@code act(c_fc(x))}. For the gated activations ({@code swiglu}, {@code geglu})
     * {@code c_fc} has 2·ff output rows: the first ff are the gate, the last ff the "up" features, and the hidden
     * layer is {@code act(gate) * up} (Shazeer 2020, "GLU variants"), with act = SiLU or GELU.
     */
    public static NDArray ffHidden(NDArray x, NDArray fcW, NDArray fcB, Activation act) {
        NDArray h = Ops.linear(x, fcW, fcB);
        if (!act.gated()) return activation(h, act);
        NDList gateUp = h.split(2, h.getShape().dimension() - 1); // [.., 2ff] -> gate [.., ff], up [.., ff]
        NDArray gate = gateUp.get(0);
        return (act == Activation.SWIGLU ? Ops.silu(gate) : Ops.gelu(gate)).mul(gateUp.get(1));
    }

    /** An elementwise activation (the gated ones need c_fc's two halves: {@link #ffHidden}). */
    public static NDArray activation(NDArray h, Activation act) {
        return switch (act) {
            case RELU -> Ops.relu(h);
            case RELU2 -> Ops.relu(h).square(); // Primer (So et al. 2021): sparse like relu, smooth at 0
            case GELU -> Ops.gelu(h); // exact erf GELU, as torch's "gelu"
            case GELU_NEW -> Ops.geluTanh(h); // GPT-2's tanh approximation
            case SWIGLU, GEGLU -> throw new IllegalArgumentException(act + " is gated: it needs c_fc's gate and up halves (ffHidden)");
        };
    }
}
