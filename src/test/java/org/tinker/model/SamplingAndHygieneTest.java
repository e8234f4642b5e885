package org.tinker.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.BaseNDManager;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SamplingAndHygieneTest extends WithBaseManager {
    /** Greedy decoding by hand: forward the (cropped) sequence, take the argmax of the last position. */
    private static int[] greedyByHand(LM lm, int[] prompt, int n) {
        int[] seq = Arrays.copyOf(prompt, prompt.length + n);
        for (int i = prompt.length; i < seq.length; i++) {
            int start = Math.max(0, i - Tiny.MAX_T);
            try (NDManager step = base.newSubManager()) {
                long[] ctx = Arrays.stream(Arrays.copyOfRange(seq, start, i)).asLongStream().toArray();
                NDArray logits = lm.forward(step.create(ctx, new Shape(1, ctx.length))).logits();
                seq[i] = (int) logits.get(0, ctx.length - 1).argMax().getLong();
            }
        }
        return seq;
    }

    @ParameterizedTest
    @ValueSource(strings = {"torch-transformer", "custom-transformer"})
    void sampling(String arch) {
        try (LM lm = new LM(Tiny.params(arch).with("norm_first", true), Tiny.V, base, 21)) {
            Tiny.sharpenAttention(lm, 5);
            int[] prompt = {1, 2, 3};
            int[] greedy = lm.sample(prompt, 14, 0, null, null, -1, new Random(0)); // crosses max_seq_len=12
            assertEquals(prompt.length + 14, greedy.length);
            assertArrayEquals(greedyByHand(lm, prompt, 14), greedy);
            assertArrayEquals(greedy, lm.sample(prompt, 14, 1.0, 1, null, -1, new Random(5)), "top_k=1 is greedy");
            assertArrayEquals(greedy, lm.sample(prompt, 14, 0.7, null, 1e-9, -1, new Random(5)), "tiny nucleus is greedy");

            int[] a = lm.sample(prompt, 10, 1.5, null, 0.9, -1, new Random(7));
            assertArrayEquals(a, lm.sample(prompt, 10, 1.5, null, 0.9, -1, new Random(7)), "same rng, same sample");
            assertTrue(Arrays.stream(a).allMatch(t -> t >= 0 && t < Tiny.V));

            int stop = greedy[prompt.length + 2];
            int firstStop = prompt.length;
            while (greedy[firstStop] != stop) firstStop++;
            assertArrayEquals(Arrays.copyOf(greedy, firstStop + 1), lm.sample(prompt, 14, 0, null, null, stop, new Random(0)));

            assertThrows(IllegalArgumentException.class, () -> lm.sample(prompt, 3, 1.0, 5, 0.9, -1, new Random(0)));
            lm.setTraining(true);
            lm.sample(prompt, 1, 0, null, null, -1, new Random(0));
            assertTrue(lm.isTraining(), "sampling restores the training flag");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"torch-transformer", "custom-transformer"})
    void stepScopesKeepTheModelManagerFromGrowing(String arch) {
        try (LM lm = new LM(Tiny.params(arch).with("pos_encoding", "sin")
                .with("activation", "gelu"), Tiny.V, base, 1)) {
            lm.setDropout(0.1);
            lm.setTraining(true);
            BaseNDManager own = (BaseNDManager) lm.manager();
            Hooks hooks = new Hooks().add("blocks.*.attn.scores", (n, v, c) -> v.mul(1.5));
            ForwardOptions opts = new ForwardOptions(true, true, hooks, null);
            NDManager keep = base.newSubManager(); // a long-lived mask, as a trainer might hold
            NDArray sharedMask = keep.ones(new Shape(2, 8));
            int before = -1;
            for (int i = 0; i < 21; i++) {
                try (NDManager step = base.newSubManager();
                     GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    NDArray ids = Tiny.randomIds(step, i, 2, 9);
                    LMOutput out = lm.forward(ids.get(":, :-1"), opts);
                    assertSame(step, out.logits().getManager());
                    assertSame(step, out.attns().getManager());
                    assertSame(step, out.embeddings().getManager());
                    LossResult r = lm.loss(ids, sharedMask);
                    assertSame(step, r.loss().getManager());
                    gc.backward(r.loss());
                }
                for (NDArray p : lm.parameters().values()) p.getGradient().close();
                lm.zeroGradients();
                if (i == 0) before = own.getManagedArrays().size(); // after the first step built the constants
            }
            lm.sample(new int[] {1}, 3, 1.0, null, null, -1, new Random(1));
            assertEquals(before, own.getManagedArrays().size());
            assertEquals(1, ((BaseNDManager) keep).getManagedArrays().size(), "nothing lands in the mask's manager");
            keep.close();
            assertEquals(lm.parameters().size() + 2, before, "parameters + causal mask + sin table");
        }
    }

    /** The primitive-key sort orders candidates exactly as the comparator it replaces (ties, signs, ±0 included). */
    @org.junit.jupiter.api.Test
    void candidateOrderMatchesTheComparator() {
        java.util.Random r = new java.util.Random(5);
        for (int trial = 0; trial < 20; trial++) {
            float[] logits = new float[1 + r.nextInt(300)];
            for (int i = 0; i < logits.length; i++)
                logits[i] = switch (r.nextInt(5)) {
                    case 0 -> 0f;
                    case 1 -> -0f;
                    case 2 -> (float) r.nextInt(3) - 1; // ties
                    default -> (float) (r.nextGaussian() * 1e3);
                };
            Integer[] expected = java.util.stream.IntStream.range(0, logits.length).boxed().toArray(Integer[]::new);
            java.util.Arrays.sort(expected, java.util.Comparator.comparingDouble((Integer i) -> -logits[i]).thenComparingInt(i -> i));
            org.junit.jupiter.api.Assertions.assertArrayEquals(java.util.Arrays.stream(expected).mapToInt(Integer::intValue).toArray(),
                    Sampler.byDecreasingLogit(logits));
        }
    }
}
