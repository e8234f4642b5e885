package org.tinker.model;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.jni.JniUtils;

/**
 * The reference README's architecture recipes as hooks on {@code custom-transformer} (README "Recipes:
 * architecture"). Each is a few lines: pass the hooks to {@link LM#forward(NDArray, ForwardOptions)} or, while
 * training, return them from {@code TrainingCallback.forwardOptions}. {@code ArchitectureRecipesTest} proves
 * each effect.
 */
public final class ArchitectureRecipes {
    private ArchitectureRecipes() {}

    /** A ReLU on the residual stream right after the first block. */
    public static Hooks reluAfterFirstBlock() {
        return new Hooks().add(Hooks.residPost(0), (name, x, ctx) -> JniUtils.relu(Ops.pt(x)));
    }

    /** Every block's feed-forward output squared (element-wise) before it joins the residual stream. */
    public static Hooks squareFeedForwardOutput() {
        return new Hooks().add("blocks.*.mlp.out", (name, y, ctx) -> y.mul(y));
    }

    /** Every attention score multiplied by {@code c} before the causal mask and softmax. */
    public static Hooks scaleAttentionScores(double c) {
        return new Hooks().add("blocks.*.attn.scores", (name, s, ctx) -> s.mul(c));
    }

    /**
     * As {@link #scaleAttentionScores}, but only in a forward pass whose {@code attnRequests} is {@code true};
     * pair it with {@link #containsToken} (the reference's {@code attn_requests} when token 10 is in the batch).
     */
    public static Hooks scaleAttentionScoresWhenRequested(double c) {
        return new Hooks().add("blocks.*.attn.scores", (name, s, ctx) ->
                Boolean.TRUE.equals(ctx.attnRequests()) ? s.mul(c) : s);
    }

    /** Whether any row of {@code ids} holds {@code token}: the attention request of the token-10 recipe. */
    public static boolean containsToken(NDArray ids, long token) {
        return ids.eq(token).any().getBoolean();
    }
}
