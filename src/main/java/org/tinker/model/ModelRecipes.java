package org.tinker.model;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.jni.JniUtils;
import java.util.List;
import org.tinker.config.ModelParams;
import org.tinker.config.RecipeRegistry;
import org.tinker.engine.Ops;

/**
 * The architecture recipes a config may name in {@code [ModelParams] recipes}: the reference README's ideas, one small
 * class each. Add a line to {@link #ALL} to ship another; a researcher's own goes in {@code src/recipes/java/recipes/}
 * and is found by name.
 */
public final class ModelRecipes extends RecipeRegistry<ModelRecipe> {

    public static final List<Entry<ModelRecipe>> ALL = List.of(
            new Entry<>("relu_after_layer", List.of("l"), "relu_after_layer(0)", c -> new ReluAfterLayer(c.intArg(0))),
            new Entry<>("square_mlp_output", List.of(), "square_mlp_output", c -> new SquareMlpOutput()),
            new Entry<>("scale_attention_scores", List.of("c"), "scale_attention_scores(4)",
                    c -> new ScaleAttentionScores(c.args().get(0))),
            new Entry<>("scale_attention_scores_if_token", List.of("c", "id"), "scale_attention_scores_if_token(4, 3)",
                    c -> new ScaleAttentionScoresIfToken(c.args().get(0), c.intArg(1))));

    private static final ModelRecipes BOOK = new ModelRecipes();

    public ModelRecipes() { // public: found by ServiceLoader
        super("recipes", "recipe", ModelRecipe.class, ALL);
    }

    /** The recipes a {@code recipes} text names, in order; IllegalArgumentException naming the known ones otherwise. */
    public static List<ModelRecipe> of(String text) {
        return BOOK.build(text);
    }

    /** The recipe's hooks must land on hook points of this model (e.g. relu_after_layer(5) needs 6 layers). */
    @Override
    protected void check(ModelRecipe recipe, Record params) {
        if (!(params instanceof ModelParams mp) || !mp.layer_architecture().hasBlocks()) return;
        Hooks h = new Hooks();
        recipe.addHooks(h);
        h.checkAgainst(Hooks.points(mp));
    }

    /** All their hooks, in order; null when there are none. */
    public static Hooks hooks(List<ModelRecipe> recipes) {
        if (recipes.isEmpty()) return null;
        Hooks h = new Hooks();
        for (ModelRecipe r : recipes) r.addHooks(h);
        return h;
    }

    /** A ReLU on the residual stream right after block {@code layer}. */
    public record ReluAfterLayer(int layer) implements ModelRecipe {
        public ReluAfterLayer {
            if (layer < 0) throw new IllegalArgumentException("relu_after_layer needs a layer >= 0, got " + layer);
        }

        @Override
        public void addHooks(Hooks hooks) {
            hooks.add(Hooks.residPost(layer), (name, x, ctx) -> JniUtils.relu(Ops.pt(x)));
        }
    }

    /** Every block's feed-forward output squared (element-wise) before it joins the residual stream. */
    public record SquareMlpOutput() implements ModelRecipe {
        @Override
        public void addHooks(Hooks hooks) {
            hooks.add("blocks.*.mlp.out", (name, y, ctx) -> y.mul(y));
        }
    }

    /** Every attention score multiplied by {@code c} before the causal mask and softmax (c > 1 sharpens, c < 1 flattens). */
    public record ScaleAttentionScores(double c) implements ModelRecipe {
        @Override
        public void addHooks(Hooks hooks) {
            hooks.add("blocks.*.attn.scores", (name, s, ctx) -> Ops.mul(s, c));
        }
    }

    /**
     * As {@link ScaleAttentionScores}, but only in a pass whose input holds token {@code id} in some row (the reference's
     * {@code attn_requests}: "10 in the batch"). It reads the whole input, so it is not {@link #causal()}.
     */
    public record ScaleAttentionScoresIfToken(double c, int id) implements ModelRecipe {
        @Override
        public void addHooks(Hooks hooks) {
            hooks.add("blocks.*.attn.scores", (name, s, ctx) -> containsToken(ctx.ids(), id) ? Ops.mul(s, c) : s);
        }

        @Override
        public boolean causal() {
            return false;
        }
    }

    /** Whether any row of {@code ids} holds {@code token}. */
    public static boolean containsToken(NDArray ids, long token) {
        return ids != null && ids.eq(token).any().getBoolean();
    }
}
