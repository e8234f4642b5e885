package org.tinker.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Random;

/**
 * Generation from an {@link LM}: sampling (temperature, top-k or nucleus) and beam search, each with or without
 * a {@link KVCache}. Both paths share the same loop and differ only in how the next-token logits are computed,
 * so at temperature 0 they give the same tokens (the logits agree to float rounding).
 *
 * <p>Lengths follow the reference's {@code sample}: {@code maxLen} counts the prompt too and is capped at the
 * model's {@code max_seq_len}; generation stops there or right after {@code stopId}.
 */
public final class Generation {
    private Generation() {}

    /** Checks sampling settings (top_k and nucleus are mutually exclusive; temperature ≥ 0). */
    public static void check(double temperature, Integer topK, Double nucleus) {
        Sampler.check(temperature, topK, nucleus);
    }

    /** Samples one continuation; returns the prompt followed by the new ids. */
    public static int[] sample(LM lm, int[] prompt, int maxLen, double temperature, Integer topK, Double nucleus,
                               int stopId, Random rng, boolean useCache) {
        Sampler.check(temperature, topK, nucleus);
        int limit = limit(lm, prompt, maxLen);
        List<int[]> rows = new ArrayList<>(List.of(prompt.clone()));
        try (Stepper s = stepper(lm, useCache)) {
            float[][] logits = s.start(prompt, 1);
            int[] seq = Arrays.copyOf(prompt, limit);
            int n = prompt.length;
            while (n < limit) {
                int next = Sampler.pick(logits[0], temperature, topK, nucleus, rng);
                seq[n++] = next;
                if (next == stopId || n >= limit) break;
                rows.set(0, Arrays.copyOf(seq, n));
                logits = s.next(new int[] {0}, new int[] {next}, rows);
            }
            return Arrays.copyOf(seq, n);
        }
    }

    /**
     * Beam search: keeps the {@code beams} most likely continuations (sum of log-probabilities), and returns the
     * finished hypothesis with the best score {@code logp / newTokens^lengthPenalty} (0 = raw log-probability;
     * 1 = per-token average). A hypothesis finishes at {@code stopId} or at the length limit. With one beam this
     * is greedy decoding exactly.
     */
    public static int[] beamSearch(LM lm, int[] prompt, int maxLen, int beams, double lengthPenalty, int stopId,
                                   boolean useCache) {
        if (beams < 1) throw new IllegalArgumentException("beams must be >= 1, got " + beams);
        if (!Double.isFinite(lengthPenalty)) throw new IllegalArgumentException("lengthPenalty must be finite");
        int limit = limit(lm, prompt, maxLen);
        record Hyp(int[] seq, double logp) {}
        List<Hyp> active = new ArrayList<>(List.of(new Hyp(prompt.clone(), 0)));
        List<Hyp> finished = new ArrayList<>();
        if (limit == prompt.length) return prompt.clone();
        try (Stepper s = stepper(lm, useCache)) {
            float[][] logits = s.start(prompt, 1);
            while (!active.isEmpty()) {
                record Cand(int parent, int token, double logp) {}
                List<Cand> cands = new ArrayList<>();
                for (int i = 0; i < active.size(); i++) {
                    double[] lp = logSoftmax(logits[i]);
                    for (int tok : topIds(lp, 2 * beams)) cands.add(new Cand(i, tok, active.get(i).logp() + lp[tok]));
                }
                // best first; ties: earlier parent, then lower id (so one beam picks exactly the argmax)
                cands.sort(Comparator.comparingDouble((Cand c) -> -c.logp()).thenComparingInt(Cand::parent)
                        .thenComparingInt(Cand::token));
                List<Hyp> next = new ArrayList<>();
                List<Integer> parents = new ArrayList<>();
                List<Integer> tokens = new ArrayList<>();
                for (Cand c : cands) {
                    if (next.size() >= beams) break;
                    int[] p = active.get(c.parent()).seq();
                    int[] seq = Arrays.copyOf(p, p.length + 1);
                    seq[p.length] = c.token();
                    Hyp h = new Hyp(seq, c.logp());
                    if (c.token() == stopId || seq.length >= limit) {
                        finished.add(h);
                        if (finished.size() >= beams) break;
                    } else {
                        next.add(h);
                        parents.add(c.parent());
                        tokens.add(c.token());
                    }
                }
                if (finished.size() >= beams || next.isEmpty()) break;
                // stop early when no active beam can beat the best finished one (log-probs only fall)
                if (!finished.isEmpty() && lengthPenalty == 0) {
                    double bestDone = finished.stream().mapToDouble(Hyp::logp).max().orElseThrow();
                    if (next.stream().allMatch(h -> h.logp() < bestDone)) break;
                }
                active = next;
                logits = s.next(parents.stream().mapToInt(Integer::intValue).toArray(),
                        tokens.stream().mapToInt(Integer::intValue).toArray(), active.stream().map(Hyp::seq).toList());
            }
            if (finished.isEmpty()) finished.addAll(active);
            int gen = prompt.length;
            return finished.stream()
                    .max(Comparator.comparingDouble((Hyp h) -> h.logp() / Math.pow(Math.max(1, h.seq().length - gen), lengthPenalty)))
                    .orElseThrow().seq();
        }
    }

    /**
     * Whether generation from this model uses a KV cache when asked to: a GPT block stack whose recipes are causal
     * ({@link LM#cacheable()}). The hierarchical and flexi bodies have none (convolutions, merges, axial groups and causal
     * DFT/DCT would each need their own incremental state), and a recipe that looks at the whole input would make cached
     * steps compute another function: those recompute the whole context each step — the same tokens, slower.
     */
    public static boolean usesCache(LM lm, boolean useCache) {
        return useCache && lm.cacheable();
    }

    /** Why generation from this model recomputes the context instead of using a KV cache; null when it has one. */
    public static String whyNoCache(LM lm) {
        if (!lm.hasBlocks()) return "layer_architecture=" + lm.params().layer_architecture() + " has none";
        if (!lm.cacheable()) return "its recipes (" + lm.params().recipes() + ") look at the whole input";
        return null;
    }

    private static Stepper stepper(LM lm, boolean useCache) {
        return usesCache(lm, useCache) ? new Cached(lm) : new Uncached(lm);
    }

    private static int limit(LM lm, int[] prompt, int maxLen) {
        if (prompt.length == 0) throw new IllegalArgumentException("generation needs a non-empty prompt (e.g. just bos)");
        int cap = lm.params().max_seq_len();
        if (prompt.length > cap)
            throw new IllegalArgumentException("prompt of " + prompt.length + " tokens is longer than max_seq_len=" + cap);
        return Math.max(prompt.length, Math.min(maxLen, cap));
    }

    /** Index of the largest logit (the lowest on ties), as greedy decoding picks it. */
    public static int argmax(float[] logits) {
        return Sampler.argmax(logits);
    }

    /** Log-probabilities of one row of logits (max-shifted, in double). */
    public static double[] logSoftmax(float[] logits) {
        double max = Double.NEGATIVE_INFINITY;
        for (float f : logits) max = Math.max(max, f);
        double sum = 0;
        for (float f : logits) sum += Math.exp(f - max);
        double lse = max + Math.log(sum);
        double[] out = new double[logits.length];
        for (int i = 0; i < logits.length; i++) out[i] = logits[i] - lse;
        return out;
    }

    /** The k best ids by value, best first, ties by lower id. */
    static int[] topIds(double[] v, int k) {
        Integer[] order = new Integer[v.length];
        for (int i = 0; i < v.length; i++) order[i] = i;
        Arrays.sort(order, Comparator.comparingDouble((Integer i) -> -v[i]).thenComparingInt(i -> i));
        int[] out = new int[Math.min(k, v.length)];
        for (int i = 0; i < out.length; i++) out[i] = order[i];
        return out;
    }

    /** Computes last-position logits for a batch of rows that grow by one token per step. */
    private interface Stepper extends AutoCloseable {
        /** Logits [rows][V] at the prompt's last position. */
        float[][] start(int[] prompt, int rows);

        /** Row i continues row parents[i] with tokens[i]; seqs are the full rows after the step. */
        float[][] next(int[] parents, int[] tokens, List<int[]> seqs);

        @Override
        void close();
    }

    /** Recomputes the whole sequence every step (no cache), as {@link LM#sample} does. */
    private static final class Uncached implements Stepper {
        private final LM lm;
        private final boolean wasTraining;

        Uncached(LM lm) {
            this.lm = lm;
            this.wasTraining = lm.isTraining();
            lm.setTraining(false);
        }

        @Override
        public float[][] start(int[] prompt, int rows) {
            return last(List.of(prompt));
        }

        @Override
        public float[][] next(int[] parents, int[] tokens, List<int[]> seqs) {
            return last(seqs);
        }

        private float[][] last(List<int[]> seqs) {
            int b = seqs.size(), t = seqs.get(0).length;
            long[] flat = new long[b * t];
            for (int i = 0; i < b; i++) for (int j = 0; j < t; j++) flat[i * t + j] = seqs.get(i)[j];
            try (NDManager scope = lm.manager().newSubManager()) {
                NDArray logits = lm.forward(scope.create(flat, new Shape(b, t))).logits();
                return rowsOf(logits.get(":, -1, :"));
            }
        }

        @Override
        public void close() {
            lm.setTraining(wasTraining);
        }
    }

    /** Feeds only the new tokens, through a {@link KVCache}. */
    private static final class Cached implements Stepper {
        private final LM lm;
        private final KVCache cache;

        /** Intra-op threads before this stepper set one; restored by {@link #close}. */
        private final int threads = JniUtils.getNumThreads();

        Cached(LM lm) {
            this.lm = lm;
            this.cache = new KVCache(lm);
            // A cached step is a chain of small ops (one token): waking a second OpenMP thread for each costs more than
            // it saves (measured on bench-char: 886 tokens/s on one thread, 435 on two). Set once per generation:
            // changing the count per step has its own cost (libtorch resizes its thread pools).
            if (threads > 1) JniUtils.setNumThreads(1);
        }

        @Override
        public float[][] start(int[] prompt, int rows) {
            try (NDManager scope = lm.manager().newSubManager()) {
                long[] ids = Arrays.stream(prompt).asLongStream().toArray();
                NDArray logits = cache.forward(scope.create(ids, new Shape(1, ids.length)));
                return rowsOf(logits.get(":, -1, :"));
            }
        }

        @Override
        public float[][] next(int[] parents, int[] tokens, List<int[]> seqs) {
            boolean identity = parents.length == cache.batchSize();
            for (int i = 0; identity && i < parents.length; i++) identity = parents[i] == i;
            if (!identity) cache.reorder(parents);
            try (NDManager scope = lm.manager().newSubManager()) {
                long[] ids = Arrays.stream(tokens).asLongStream().toArray();
                NDArray logits = cache.forward(scope.create(ids, new Shape(ids.length, 1))); // [B,1,V]: the rows as they are
                return rowsOf(logits.reshape(ids.length, -1));
            }
        }

        @Override
        public void close() {
            cache.close();
            if (threads > 1) JniUtils.setNumThreads(threads);
        }
    }

    private static float[][] rowsOf(NDArray last) {
        int b = Math.toIntExact(last.getShape().get(0)), v = Math.toIntExact(last.getShape().get(1));
        float[] flat = last.toType(DataType.FLOAT32, false).toFloatArray();
        float[][] out = new float[b][v];
        for (int i = 0; i < b; i++) System.arraycopy(flat, i * v, out[i], 0, v);
        return out;
    }
}
