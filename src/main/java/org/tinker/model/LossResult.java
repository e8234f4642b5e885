package org.tinker.model;

import ai.djl.ndarray.NDArray;

/**
 * The language-modelling loss of one batch.
 *
 * @param loss    scalar: mean cross-entropy over the target tokens whose mask is 1 (token-weighted, so a
 *                batch with many masked tokens counts each remaining token fully); 0 when no token counts
 * @param tokens  how many target tokens counted
 * @param correct how many of those the model's argmax predicted exactly
 */
public record LossResult(NDArray loss, long tokens, long correct) {
    /** Fraction of counted tokens predicted exactly; 0 when none counted. */
    public double accuracy() {
        return tokens == 0 ? 0 : (double) correct / tokens;
    }
}
