package recipes;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import org.tinker.model.Hooks;
import org.tinker.model.ModelRecipe;

/**
 * A researcher's own idea in one file: every head gets its own softmax temperature. Head h of every layer divides its
 * attention scores by a temperature spread linearly from {@code low} (head 0) to {@code high} (the last head), so some
 * heads attend sharply and others broadly. A config names it {@code recipes = "per_head_temperature(0.5, 2.0)"}: the
 * name in CamelCase is this class, its arguments are the constructor's (docs/recipes.md, "Your own idea").
 */
public record PerHeadTemperature(double low, double high) implements ModelRecipe {
    public PerHeadTemperature {
        if (!(low > 0 && high > 0)) throw new IllegalArgumentException("needs positive temperatures, got " + low + " and " + high);
    }

    @Override
    public void addHooks(Hooks hooks) {
        // scores are [B,H,T,T], q·kᵀ/√d_head before the causal mask and softmax: dividing them is the temperature
        hooks.add("blocks.*.attn.scores", (name, scores, ctx) -> {
            int heads = (int) scores.getShape().get(1);
            float[] inverse = new float[heads];
            for (int h = 0; h < heads; h++) {
                double t = heads == 1 ? low : low + (high - low) * h / (heads - 1);
                inverse[h] = (float) (1 / t);
            }
            // made from the scores' manager (and device), so it lives in this pass's scope; [H,1,1] broadcasts over B, T, T
            NDArray factor = scores.getManager().create(inverse, new Shape(heads, 1, 1)).toType(scores.getDataType(), false);
            return scores.mul(factor);
        });
    }
}
