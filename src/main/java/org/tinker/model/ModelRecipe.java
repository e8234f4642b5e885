package org.tinker.model;

/**
 * An architecture idea as hooks on the block stack, named in a config ({@code [ModelParams] recipes = "name(args)"}) and
 * saved with the run, so it is part of the model wherever the model runs: training, validation and test, the samples,
 * {@code verify}, {@code resume}, {@code sample}, {@code perplexity}, {@code attentions}, the logit lens, the Java API.
 * The built-in ones are in {@link ModelRecipes}; a researcher's own is one class in {@code src/recipes/java/recipes/}
 * (docs/recipes.md, "Your own idea").
 */
public interface ModelRecipe {
    /** Adds this idea's hooks (see {@link Hooks} for the points and what a hook may do). */
    void addHooks(Hooks hooks);

    /**
     * Whether the hooks at each position depend only on that position and earlier ones, as the model itself does: then
     * decoding with a {@link KVCache} is exact. A hook that looks at the whole input (e.g. "if token 10 is anywhere in the
     * sequence") says false, and generation recomputes the whole context each step instead.
     */
    default boolean causal() {
        return true;
    }
}
