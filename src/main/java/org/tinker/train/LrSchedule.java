package org.tinker.train;

import org.tinker.config.TrainParams.Scheduler;
import org.tinker.config.TrainParams;

/**
 * Learning rate per optimizer step: a linear warm-up over {@code lr_warm_steps} steps, then the main
 * schedule. Stateless except for Plateau, whose state is saved with the checkpoint.
 *
 * <p>Differences from the reference, on purpose: the warm-up starts at lr/warm rather than 0 (no wasted
 * first step); Cosine decays to min_lr over lr_cycle_steps and then stays there (torch's
 * CosineAnnealingLR climbs back up after T_max, which nobody wants from a one-cycle config).
 */
public final class LrSchedule {
    private final TrainParams tp;
    // Plateau state (on the train batch loss, as the reference)
    private double plateauLr;
    private double best = Double.POSITIVE_INFINITY;
    private int badSteps;

    public LrSchedule(TrainParams tp) {
        this.tp = tp;
        this.plateauLr = tp.lr();
    }

    /** The lr to use for optimizer step {@code step} (0-based). */
    public double lrAt(long step) {
        int warm = tp.lr_warm_steps();
        if (step < warm) return tp.lr() * (step + 1) / warm;
        long t = step - warm;
        double lo = tp.min_lr(), hi = tp.lr();
        int cycle = tp.lr_cycle_steps();
        return switch (tp.lr_scheduler_type()) {
            case COSINE -> lo + (hi - lo) * 0.5 * (1 + Math.cos(Math.PI * Math.min(t, cycle) / cycle));
            case LINEAR -> hi + (lo - hi) * Math.min(t, cycle) / (double) cycle;
            case CYCLIC -> {
                // triangular: min → max over half a cycle, back to min over the other half
                double half = Math.max(1, cycle / 2);
                double pos = (t % (2 * (long) half)) / half;
                yield lo + (hi - lo) * (pos <= 1 ? pos : 2 - pos);
            }
            case PLATEAU -> plateauLr;
            case CONSTANT -> hi;
        };
    }

    /** Plateau only: called with each optimizer step's train loss, as torch's ReduceLROnPlateau.step(loss). */
    public void observe(double trainLoss, long step) {
        if (tp.lr_scheduler_type() != Scheduler.PLATEAU || step < tp.lr_warm_steps()) return;
        if (trainLoss < best * (1 - 1e-4)) {
            best = trainLoss;
            badSteps = 0;
        } else if (++badSteps > tp.patience()) {
            plateauLr = Math.max(tp.min_lr(), plateauLr * tp.scheduler_factor());
            badSteps = 0;
        }
    }

    public double[] state() {
        return new double[] {plateauLr, best, badSteps};
    }

    public void restore(double[] s) {
        plateauLr = s[0];
        best = s[1];
        badSteps = (int) s[2];
    }
}
