package org.tinker.config;

/**
 * The settings of a TinT construction (docs/models/tint.md), with the original code's names and defaults; read by
 * {@code runner tint} from its flags and {@code --set tint.KEY=VALUE}, and from the keys of a TinT input.json or
 * tint.json. The rules that need the aux model's dimensions are checked in the tint package (TintSettings).
 */
public record TintParams(
        @Doc("aux layers simulated, from the top (-1 = all): only these learn") @Default("-1") int n_simulation_layers,
        @Doc("simulated SGD steps on the train part in one TinT forward pass") @Default("1") int n_forward_backward,
        @Doc("learning rate of the simulated SGD steps (the inner loss is summed over the train predictions)") @Default("1e-4") double inner_lr,
        @Doc("prefix rows K that hold the aux weights; must divide the aux width D") @Default("16") int num_prefixes,
        @Doc("TinT width E; at least max(4·D, D·(D/K+1)) and a multiple of num_prefixes") @Default("192") int hidden_size,
        @Doc("TinT softmax heads Hs (of size hidden_size/Hs), at least the aux's heads") @Default("4") int num_attention_heads,
        @Doc("N of the finite-difference backward of norms and activations, N·(f(x + δ/N) − f(x))") @Default("1000") double scale_embeddings,
        @Doc("g of the gates tanh(±g·position): the larger, the closer they are to 0/1") @Default("10") double gate_scale,
        @Doc("the simulated steps share the forward modules (changes the original's parameter count only)") @Default("True") boolean reuse_forward_blocks,
        @Doc("the simulated steps share the backward modules (changes the original's parameter count only)") @Default("True") boolean reuse_backward_blocks,
        @Doc("token rows attend only to prefix rows in the linear attentions (an optimisation; outputs are unchanged)") @Default("True") boolean restrict_prefixes,
        @Doc("norms learn only their bias; False: the stored diag(γ) gets the original's dense update (docs/models/tint.md, The construction: Settings)") @Default("True") boolean ln_update_bias_only,
        @Doc("the simulated backward mixes the gradient through the attention pattern (Aᵀ, scores held fixed); False: it reaches V unmixed") @Default("True") boolean backprop_through_attention,
        @Doc("epsilon of the simulated norms") @Default("1e-5") double epsilon,
        @Doc("TinT's position buffer: num_prefixes + tokens must fit") @Default("2048") int max_position_embeddings,
        @Doc("arithmetic of the aux model and the construction: float32 | float64") @Default("float64") Dtype dtype,
        @Doc("the cross-entropy gradient starts the simulated backward; takes precedence over use_quad, as in the original") @Default("True") boolean use_prediction_loss,
        @Doc("with use_prediction_loss False: the loss ½‖E h‖² − (E h)_y (Saunshi et al.); both False: δh = mean_v E_v − E_y") @Default("False") boolean use_quad) {

    /** Every field at its {@link Default}: the original's defaults. */
    public static final TintParams DEFAULTS = Params.defaults(TintParams.class);

    /** The arithmetic of the aux model and the construction (the engine also offers bfloat16, a flag of runner tint). */
    public enum Dtype implements Choice {
        FLOAT32("float32"), FLOAT64("float64");

        private final String spelling;
        Dtype(String spelling) { this.spelling = spelling; }
        public String spelling() { return spelling; }
        @Override public String toString() { return spelling; }
    }

    /** The three loss-gradient options of the original (tint.LossGradient). */
    public enum Loss { PREDICTION, QUAD, MEAN }

    /**
     * The loss whose gradient starts the simulated backward pass (docs/models/tint.md, "The construction": Loss at the
     * top): the prediction loss first, then quad, else the mean option, the original's {@code if / elif} order, so with
     * both flags true use_quad is ignored.
     */
    public Loss loss() {
        return use_prediction_loss ? Loss.PREDICTION : use_quad ? Loss.QUAD : Loss.MEAN;
    }

    /** The number of simulated (top) layers for an aux model of {@code L} layers. */
    public int nSim(int L) {
        return n_simulation_layers < 0 ? L : n_simulation_layers;
    }

    /** Whether the aux model and the construction compute in float32. */
    public boolean f32() {
        return dtype == Dtype.FLOAT32;
    }

    /** A copy with one field replaced, by its config name (tests and code that derive settings). */
    public TintParams with(String field, Object value) {
        return Params.with(this, field, value);
    }

    /** Range checks that need no aux model, written as !(in range) so that NaN fails them. */
    public void validate(Params.Where where) {
        if (n_simulation_layers == 0 || n_simulation_layers < -1)
            where.fail("n_simulation_layers", "-1 (all layers) or a positive number of layers", n_simulation_layers);
        if (n_forward_backward < 1) where.fail("n_forward_backward", "a positive number of steps", n_forward_backward);
        if (num_prefixes < 1) where.fail("num_prefixes", "a positive number of prefix rows", num_prefixes);
        if (hidden_size < 1) where.fail("hidden_size", "a positive width", hidden_size);
        if (num_attention_heads < 1) where.fail("num_attention_heads", "a positive number of heads", num_attention_heads);
        if (!(scale_embeddings > 0)) where.fail("scale_embeddings", "a positive scale", scale_embeddings);
        if (!(gate_scale > 0)) where.fail("gate_scale", "a positive scale", gate_scale);
        if (!(epsilon > 0)) where.fail("epsilon", "a positive epsilon", epsilon);
        if (max_position_embeddings < 1) where.fail("max_position_embeddings", "a positive number of positions", max_position_embeddings);
    }
}
