package org.tinker.data;

/**
 * A batch of token sequences, right-padded, ready for the model. Sequences are of length T+1: the model
 * reads {@code ids[:, :-1]} and predicts {@code ids[:, 1:]}.
 *
 * @param ids [B, T+1] token ids, padded with the tokenizer's pad id
 * @param lossMask [B, T] 1 where the target {@code ids[b, t+1]} counts in the loss, else 0 (pads, masked prefixes)
 * @param lengths real length of each sequence (≤ T+1)
 */
public record Batch(int[][] ids, float[][] lossMask, int[] lengths) {
    public int size() {
        return ids.length;
    }

    /** T+1. */
    public int width() {
        return ids[0].length;
    }

    /** Number of target tokens that count in the loss. */
    public long targetTokens() {
        long n = 0;
        for (float[] row : lossMask) for (float v : row) if (v > 0) n++;
        return n;
    }
}
