package org.tinker.explore;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import org.tinker.model.LM;

/**
 * Perplexity of a long token sequence with a sliding window, as in the Hugging Face perplexity guide: windows of
 * {@code maxLength} tokens start every {@code stride} tokens; in each window only the tokens not scored by an
 * earlier window count (the rest are context), so every token after the first is predicted exactly once, with up
 * to {@code maxLength − stride} tokens of context. Each window's token-mean loss is weighted by its number of
 * scored tokens. The very first token has no prediction, and neither has the first token of a window that has no
 * context (stride = maxLength), exactly as in the guide (its labels are shifted inside the window).
 */
public final class SlidingPerplexity {
    private SlidingPerplexity() {}

    /** tokens = predictions scored; nll = their summed negative log-likelihood (nats). */
    public record Result(long tokens, double nll, int windows) {
        public double natsPerToken() {
            return nll / tokens;
        }

        public double perplexity() {
            return Math.exp(natsPerToken());
        }

        @Override
        public String toString() {
            return String.format("%,d tokens in %d windows: %.4f nats/token, perplexity %.3f", tokens, windows, natsPerToken(), perplexity());
        }
    }

    public static Result compute(LM lm, int[] ids, int maxLength, int stride) {
        if (maxLength < 2 || maxLength > lm.params().max_seq_len())
            throw new IllegalArgumentException("maxLength must be in [2, max_seq_len=" + lm.params().max_seq_len() + "], got " + maxLength);
        if (stride < 1 || stride > maxLength) throw new IllegalArgumentException("stride must be in [1, maxLength], got " + stride);
        if (ids.length < 2) throw new IllegalArgumentException("need at least 2 tokens");
        boolean was = lm.isTraining();
        lm.setTraining(false);
        double nll = 0;
        long tokens = 0;
        int windows = 0;
        try {
            int prevEnd = 0;
            for (int begin = 0; begin < ids.length; begin += stride) {
                int end = Math.min(begin + maxLength, ids.length);
                int trgLen = end - prevEnd; // tokens scored in this window: the last trgLen positions (never position 0)
                long[] w = new long[end - begin];
                for (int i = 0; i < w.length; i++) w[i] = ids[begin + i];
                try (NDManager scope = lm.manager().newSubManager()) {
                    NDArray logits = lm.forward(scope.create(w)).logits().get(0); // [T,V]
                    NDArray logp = logits.logSoftmax(-1);
                    int firstTarget = Math.max(1, w.length - trgLen); // window position of the first scored target
                    // prediction for position j comes from row j-1
                    NDArray rows = logp.get(firstTarget - 1 + ":" + (w.length - 1));
                    long[] tgt = new long[w.length - firstTarget];
                    for (int j = firstTarget; j < w.length; j++) tgt[j - firstTarget] = w[j];
                    NDArray picked = rows.gather(scope.create(tgt).expandDims(1), 1);
                    nll -= picked.sum().toType(DataType.FLOAT64, false).getDouble();
                    tokens += tgt.length;
                }
                windows++;
                prevEnd = end;
                if (end == ids.length) break;
            }
        } finally {
            lm.setTraining(was);
        }
        return new Result(tokens, nll, windows);
    }
}
