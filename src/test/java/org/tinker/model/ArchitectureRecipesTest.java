package org.tinker.model;

import static org.junit.jupiter.api.Assertions.*;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tinker.config.ModelParams;

/**
 * The reference README's architecture recipes ({@link ArchitectureRecipes}), each with a test that proves the
 * effect: the tensor after the hook is checked against an independent computation from the unhooked run.
 */
class ArchitectureRecipesTest extends WithBaseManager {
    /** Pre-norm custom-transformer with sharp attention (so score changes show in the output). */
    private static LM model() {
        ModelParams mp = Tiny.params("custom-transformer", true, "learned", false, false, true, "gelu");
        LM lm = new LM(mp, Tiny.V, base, 21);
        Tiny.sharpenAttention(lm, 20);
        return lm;
    }

    /** Adds a recording hook at {@code point} after the recipe's hooks, so it sees their result. */
    private static Hooks record(Hooks hooks, String point, List<NDArray> into) {
        return hooks.add(point, (n, v, c) -> {
            into.add(v);
            return v;
        });
    }

    @Test
    void reluAfterFirstBlockMakesItsOutputNonNegative() {
        try (LM lm = model(); NDManager step = base.newSubManager()) {
            NDArray ids = Tiny.randomIds(step, 1, 2, 10);
            List<NDArray> plain = new ArrayList<>(), hooked = new ArrayList<>();
            lm.forward(ids, ForwardOptions.withHooks(record(new Hooks(), Hooks.residPost(0), plain)));
            LMOutput out = lm.forward(ids, new ForwardOptions(false, true,
                    record(ArchitectureRecipes.reluAfterFirstBlock(), Hooks.residPost(0), hooked), null));
            assertTrue(Tiny.scalar(plain.get(0).min()) < 0, "without the recipe block 0 has negative outputs");
            assertTrue(Tiny.scalar(hooked.get(0).min()) >= 0, "with it, none");
            // block 1 reads exactly relu(unhooked block-0 output)
            assertEquals(0.0, Tiny.maxAbsDiff(out.embeddings().get(":, 1"), plain.get(0).maximum(0f)));
        }
    }

    @Test
    void squaredFeedForwardOutputIsTheSquareOfTheUnhookedOne() {
        try (LM lm = model(); NDManager step = base.newSubManager()) {
            NDArray ids = Tiny.randomIds(step, 2, 2, 10);
            List<NDArray> plain = new ArrayList<>(), hooked = new ArrayList<>();
            lm.forward(ids, ForwardOptions.withHooks(record(new Hooks(), Hooks.mlpOut(0), plain)));
            lm.forward(ids, ForwardOptions.withHooks(record(ArchitectureRecipes.squareFeedForwardOutput(), Hooks.mlpOut(0), hooked)));
            NDArray p = plain.get(0);
            assertTrue(Tiny.scalar(p.min()) < 0, "the unhooked output has negative entries, so squaring is visible");
            assertEquals(0.0, Tiny.maxAbsDiff(hooked.get(0), p.mul(p)));
            // ...and in every layer (the wildcard): layer 1's recorded output is never negative
            List<NDArray> layer1 = new ArrayList<>();
            lm.forward(ids, ForwardOptions.withHooks(record(ArchitectureRecipes.squareFeedForwardOutput(), Hooks.mlpOut(1), layer1)));
            assertTrue(Tiny.scalar(layer1.get(0).min()) >= 0);
        }
    }

    @Test
    void scaledScoresGiveSoftmaxOfScaledScores() {
        double c = 0.37;
        try (LM lm = model(); NDManager step = base.newSubManager()) {
            NDArray ids = Tiny.randomIds(step, 3, 2, 9);
            List<NDArray> scores = new ArrayList<>(), patterns = new ArrayList<>();
            lm.forward(ids, ForwardOptions.withHooks(record(new Hooks(), Hooks.attnScores(0), scores)));
            LMOutput out = lm.forward(ids, new ForwardOptions(true, false, ArchitectureRecipes.scaleAttentionScores(c), null));
            assertPatternIsCausalSoftmax(scores.get(0), c, out.attns().get(":, 0"));
            assertTrue(Tiny.maxAbsDiff(out.logits(), lm.forward(ids).logits()) > 1e-4, "the output changes");
        }
    }

    @Test
    void scoresAreScaledOnlyInBatchesHoldingToken10() {
        double c = 3;
        try (LM lm = model(); NDManager step = base.newSubManager()) {
            long[] a = new long[18], b = new long[18];
            for (int i = 0; i < 18; i++) a[i] = b[i] = i % 10; // ids 0..9 only
            b[13] = 10;                                         // one token 10 in row 1
            NDArray without = step.create(a, new Shape(2, 9)), with = step.create(b, new Shape(2, 9));
            Hooks hooks = ArchitectureRecipes.scaleAttentionScoresWhenRequested(c);

            assertFalse(ArchitectureRecipes.containsToken(without, 10));
            assertTrue(ArchitectureRecipes.containsToken(with, 10));
            ForwardOptions optsWithout = new ForwardOptions(true, false, hooks, ArchitectureRecipes.containsToken(without, 10));
            assertEquals(0.0, Tiny.maxAbsDiff(lm.forward(without, optsWithout).logits(), lm.forward(without).logits()),
                    "no token 10: exactly the plain model");

            List<NDArray> scores = new ArrayList<>();
            lm.forward(with, ForwardOptions.withHooks(record(new Hooks(), Hooks.attnScores(0), scores)));
            LMOutput out = lm.forward(with, new ForwardOptions(true, false, hooks, ArchitectureRecipes.containsToken(with, 10)));
            assertPatternIsCausalSoftmax(scores.get(0), c, out.attns().get(":, 0")); // both rows: the batch holds a 10

            // The same options during training (TrainingCallback.forwardOptions returns them): the loss and its
            // gradient follow the scaled model.
            NDArray x = with.get(":, :-1"), y = with.get(":, 1:");
            NDArray mask = step.ones(x.getShape(), DataType.FLOAT32);
            double plainLoss = Tiny.scalar(lm.loss(x, y, mask, ForwardOptions.DEFAULT).loss());
            try (GradientCollector gc = base.getEngine().newGradientCollector()) {
                NDArray loss = lm.loss(x, y, mask, ForwardOptions.withHooks(hooks).withAttnRequests(true)).loss();
                assertNotEquals(plainLoss, Tiny.scalar(loss), 1e-6);
                gc.backward(loss);
            }
            try (NDArray g = lm.parameters().get("transformer.h.0.attn.c_attn.weight").getGradient()) {
                assertTrue(Tiny.scalar(g.abs().sum()) > 0);
            }
            lm.zeroGradients();
        }
    }

    /** pattern [B,H,T,T] == causal softmax(c · scores) row by row, computed here in plain Java. */
    private static void assertPatternIsCausalSoftmax(NDArray scores, double c, NDArray pattern) {
        int t = (int) scores.getShape().get(3);
        double[] s = scores.toType(DataType.FLOAT64, false).toDoubleArray();
        double[] p = pattern.toType(DataType.FLOAT64, false).toDoubleArray();
        assertEquals(s.length, p.length);
        for (int row = 0; row < s.length / t; row++) {
            int q = row % t;
            double max = Double.NEGATIVE_INFINITY, z = 0;
            for (int k = 0; k <= q; k++) max = Math.max(max, c * s[row * t + k]);
            for (int k = 0; k <= q; k++) z += Math.exp(c * s[row * t + k] - max);
            for (int k = 0; k < t; k++) {
                double want = k <= q ? Math.exp(c * s[row * t + k] - max) / z : 0;
                assertEquals(want, p[row * t + k], 1e-5, "row " + row + " key " + k);
            }
        }
    }
}
