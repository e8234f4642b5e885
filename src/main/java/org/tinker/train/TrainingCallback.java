package org.tinker.train;

import ai.djl.ndarray.NDArray;
import java.util.Random;
import java.util.Set;
import org.tinker.model.ForwardOptions;
import org.tinker.model.LM;

/**
 * Extension points of the training loop, for ideas about training rather than architecture: change what
 * the model reads (but not what it must predict), pass hooks or attention requests to the forward pass,
 * freeze parameters for a step, log statistics of your own. A config names them in {@code [TrainParams] callbacks}
 * (the shipped ones are in {@link TrainingRecipes}; a researcher's own is a class {@code recipes.CamelCaseName} in
 * {@code src/recipes/java/recipes/}); from Java, {@link Trainer#addCallback} adds one more.
 * Every method has a do-nothing default; implement only what the idea needs.
 */
public interface TrainingCallback {
    /** What the model reads for this batch ({@code [B,T]} ids): return it, or a changed copy. Targets never change. */
    default NDArray inputs(NDArray inputs, Step step) {
        return inputs;
    }

    /** Options of this batch's forward pass: hooks and attention requests, for this training batch only. */
    default ForwardOptions forwardOptions(NDArray inputs, Step step, ForwardOptions current) {
        return current;
    }

    /** Names of parameters (as in {@code lm.parameters()}) that this optimizer step must leave unchanged. */
    default Set<String> frozen(Step step) {
        return Set.of();
    }

    /** After every optimizer step; log with {@code step.log(name, value)} (the value lands in train_stats and W&B). */
    default void afterOptimizerStep(Step step) {}

    /**
     * The trainer at one training batch.
     *
     * @param batchIndex training batches taken before this one (the reference's stat_syncer)
     * @param optSteps optimizer steps taken so far
     * @param random seeded from (run seed, batch index): the same choices on a resumed run
     */
    record Step(Trainer trainer, LM lm, long batchIndex, long optSteps, long nTrainSamples, Random random) {
        public void log(String name, double value) {
            trainer.log(name, value);
        }
    }
}
