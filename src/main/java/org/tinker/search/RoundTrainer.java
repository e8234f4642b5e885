package org.tinker.search;

import java.util.List;
import org.tinker.search.SearchLog.Proposal;

/**
 * Trains the models of one round. {@code runner search} trains them as saved runs of the normal runner (local child
 * processes or a SLURM array job); tests use a known function of the model dict. A model that already has a finished
 * run is not trained again: after a kill, a round is handed over again and only what is missing trains.
 */
public interface RoundTrainer {
    /** What training one model gave: its run (a timestamp, or any id), final validation loss, parameters and wall time. */
    record Outcome(String run, double valLoss, long params, double wallSeconds) {}

    /** One outcome per proposal, in order. */
    List<Outcome> train(int round, List<Proposal> proposals);
}
