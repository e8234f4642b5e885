package org.tinker.config;

import java.util.List;

/** The architecture. Field names and defaults follow lm-springboard (seed era), plus tinker additions. */
public record ModelParams(
        @Doc("transformer layers") @Default("8") int n_layers,
        @Doc("attention heads per layer") @Default("8") int n_heads,
        @Doc("model width (embedding size)") @Default("256") int dim,
        @Doc("feed-forward hidden size = dim x this") @Default("2") int dim_ff_factor,
        @Doc("longest input in tokens (also caps sampling)") @Default("200") int max_seq_len,
        @Doc("char | word | gpt2 (GPT-2 cropped to the ids the task's data uses) | gpt2-full (all 50,257 GPT-2 ids, as published) | custom (a BPE trained on the task's data)") @Default("custom") TokenizerKind tokenizer_source_name,
        @Doc("target vocabulary size of the custom BPE tokenizer") @Default("20000") int custom_tokenizer_ntokens,
        @Doc("torch-transformer | custom-transformer (the same block with hook points; custom may hold individual head parameters) | hierarchical | flexi") @Default("torch-transformer") Architecture layer_architecture,
        @Doc("pretrained GPT-2 to start from: a checkpoint folder, a local models/ name or an HF-cache name (gpt2); overrides the architecture") @Default("") String from_os_pretrained,
        @Doc("timestamp of a saved tinker run whose weights to start from") @Default("") String from_saved,
        @Doc("how from_saved's weights reach this model: exact (same names and shapes) | OD | RP (FlexiBERT weight transfer between different models: ordered slices or random projections)") @Default("exact") Transfer from_saved_transfer,
        @Doc("separate Q/K/V projections per head (custom-transformer; lets you freeze single heads)") @Default("False") boolean individual_head_params,
        @Doc("none | learned | sin | rotary (RoFormer, on q and k) | alibi (linear distance penalty on the scores)") @Default("learned") PosEncoding pos_encoding,
        @Doc("tie the output head to the token embedding") @Default("False") boolean tie_embed_deembed,
        @Doc("pre-norm (LayerNorm before attention and MLP) instead of the reference's post-norm") @Default("False") boolean norm_first,
        @Doc("a LayerNorm after the last layer, before the head") @Default("True") boolean final_norm,
        @Doc("feed-forward activation: relu | relu2 (relu(x)^2, So et al. 2021 Primer) | gelu (exact erf) | gelu_new (GPT-2's tanh approximation) | swiglu | geglu (gated: c_fc makes 2 x ff features, act(gate) * up)") @Default("relu") Activation activation,
        @Doc("LayerNorm epsilon (also RMSNorm's)") @Default("1e-5") double layer_norm_eps,
        @Doc("layernorm | rmsnorm (scale only, no bias and no mean subtraction); used by ln_1, ln_2 and ln_f") @Default("layernorm") Norm norm,
        @Doc("QK-norm: RMS-normalise each head's queries and keys (no weights) before the scores, which bounds the logits of attention") @Default("False") boolean qk_norm,
        @Doc("start every residual-branch output projection (attn.c_proj, mlp.c_proj) at zero, so each block begins as the identity") @Default("False") boolean zero_init_proj,
        @Doc("soft-cap the output logits: c * tanh(logits / c) (Gemma 2; 0 = off)") @Default("0") double logit_softcap,
        @Doc("U-net skips: the output of block i (first half) is added, times a learned scalar starting at 1, to the input of block L-1-i (second half)") @Default("False") boolean unet_skips,
        // --- hierarchical transformer (layer_architecture="hierarchical"); each per-hierarchy value is a scalar or a tuple
        @Doc("hierarchical: compression factor of each hierarchy, unique powers of 2, e.g. (1, 2) (1 = one hierarchy at token level)") @Default("1") PerHierarchy hierarchies,
        @Doc("hierarchical: width per hierarchy (None = dim)") @Default("None") PerHierarchy hierarchy_dims,
        @Doc("hierarchical: attention heads per hierarchy (None = n_heads)") @Default("None") PerHierarchy hierarchy_heads,
        @Doc("hierarchical: width of one head per hierarchy (None = dim / n_heads of that hierarchy)") @Default("None") PerHierarchy hierarchy_dim_head,
        @Doc("hierarchical: feed-forward multiplier per hierarchy (None = dim_ff_factor)") @Default("None") PerHierarchy hierarchy_ff_mult,
        @Doc("hierarchical: local-attention window per hierarchy (None = full causal attention, 0 = no attention, only token shift)") @Default("None") PerHierarchy window_sizes,
        @Doc("hierarchical: stride of the compressing convolution per hierarchy (a power of 2, <= its factor)") @Default("1") PerHierarchy hierarchical_stride,
        @Doc("hierarchical: add the merged hierarchies to every hierarchy, not only the predicting one") @Default("False") boolean hierarchy_merge_all,
        @Doc("hierarchical: compression factor of the hierarchy whose tokens predict the next token (None = 1)") @Default("None") Integer predict_hierarchy,
        @Doc("hierarchical: weight of the reconstruction loss (each compressed position re-predicts the tokens it summarises)") @Default("0.1") double recon_loss_weight,
        @Doc("hierarchical: weight of the hierarchical-AR cosine loss (compressed hierarchies predict their own next state)") @Default("0.25") double hierarchical_ar_loss_weight,
        @Doc("flexi: FlexiBERT model_dict as a string, e.g. \"{'l': 2, 'o': ['sa', 'l'], 'h': [64, 32], 'n': [2, 2], 'f': [[128], [64, 64]], 'p': ['sdp', 'dct']}\"") @Default("") ModelDict model_dict,
        @Doc("architecture ideas applied wherever the model runs, ';'-separated, e.g. \"relu_after_layer(0); scale_attention_scores(2)\" (README: Recipes: architecture)") @Default("") String recipes) {

    /** Every field at its {@link Default}. */
    public static final ModelParams DEFAULTS = Params.defaults(ModelParams.class);

    /** A copy with one field replaced, by its config name (for tests, ablations and code that derives configs). */
    public ModelParams with(String field, Object value) {
        return Params.with(this, field, value);
    }

    /** Where the vocabulary comes from. */
    public enum TokenizerKind implements Choice {
        CHAR("char"), WORD("word"), GPT2("gpt2"), GPT2_FULL("gpt2-full"), CUSTOM("custom");

        private final String spelling;
        TokenizerKind(String spelling) { this.spelling = spelling; }
        public String spelling() { return spelling; }
        @Override public String toString() { return spelling; }
    }

    /** The body of the model: GPT blocks (both spellings run the same {@code Block}), or another body. */
    public enum Architecture implements Choice {
        TORCH_TRANSFORMER("torch-transformer"), CUSTOM_TRANSFORMER("custom-transformer"), HIERARCHICAL("hierarchical"), FLEXI("flexi");

        private final String spelling;
        Architecture(String spelling) { this.spelling = spelling; }
        public String spelling() { return spelling; }
        @Override public String toString() { return spelling; }

        /** Whether the model is a stack of GPT blocks (with hook points, KV cache and recipes). */
        public boolean hasBlocks() { return this == TORCH_TRANSFORMER || this == CUSTOM_TRANSFORMER; }
    }

    /** How positions enter the model. */
    public enum PosEncoding implements Choice {
        NONE("none"), LEARNED("learned"), SIN("sin"), ROTARY("rotary"), ALIBI("alibi");

        private final String spelling;
        PosEncoding(String spelling) { this.spelling = spelling; }
        public String spelling() { return spelling; }
        @Override public String toString() { return spelling; }
    }

    /** The feed-forward activation; the gated ones make c_fc twice as wide (gate | up). */
    public enum Activation implements Choice {
        RELU("relu"), RELU2("relu2"), GELU("gelu"), GELU_NEW("gelu_new"), SWIGLU("swiglu"), GEGLU("geglu");

        private final String spelling;
        Activation(String spelling) { this.spelling = spelling; }
        public String spelling() { return spelling; }
        @Override public String toString() { return spelling; }

        public boolean gated() { return this == SWIGLU || this == GEGLU; }
    }

    /** The normalisation of ln_1, ln_2 and ln_f. */
    public enum Norm implements Choice {
        LAYERNORM("layernorm"), RMSNORM("rmsnorm");

        private final String spelling;
        Norm(String spelling) { this.spelling = spelling; }
        public String spelling() { return spelling; }
        @Override public String toString() { return spelling; }

        /** Whether the norm has a bias (RMSNorm only scales). */
        public boolean hasBias() { return this == LAYERNORM; }
    }

    /** How {@code from_saved}'s weights reach the model: as they are, or by FlexiBERT weight transfer into a different model. */
    public enum Transfer implements Choice {
        EXACT("exact"), OD("OD"), RP("RP");

        private final String spelling;
        Transfer(String spelling) { this.spelling = spelling; }
        public String spelling() { return spelling; }
        @Override public String toString() { return spelling; }
    }

    /**
     * The values a choice field may take as spelled in config files ({@code layer_architecture}, {@code pos_encoding},
     * {@code activation}, {@code norm}, {@code tokenizer_source_name}), or null for other fields.
     */
    public static List<String> choices(String field) {
        return Params.choices(ModelParams.class, field);
    }

    public void validate(Params.Where where) {
        if (n_layers <= 0) where.fail("n_layers", "a positive number of layers", n_layers);
        if (n_heads <= 0) where.fail("n_heads", "a positive number of heads", n_heads);
        if (dim <= 0) where.fail("dim", "a positive width", dim);
        if (dim % n_heads != 0) where.fail("dim", "a multiple of n_heads=" + n_heads, dim);
        if (dim_ff_factor <= 0) where.fail("dim_ff_factor", "a positive factor", dim_ff_factor);
        if (max_seq_len <= 1) where.fail("max_seq_len", "at least 2 tokens", max_seq_len);
        if (custom_tokenizer_ntokens < 8) where.fail("custom_tokenizer_ntokens", "at least 8", custom_tokenizer_ntokens);
        if (!(layer_norm_eps > 0)) where.fail("layer_norm_eps", "a positive epsilon", layer_norm_eps);
        if (individual_head_params && layer_architecture != Architecture.CUSTOM_TRANSFORMER)
            where.fail("individual_head_params", "False unless layer_architecture=\"custom-transformer\"", true);
        if (from_saved_transfer != Transfer.EXACT && from_saved.isBlank())
            where.fail("from_saved_transfer", "\"exact\" unless from_saved names a run to transfer from", from_saved_transfer);
        if (!(logit_softcap >= 0)) where.fail("logit_softcap", "0 (off) or a positive cap", logit_softcap);
        if (unet_skips && n_layers < 2) where.fail("unet_skips", "False unless n_layers >= 2 (a skip joins two blocks)", true);
        if (!layer_architecture.hasBlocks() && (qk_norm || zero_init_proj || unet_skips || logit_softcap > 0))
            where.fail("layer_architecture", "torch-transformer or custom-transformer for qk_norm, zero_init_proj, unet_skips and logit_softcap (GPT-block settings)", layer_architecture);
        // written as !(in range) so that NaN fails too
        if (!(recon_loss_weight >= 0)) where.fail("recon_loss_weight", "a non-negative weight", recon_loss_weight);
        if (!(hierarchical_ar_loss_weight >= 0))
            where.fail("hierarchical_ar_loss_weight", "a non-negative weight", hierarchical_ar_loss_weight);
        if (pos_encoding == PosEncoding.ROTARY && headDim() % 2 != 0)
            where.fail("pos_encoding", "an even head width (dim / n_heads) for rotary, got " + headDim(), pos_encoding);
        String recipeProblem = RecipeBook.check("recipes", recipes, this);
        if (recipeProblem != null) where.fail("recipes", "';'-separated recipes name(numbers), but " + recipeProblem, recipes);
        ModelCheck.Problem p = ModelCheck.firstProblem(this); // the hierarchical and flexi settings, checked by the model
        if (p != null) where.fail(p.field(), p.expected(), Params.value(this, p.field()));
    }

    /** Whether the feed-forward is gated (c_fc makes 2 x ff features: gate | up). */
    public boolean gated() {
        return activation.gated();
    }

    public int headDim() {
        return dim / n_heads;
    }

    public int ffDim() {
        return dim * dim_ff_factor;
    }
}
