package org.tinker.train;

/**
 * Receives every statistic the trainer emits, once, in order. train_stats, W&B, the progress bar and
 * log.txt are listeners of equal rank: adding one never touches the training loop.
 */
public interface StatsListener {
    /**
     * @param name e.g. {@code stat/train_batch_loss:main}
     * @param value the value
     * @param at the trainer's counters when the value was logged
     */
    void onStat(String name, double value, Counters at);

    /** Called once when training ends (normally or not); {@code error} is null on success. */
    default void onEnd(Throwable error) {}

    /**
     * The trainer's counters at a moment.
     *
     * @param statSyncer training steps (batches) taken so far
     * @param nTrainSamples samples trained on so far
     * @param statCounter values logged so far across all statistics (before this one)
     */
    record Counters(long statSyncer, long nTrainSamples, long statCounter) {}
}
