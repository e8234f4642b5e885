package org.tinker.model;

import ai.djl.ndarray.NDArray;

/**
 * The language-modelling loss of one batch.
 *
 * @param loss    scalar: mean cross-entropy over the target tokens whose mask is 1 (token-weighted, so a
 *                batch with many masked tokens counts each remaining token fully); 0 when no token counts
 * @param tokens  how many target tokens counted
 * @param correct how many of those the model's argmax predicted exactly
 * @param extra   further statistics of the batch by name (e.g. the hierarchical transformer's {@code ce},
 *                {@code recon_loss}, {@code hier_ar_loss}); the trainer logs each as {@code stat/train_batch_<name>:main}
 */
public record LossResult(NDArray loss, long tokens, long correct, java.util.Map<String, Double> extra) {
    public LossResult(NDArray loss, long tokens, long correct) {
        this(loss, tokens, correct, java.util.Map.of());
    }

    /** Fraction of counted tokens predicted exactly; 0 when none counted. */
    public double accuracy() {
        return tokens == 0 ? 0 : (double) correct / tokens;
    }
}
