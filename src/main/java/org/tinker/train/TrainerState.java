package org.tinker.train;

/**
 * Everything beyond weights, optimizer moments and train_stats that a resumed run needs to continue
 * exactly as if it had never stopped. Saved as {@code trainer_state.json}.
 */
public final class TrainerState {
    /** Epoch being trained (0-based). */
    public int epoch;
    /** Next batch of that epoch to train on. */
    public int batchInEpoch;
    /** Training batches taken so far (the reference's stat_syncer). */
    public long statSyncer;
    public long nTrainSamples;
    public long nTrainBatches;
    public long nOptSteps;
    public long nTrainTokens;
    /** Values logged so far across all statistics. */
    public long statCounter;
    /** Running sums for the epoch-mean train loss/accuracy. */
    public double epochLossSum, epochAccSum;
    public int epochBatches;
    /** n_train_samples at the last validation (-1 = none yet). */
    public long lastValidatedAt = -1;
    public double lastValLoss = Double.NaN;
    /** Plateau schedule state. */
    public double[] schedule;
    /** Seed of the run (weights, data order, dropout). */
    public long seed;
    /** CPU seconds spent before this process (for process_time across resumes). */
    public double processTimeBefore;
    /** True once the run has finished (final checkpoint). */
    public boolean finished;
    /**
     * Validation loss of exactly the weights of the checkpoint this state was saved in, or null when they were not
     * validated (a checkpoint every N samples between validations). {@code runner verify} checks against this.
     */
    public Double checkpointValLoss;
    /** Name of the checkpoint folder this state was saved in. */
    public String checkpoint;
}
