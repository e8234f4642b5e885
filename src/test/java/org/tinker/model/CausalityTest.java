package org.tinker.model;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.tinker.config.ModelParams;

/**
 * Causality for every architecture and variant: the logits at position t do not change when any token after t
 * changes (and do change when a token at or before t does, so the test cannot pass on a constant model).
 */
class CausalityTest extends WithBaseManager {
    static List<ModelParams> everyVariant() {
        List<ModelParams> out = new ArrayList<>(Tiny.variants("torch-transformer"));
        out.addAll(Tiny.variants("custom-transformer"));
        return out;
    }

    @ParameterizedTest(name = "{index}: {0}")
    @MethodSource("everyVariant")
    void futureTokensDoNotChangePastLogits(ModelParams mp) {
        try (LM lm = new LM(mp, Tiny.V, base, 4); NDManager step = base.newSubManager()) {
            Tiny.sharpenAttention(lm, 4f);
            assertCausal(ids -> lm.forward(ids).logits(), step, Tiny.describe(mp));
        }
    }

    /** Changes the token at every position s in turn; logits before s must stay, logits at s must move. */
    static void assertCausal(java.util.function.Function<NDArray, NDArray> logitsOf, NDManager step, String what) {
        int t = Tiny.MAX_T;
        NDArray ids = Tiny.randomIds(step, 11, 2, t);
        NDArray ref = logitsOf.apply(ids);
        long[] flat = ids.toLongArray();
        for (int s = 0; s < t; s++) {
            long[] changed = flat.clone();
            for (int b = 0; b < 2; b++) changed[b * t + s] = (changed[b * t + s] + 1 + s % 3) % Tiny.V;
            NDArray out = logitsOf.apply(step.create(changed, ids.getShape()));
            if (s > 0) {
                double before = Tiny.maxAbsDiff(ref.get(":, 0:" + s), out.get(":, 0:" + s));
                assertTrue(before == 0 || before < 1e-6, what + ": changing token " + s + " moved earlier logits by " + before);
            }
            double at = Tiny.maxAbsDiff(ref.get(":, " + s + ":"), out.get(":, " + s + ":"));
            assertTrue(at > 1e-6, what + ": changing token " + s + " changed nothing at or after it");
        }
    }
}
