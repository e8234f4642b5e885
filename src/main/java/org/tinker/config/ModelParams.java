package org.tinker.config;

import java.util.List;

/** The architecture. Field names and defaults follow lm-springboard (seed era), plus tinker additions. */
public record ModelParams(
        @Doc("transformer layers") int n_layers,
        @Doc("attention heads per layer") int n_heads,
        @Doc("model width (embedding size)") int dim,
        @Doc("feed-forward hidden size = dim x this") int dim_ff_factor,
        @Doc("longest input in tokens (also caps sampling)") int max_seq_len,
        @Doc("char | word | gpt2 | custom (a BPE trained on the task's data)") String tokenizer_source_name,
        @Doc("target vocabulary size of the custom BPE tokenizer") int custom_tokenizer_ntokens,
        @Doc("torch-transformer (fast, fused) | custom-transformer (explicit, with hook points)") String layer_architecture,
        @Doc("pretrained GPT-2 to start from: a checkpoint folder, a local models/ name or an HF-cache name (gpt2); overrides the architecture") String from_os_pretrained,
        @Doc("timestamp of a saved tinker run whose weights to start from") String from_saved,
        @Doc("separate Q/K/V projections per head (custom-transformer; lets you freeze single heads)") boolean individual_head_params,
        @Doc("none | learned | sin") String pos_encoding,
        @Doc("tie the output head to the token embedding") boolean tie_embed_deembed,
        @Doc("pre-norm (LayerNorm before attention and MLP) instead of the reference's post-norm") boolean norm_first,
        @Doc("a LayerNorm after the last layer, before the head") boolean final_norm,
        @Doc("feed-forward activation: relu | gelu (exact erf) | gelu_new (GPT-2's tanh approximation)") String activation,
        @Doc("LayerNorm epsilon") double layer_norm_eps) {

    public static final ModelParams DEFAULTS = new ModelParams(8, 8, 256, 2, 200, "custom", 20000,
            "torch-transformer", "", "", false, "learned", false, false, true, "relu", 1e-5);

    public static final List<String> TOKENIZERS = List.of("char", "word", "gpt2", "custom");
    public static final List<String> ARCHITECTURES = List.of("torch-transformer", "custom-transformer");
    public static final List<String> POS_ENCODINGS = List.of("none", "learned", "sin");
    public static final List<String> ACTIVATIONS = List.of("relu", "gelu", "gelu_new");

    public void validate(Params.Where where) {
        if (n_layers <= 0) where.fail("n_layers", "a positive number of layers", n_layers);
        if (n_heads <= 0) where.fail("n_heads", "a positive number of heads", n_heads);
        if (dim <= 0) where.fail("dim", "a positive width", dim);
        if (dim % n_heads != 0) where.fail("dim", "a multiple of n_heads=" + n_heads, dim);
        if (dim_ff_factor <= 0) where.fail("dim_ff_factor", "a positive factor", dim_ff_factor);
        if (max_seq_len <= 1) where.fail("max_seq_len", "at least 2 tokens", max_seq_len);
        if (!TOKENIZERS.contains(tokenizer_source_name))
            where.fail("tokenizer_source_name", "one of " + TOKENIZERS, tokenizer_source_name);
        if (custom_tokenizer_ntokens < 8) where.fail("custom_tokenizer_ntokens", "at least 8", custom_tokenizer_ntokens);
        if (!ARCHITECTURES.contains(layer_architecture))
            where.fail("layer_architecture", "one of " + ARCHITECTURES, layer_architecture);
        if (!POS_ENCODINGS.contains(pos_encoding)) where.fail("pos_encoding", "one of " + POS_ENCODINGS, pos_encoding);
        if (!ACTIVATIONS.contains(activation)) where.fail("activation", "one of " + ACTIVATIONS, activation);
        if (!(layer_norm_eps > 0)) where.fail("layer_norm_eps", "a positive epsilon", layer_norm_eps);
        if (individual_head_params && !"custom-transformer".equals(layer_architecture))
            where.fail("individual_head_params", "False unless layer_architecture=\"custom-transformer\"", true);
    }

    public int headDim() {
        return dim / n_heads;
    }

    public int ffDim() {
        return dim * dim_ff_factor;
    }
}
