package org.tinker.tint;

/**
 * One TinT forward pass on one sequence, by either construction: {@link TintModel} (dense float64/float32 {@link Mat}
 * arithmetic, the reference) or {@link TintEngine} (DJL tensors on the model's device). Both return the same
 * {@link TintModel.Output}.
 */
public interface TintPass extends AutoCloseable {
    /** The pass with the original's icl_mask / position_ids (docs/models/tint.md, "Train part, eval part and single-pass ICL"). */
    TintModel.Output forward(long[] ids, int nTrain, IclInput icl);

    /** The pass on {@code ids} with the train part [0, nTrain). */
    default TintModel.Output forward(long[] ids, int nTrain) {
        return forward(ids, nTrain, IclInput.NONE);
    }

    /** Releases native memory (the engine's tensors); nothing for {@link TintModel}. */
    @Override
    default void close() {}
}
