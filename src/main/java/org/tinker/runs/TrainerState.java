package org.tinker.runs;

import org.tinker.config.ConfigError;

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

    /** Fields every trainer_state.json has had since the first: without them a run cannot continue where it stopped. */
    private static final java.util.List<String> REQUIRED = java.util.List.of("epoch", "batchInEpoch", "statSyncer", "nTrainSamples",
            "nTrainBatches", "nOptSteps", "seed");

    /**
     * Reads a trainer_state.json: a missing or odd field, a negative counter or position is one line naming the file and
     * the field (never a Gson or NullPointerException trace). Whether the position fits the run's data is checked on
     * resume ({@code Trainer.restore}), where the number of batches is known.
     */
    public static TrainerState read(java.nio.file.Path file) {
        com.google.gson.JsonObject o = Checkpoint.readJson(file);
        for (String f : REQUIRED) {
            com.google.gson.JsonElement e = o.get(f);
            if (e == null || e.isJsonNull())
                throw new ConfigError(file + ": missing field " + f + " (expected a whole number; the checkpoint is incomplete)");
            if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber())
                throw new ConfigError(file + ": field " + f + " = " + e + ": expected a whole number");
        }
        TrainerState s;
        try {
            s = new com.google.gson.GsonBuilder().serializeSpecialFloatingPointValues().create().fromJson(o, TrainerState.class);
        } catch (RuntimeException e) {
            throw new ConfigError(file + ": a field has the wrong type (" + ConfigError.firstLine(e) + ")");
        }
        String negative = s.epoch < 0 ? "epoch" : s.batchInEpoch < 0 ? "batchInEpoch" : s.statSyncer < 0 ? "statSyncer"
                : s.nTrainSamples < 0 ? "nTrainSamples" : s.nTrainBatches < 0 ? "nTrainBatches" : s.nOptSteps < 0 ? "nOptSteps"
                : s.nTrainTokens < 0 ? "nTrainTokens" : s.statCounter < 0 ? "statCounter" : s.epochBatches < 0 ? "epochBatches" : null;
        if (negative != null) throw new ConfigError(file + ": field " + negative + " is negative (expected a count, 0 or more)");
        if (s.nOptSteps > s.nTrainBatches || s.nTrainBatches > s.nTrainSamples)
            throw new ConfigError(file + ": inconsistent counters nOptSteps=" + s.nOptSteps + ", nTrainBatches="
                    + s.nTrainBatches + ", nTrainSamples=" + s.nTrainSamples + " (expected steps <= batches <= samples)");
        return s;
    }
}
