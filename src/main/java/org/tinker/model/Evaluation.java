package org.tinker.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.tinker.data.Batch;
import org.tinker.data.DataModule;
import org.tinker.engine.Ops;

/** An LM's loss over a data split, and the tensors a batch becomes: what training, validation and verify share. */
public final class Evaluation {
    private Evaluation() {}

    /**
     * Mean loss per target token and next-token accuracy of {@code lm} over a split, in eval mode (dropout off), in
     * batches of {@code batchSize} taken in order; NaN for an empty split.
     */
    public static double[] evaluate(LM lm, DataModule data, DataModule.Split split, int batchSize) {
        if (data.size(split) == 0) return new double[] {Double.NaN, Double.NaN};
        boolean was = lm.isTraining();
        lm.setTraining(false);
        double lossSum = 0;
        long tokens = 0, correct = 0;
        try {
            for (int[] idx : data.batchOrder(split, batchSize, false, 0)) {
                Batch batch = data.batch(split, idx);
                try (NDManager step = lm.manager().newSubManager()) {
                    LossResult r = lm.loss(idsOf(step, batch), maskOf(step, batch));
                    lossSum += Ops.scalar(r.loss()) * r.tokens();
                    tokens += r.tokens();
                    correct += r.correct();
                }
            }
        } finally {
            lm.setTraining(was);
        }
        return new double[] {tokens == 0 ? Double.NaN : lossSum / tokens, tokens == 0 ? Double.NaN : (double) correct / tokens};
    }

    /** A batch's token ids {@code [B, T+1]} (int64). */
    public static NDArray idsOf(NDManager m, Batch b) {
        int rows = b.size(), cols = b.width();
        long[] flat = new long[rows * cols];
        for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++) flat[i * cols + j] = b.ids()[i][j];
        return m.create(flat, new Shape(rows, cols));
    }

    /** A batch's loss mask {@code [B, T]}: 1 where a target token counts. */
    public static NDArray maskOf(NDManager m, Batch b) {
        int rows = b.size(), cols = b.width() - 1;
        float[] flat = new float[rows * cols];
        for (int i = 0; i < rows; i++) System.arraycopy(b.lossMask()[i], 0, flat, i * cols, cols);
        return m.create(flat, new Shape(rows, cols));
    }
}
