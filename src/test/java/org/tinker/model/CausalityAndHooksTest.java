package org.tinker.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class CausalityAndHooksTest extends WithBaseManager {
    @ParameterizedTest
    @ValueSource(strings = {"torch-transformer", "custom-transformer"})
    void futureTokensDoNotChangeThePast(String arch) {
        for (boolean normFirst : new boolean[] {false, true}) {
            try (LM lm = new LM(Tiny.params(arch).with("norm_first", normFirst)
                    .with("pos_encoding", "sin"), Tiny.V, base, 3);
                 NDManager step = base.newSubManager()) {
                int t = 10;
                long[] ids = Tiny.randomIds(step, 11, 1, t).toLongArray();
                NDArray before = lm.forward(step.create(ids)).logits(); // 1-D input → B=1
                assertEquals(3, before.getShape().dimension());
                for (int cut = 0; cut < t - 1; cut++) {
                    long[] changed = ids.clone();
                    for (int j = cut + 1; j < t; j++) changed[j] = (changed[j] + 1 + j) % Tiny.V;
                    NDArray after = lm.forward(step.create(changed)).logits();
                    String upTo = ":, :" + (cut + 1);
                    assertEquals(0.0, Tiny.maxAbsDiff(before.get(upTo), after.get(upTo)), 1e-6, "cut=" + cut);
                    assertTrue(Tiny.maxAbsDiff(before.get(":, " + (cut + 1)), after.get(":, " + (cut + 1))) > 1e-6,
                            "changing token " + (cut + 1) + " must change its own logits");
                }
            }
        }
    }

    @Test
    void doublingScoresReallyDoublesThem() {
        // Pre-norm, so block 0's attention reads normalised (not tiny raw-embedding) inputs and its scores matter.
        try (LM lm = new LM(Tiny.params("custom-transformer").with("norm_first", true), Tiny.V, base, 4);
             NDManager step = base.newSubManager()) {
            Tiny.sharpenAttention(lm, 30);
            NDArray ids = Tiny.randomIds(step, 5, 2, 8);
            NDArray plain = lm.forward(ids).logits();

            List<NDArray> scoresSeen = new ArrayList<>();
            List<NDArray> patternsSeen = new ArrayList<>();
            Hooks hooks = new Hooks()
                    .add(Hooks.attnScores(0), (name, v, ctx) -> {
                        assertEquals(0, ctx.layer());
                        scoresSeen.add(v);
                        return v.mul(2);
                    })
                    .add("blocks.*.attn.pattern", (name, v, ctx) -> {
                        patternsSeen.add(v);
                        return v;
                    });
            NDArray hooked = lm.forward(ids, ForwardOptions.withHooks(hooks)).logits();
            assertTrue(Tiny.maxAbsDiff(plain, hooked) > 1e-4, "the hook must change the output");
            assertEquals(1, scoresSeen.size());
            assertEquals(2, patternsSeen.size(), "wildcard hook runs once per layer");

            // Independently: pattern = causal softmax of 2·scores, in plain Java.
            NDArray scores = scoresSeen.get(0); // [B,H,T,T]
            int t = 8;
            double[] s = scores.toType(DataType.FLOAT64, false).toDoubleArray();
            double[] p = patternsSeen.get(0).toType(DataType.FLOAT64, false).toDoubleArray();
            for (int row = 0; row < s.length / t; row++) {
                int q = row % t;
                double max = Double.NEGATIVE_INFINITY;
                for (int k = 0; k <= q; k++) max = Math.max(max, 2 * s[row * t + k]);
                double z = 0;
                for (int k = 0; k <= q; k++) z += Math.exp(2 * s[row * t + k] - max);
                for (int k = 0; k < t; k++) {
                    double expected = k <= q ? Math.exp(2 * s[row * t + k] - max) / z : 0;
                    assertEquals(expected, p[row * t + k], 1e-6);
                }
            }
        }
    }

    @Test
    void hookActsOnlyWhenRequested() {
        try (LM lm = new LM(Tiny.params("custom-transformer"), Tiny.V, base, 4);
             NDManager step = base.newSubManager()) {
            Tiny.sharpenAttention(lm, 30);
            NDArray ids = Tiny.randomIds(step, 6, 2, 8);
            Hooks hooks = new Hooks().add("blocks.*.attn.scores", (name, v, ctx) ->
                    ctx.attnRequests() instanceof Set<?> layers && layers.contains(ctx.layer()) ? v.mul(3) : v);
            NDArray plain = lm.forward(ids).logits();
            NDArray notAsked = lm.forward(ids, ForwardOptions.withHooks(hooks)).logits();
            NDArray asked = lm.forward(ids, ForwardOptions.withHooks(hooks).withAttnRequests(Set.of(1))).logits();
            // the unhooked pass takes the fused attention kernel, the hooked one the explicit route: float rounding apart
            assertEquals(0.0, Tiny.maxAbsDiff(plain, notAsked), 1e-6);
            assertTrue(Tiny.maxAbsDiff(plain, asked) > 1e-4);
        }
    }

    @Test
    void residualHooksSeeTheEmbeddingsAndCanReplaceThem() {
        try (LM lm = new LM(Tiny.params("custom-transformer"), Tiny.V, base, 8);
             NDManager step = base.newSubManager()) {
            NDArray ids = Tiny.randomIds(step, 7, 2, 6);
            List<NDArray> post = new ArrayList<>();
            Hooks hooks = new Hooks()
                    .add("blocks.*.resid_post", (n, v, c) -> { post.add(v); return v; })
                    .add(Hooks.LN_F_OUT, (n, v, c) -> v.zerosLike());
            LMOutput out = lm.forward(ids, new ForwardOptions(false, true, hooks, null));
            assertEquals(0.0, Tiny.maxAbsDiff(out.embeddings().get(":, 1"), post.get(0)));
            assertEquals(0.0, Tiny.maxAbsDiff(out.embeddings().get(":, 2"), post.get(1)));
            assertEquals(0.0, Tiny.scalar(out.logits().abs().max()), "zeroed ln_f.out → zero logits (head has no bias)");

            Hooks typo = new Hooks().add("blocks.0.attn.score", (n, v, c) -> v);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> lm.forward(ids, ForwardOptions.withHooks(typo)));
            assertTrue(e.getMessage().contains("blocks.0.attn.score"));
        }
    }
}
