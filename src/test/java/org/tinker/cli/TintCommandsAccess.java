package org.tinker.cli;

import org.tinker.tint.Mat;

/** Test access to the package-private helpers of {@link TintCommands}. */
public final class TintCommandsAccess {
    private TintCommandsAccess() {}

    /** Σ CE over the eval targets n_train..T−1. */
    public static double evalLoss(Mat logits, long[] ids, int nTrain) {
        return TintCommands.evalLoss(logits, ids, nTrain)[0];
    }
}
