package org.tinker.tint;

import org.tinker.config.TintParams;

/**
 * The loss gradient at the top of the simulated model (docs/models/tint.md, "The construction" step 2a). The original computes it outside the
 * TinT modules, from the final hidden state h_f and the tied LM head E (V×D), so the construction ({@link TintModel})
 * and the reference ({@link TintSgd}) share this one implementation. The three options of the original
 * ({@code tint_gpt.py:1077-1087}, {@code tint_opt.py:1120-1130}), written as dℓ/d(logits) with logits = E·h_f and
 * y = x_{t+1}:
 *
 * <ul>
 *   <li>{@link TintParams.Loss#PREDICTION}: cross-entropy, softmax(E h) − e_y;
 *   <li>{@link TintParams.Loss#QUAD} (Saunshi et al.): ℓ = ½‖E h‖² − (E h)_y, so E h − e_y;
 *   <li>{@link TintParams.Loss#MEAN}: the original's third branch δh = mean_v E_v − E_y, which is 𝟙/V − e_y in logit
 *       space (the cross-entropy gradient at a uniform prediction; ℓ = mean_v (E h)_v − (E h)_y).
 * </ul>
 * δh_f = Eᵀ·(that). Every option is masked alike (the original multiplies the gradient by the shifted
 * bidirection_mask after the branch): only the train targets t ≤ nTrain−2 (t ∈ 𝒯) are non-zero, and of those only the
 * ones the input's gradient_mask keeps ({@link IclInput#withLossTokens}).
 */
final class LossGradient {
    private LossGradient() {}

    /**
     * dℓ/d(logits) for rows t ≤ nTrain−2, zero elsewhere, divided by {@code divisor} (1 for the summed loss TinT uses,
     * the target count for a mean loss).
     */
    static Mat logits(Mat logits, long[] ids, int nTrain, IclInput icl, TintParams.Loss loss, double divisor, boolean f32) {
        int T = logits.rows, V = logits.cols;
        Mat d = new Mat(T, V, f32);
        for (int t = 0; t <= nTrain - 2; t++) {
            if (!icl.inLoss(t)) continue;
            int y = (int) ids[t + 1];
            switch (loss) {
                case PREDICTION -> {
                    double m = Double.NEGATIVE_INFINITY;
                    for (int v = 0; v < V; v++) m = Math.max(m, logits.get(t, v));
                    double z = 0;
                    for (int v = 0; v < V; v++) z += Math.exp(logits.get(t, v) - m);
                    for (int v = 0; v < V; v++) d.set(t, v, (Math.exp(logits.get(t, v) - m) / z - (v == y ? 1 : 0)) / divisor);
                }
                case QUAD -> {
                    for (int v = 0; v < V; v++) d.set(t, v, (logits.get(t, v) - (v == y ? 1 : 0)) / divisor);
                }
                case MEAN -> {
                    for (int v = 0; v < V; v++) d.set(t, v, (1.0 / V - (v == y ? 1 : 0)) / divisor);
                }
            }
        }
        return d;
    }

    /** δh_f = Eᵀ·dℓ/d(logits) (T×D) for the summed loss, with logits = h_f·Eᵀ given. */
    static Mat hidden(Mat logits, Mat wte, long[] ids, int nTrain, TintParams.Loss loss, boolean f32) {
        return hidden(logits, wte, ids, nTrain, IclInput.NONE, loss, f32);
    }

    /** The same with the input's gradient_mask ({@link IclInput#withLossTokens}). */
    static Mat hidden(Mat logits, Mat wte, long[] ids, int nTrain, IclInput icl, TintParams.Loss loss, boolean f32) {
        return logits(logits, ids, nTrain, icl, loss, 1, f32).mm(wte);
    }

    /** The number of rows in the inner loss: train targets t ≤ nTrain−2 that the gradient_mask keeps. */
    static int count(int nTrain, IclInput icl) {
        int n = 0;
        for (int t = 0; t <= nTrain - 2; t++) if (icl.inLoss(t)) n++;
        return n;
    }
}
