package org.tinker.model;

import static org.junit.jupiter.api.Assertions.*;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.tinker.config.ModelParams;

/**
 * The README's "Your own idea": {@code recipes.PerHeadTemperature} in src/recipes/java, named in a config by
 * {@code per_head_temperature(low, high)} and found on the class path. Proves its effect against the plain model with
 * the same weights, on both layer architectures.
 */
class PerHeadTemperatureTest extends WithBaseManager {

    /** Pre-norm model with sharp attention (so a temperature shows in the output), with these recipes. */
    private static LM model(String arch, String recipes) {
        ModelParams mp = Tiny.params(arch).with("norm_first", true).with("activation", "gelu").with("recipes", recipes);
        LM lm = new LM(mp, Tiny.V, base, 21);
        Tiny.sharpenAttention(lm, 20);
        return lm;
    }

    @Test
    void temperatureOneEverywhereIsThePlainModel() {
        for (String arch : ModelRecipesTest.ARCHS) {
            try (LM plain = model(arch, ""); LM same = model(arch, "per_head_temperature(1, 1)"); NDManager step = base.newSubManager()) {
                NDArray ids = Tiny.randomIds(step, 4, 2, 10);
                // the recipe's pass takes the explicit attention route, the plain one the fused kernel: rounding apart
                assertEquals(0.0, Tiny.maxAbsDiff(same.forward(ids).logits(), plain.forward(ids).logits()), 1e-6, arch);
            }
        }
    }

    @Test
    void eachHeadAttendsWithItsOwnTemperature() {
        double low = 0.5, high = 2.0; // Tiny has two heads: head 0 at 0.5, head 1 at 2.0
        for (String arch : ModelRecipesTest.ARCHS) {
            try (LM plain = model(arch, ""); LM warm = model(arch, "per_head_temperature(0.5, 2.0)"); NDManager step = base.newSubManager()) {
                NDArray ids = Tiny.randomIds(step, 5, 2, 9);
                List<NDArray> scores = new ArrayList<>();
                // a recording hook runs after the model's recipes: on the plain model it sees the untouched scores
                plain.forward(ids, ForwardOptions.withHooks(new Hooks().add(Hooks.attnScores(0), (n, v, c) -> {
                    scores.add(v);
                    return v;
                })));
                LMOutput out = warm.forward(ids, ForwardOptions.DEFAULT.withAttns(true));
                NDArray pattern = out.attns().get(":, 0"); // layer 0: [B,H,T,T]
                Tiny.assertPatternIsCausalSoftmax(scores.get(0).get(":, 0"), 1 / low, pattern.get(":, 0"));
                Tiny.assertPatternIsCausalSoftmax(scores.get(0).get(":, 1"), 1 / high, pattern.get(":, 1"));
                assertTrue(Tiny.maxAbsDiff(out.logits(), plain.forward(ids).logits()) > 1e-4, arch + ": the output changes");
                // part of the model wherever it runs: cached greedy decoding agrees with recomputing the context
                int[] prompt = {1, 2, 3};
                assertArrayEquals(Generation.sample(warm, prompt, 10, 0, null, null, -1, new Random(1), false),
                        Generation.sample(warm, prompt, 10, 0, null, null, -1, new Random(1), true), arch);
            }
        }
    }

    @Test
    void badArgumentsFailWhenTheModelIsBuilt() {
        ModelParams mp = Tiny.params("torch-transformer");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new LM(mp.with("recipes", "per_head_temperature(0, 1)"), Tiny.V, base, 1).close());
        assertTrue(e.getMessage().contains("positive temperatures"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> new LM(mp.with("recipes", "per_head_temperature(1)"), Tiny.V, base, 1).close());
        assertTrue(e.getMessage().contains("recipes.PerHeadTemperature has no public constructor taking 1 number"), e.getMessage());
    }
}
