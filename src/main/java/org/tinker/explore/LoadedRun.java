package org.tinker.explore;

import ai.djl.ndarray.NDManager;
import org.tinker.config.DataParams;
import org.tinker.config.ModelParams;
import org.tinker.config.TrainParams;
import org.tinker.data.DataModule;
import org.tinker.data.Tokenizer;
import org.tinker.model.LM;
import org.tinker.runs.RunStore;
import org.tinker.runs.TrainStats;

/**
 * A saved run loaded back: the reference's {@code get_model_by_timestamp} result
 * ({@code lm, dataset, train_stats, params}) as one object. Close it to free the model.
 *
 * @param data the run's DataModule rebuilt with the saved tokenizer, or null when loaded without data
 */
public record LoadedRun(RunStore.Run run, String checkpoint, LM lm, Tokenizer tokenizer, DataModule data, TrainStats trainStats,
                        DataParams dataParams, TrainParams trainParams, ModelParams modelParams, NDManager manager)
        implements AutoCloseable {
    /** The run's recorded final validation loss (last {@code stat/val_loss:main}). */
    public double recordedValLoss() {
        return trainStats.last("stat/val_loss:main");
    }

    /** Sampling, perplexities, partial forward and the logit lens on this run's model (see {@link Explorer}). */
    public Explorer explorer() {
        return new Explorer(lm, tokenizer, run.timestamp() + (checkpoint.equals("final") ? "" : " @" + checkpoint));
    }

    @Override
    public void close() {
        lm.close();
        manager.close();
    }
}
