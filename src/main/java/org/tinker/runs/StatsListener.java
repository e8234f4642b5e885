package org.tinker.runs;

import java.nio.file.Path;
import org.tinker.config.RunSpec;

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

    /**
     * Called once before a run's first statistic (before the Trainer is built), so that a listener can
     * serve the runs of a grid one after the other.
     */
    default void onStart(RunStart run) {}

    /** Called once when training ends (normally or not); {@code error} is null on success. */
    default void onEnd(Throwable error) {}

    /** A line the run printed (its log lines, without the line break), for listeners that keep the console (W&B's Logs tab). */
    default void onOutput(String line) {}

    /** A checkpoint folder was written (complete: its files no longer change), at these counters (W&B artifacts). */
    default void onCheckpoint(Path dir, Counters at) {}

    /**
     * The trainer's counters at a moment.
     *
     * @param statSyncer training steps (batches) taken so far
     * @param nTrainSamples samples trained on so far
     * @param statCounter values logged so far across all statistics (before this one)
     */
    /**
     * A run about to train.
     *
     * @param spec its parameters
     * @param runDir its save folder (exists only when {@code save})
     * @param save checkpoints are written
     * @param resumeAfterStep for a resumed run, the checkpoint's step counter (statistics up to it were logged by the
     *     earlier process and are logged again only by the Trainer's constructor); -1 for a fresh run
     * @param checkpoint the checkpoint resumed from, or null
     */
    record RunStart(RunSpec spec, Path runDir, boolean save, long resumeAfterStep,
                    Path checkpoint) {}

    record Counters(long statSyncer, long nTrainSamples, long statCounter) {}
}
