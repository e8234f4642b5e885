package org.tinker.model;

import java.util.Arrays;
import java.util.Random;

/** Picks the next token from one row of logits, in plain Java (a vocabulary row is small). */
final class Sampler {
    private Sampler() {}

    static void check(double temperature, Integer topK, Double nucleus) {
        if (topK != null && nucleus != null)
            throw new IllegalArgumentException("top_k and nucleus (top_p) sampling are mutually exclusive; set one");
        if (!(temperature >= 0) || Double.isInfinite(temperature))
            throw new IllegalArgumentException("temperature must be a finite number >= 0 (0 = greedy), got " + temperature);
        if (topK != null && topK < 1) throw new IllegalArgumentException("top_k must be >= 1, got " + topK);
        if (nucleus != null && !(nucleus > 0 && nucleus <= 1))
            throw new IllegalArgumentException("nucleus (top_p) must be in (0, 1], got " + nucleus);
    }

    static int argmax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
        return best;
    }

    /**
     * Ids by decreasing logit, ties by lower id first (matching argmax): the order of
     * {@code comparingDouble(i -> -logits[i]).thenComparingInt(i -> i)}, computed by sorting primitive keys
     * (the float's bits made order-preserving in the high word, the id in the low word) — a 10k vocabulary sorts in
     * well under a millisecond instead of several with boxed comparators.
     */
    static int[] byDecreasingLogit(float[] logits) {
        long[] keys = new long[logits.length];
        for (int i = 0; i < logits.length; i++) {
            int bits = Float.floatToIntBits(-logits[i]);
            bits ^= (bits >> 31) & 0x7fffffff; // negative floats: flip magnitude bits so int order = float order
            keys[i] = ((long) bits << 32) | i;
        }
        Arrays.sort(keys);
        int[] order = new int[logits.length];
        for (int i = 0; i < order.length; i++) order[i] = (int) keys[i];
        return order;
    }

    static int pick(float[] logits, double temperature, Integer topK, Double nucleus, Random rng) {
        if (temperature == 0) return argmax(logits);
        int v = logits.length;
        int[] order = byDecreasingLogit(logits);
        int keep = topK == null ? v : Math.min(topK, v);

        // Softmax over the kept candidates, shifted by the max for stability.
        double max = logits[order[0]] / temperature;
        double[] p = new double[keep];
        double total = 0;
        for (int r = 0; r < keep; r++) total += p[r] = Math.exp(logits[order[r]] / temperature - max);
        if (nucleus != null) {
            // Smallest prefix whose probability mass reaches the nucleus (always at least one token).
            double mass = 0;
            int r = 0;
            while (r < keep) {
                mass += p[r++] / total;
                if (mass >= nucleus) break;
            }
            keep = r;
            total = 0;
            for (int i = 0; i < keep; i++) total += p[i];
        }
        double u = rng.nextDouble() * total;
        for (int r = 0; r < keep; r++) {
            u -= p[r];
            if (u < 0) return order[r];
        }
        return order[keep - 1];
    }
}
