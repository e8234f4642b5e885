package org.tinker.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.tinker.config.ConfigError;
import org.tinker.config.Grid;
import org.tinker.config.RunSpec;
import org.tinker.runs.GridState;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code runner grid-status --config=NAME [--task --set --ablate]}: each point of the grid (expanded as the
 * training command expands it) with its state among the saved runs (done, unfinished, missing), the
 * matching run's timestamp and its final validation loss.
 */
@Command(name = "grid-status", mixinStandardHelpOptions = true, description = {"List each grid point's state among the saved runs: done, unfinished (failed, killed or still",
        "running) or missing, with the run's timestamp and final val loss. Takes the training command's grid flags."})
final class GridStatusCommand implements Callable<Integer> {
    @Option(names = "--config", required = true, paramLabel = "NAME", description = "configs/NAME.txt and every configs/NAME-*.txt") String config;
    @Option(names = "--task", paramLabel = "T", description = "override dataset_name, as when training") String task;
    @Option(names = "--set", paramLabel = "SECTION.KEY=VALUE", description = "override a parameter, as when training") List<String> sets = new ArrayList<>();
    @Option(names = "--ablate", description = "the grid includes every ablation, as when training") boolean ablate;
    @Option(names = "--saved-models", paramLabel = "DIR", description = "where runs are saved (default: saved-models)") Path savedModels = Path.of("saved-models");
    @Option(names = "--configs-dir", paramLabel = "DIR", hidden = true) Path configsDir = Path.of("configs");
    @Option(names = "--check", description = "exit 3 unless every point is done") boolean check;
    @Option(names = "--max-grid", paramLabel = "N", description = "refuse a grid of more than N runs (default: 10000), as when training")
    long maxGrid = Grid.DEFAULT_MAX_RUNS;
    // accepted and ignored, so a training command line can be reused as it is
    @Option(names = {"--save", "--no-wandb", "--skip-done", "--slurm"}, hidden = true) boolean ignored;
    @Option(names = {"--wandb-proj-name", "--gpu-id", "--slurm-args", "--grid-index"}, hidden = true) String ignoredValue;

    @Override
    public Integer call() {
        List<Grid.Override> overrides = new ArrayList<>();
        for (String s : sets) overrides.add(Grid.Override.parse(s));
        if (maxGrid < 1 || maxGrid > Integer.MAX_VALUE - 8)
            throw new ConfigError("--max-grid=" + maxGrid + ": expected a positive number of runs below 2^31");
        List<RunSpec> runs = Grid.expand(Grid.filesFor(configsDir, config), overrides, task, ablate, maxGrid);
        List<GridState.Point> points = GridState.of(runs, savedModels);
        int done = 0, unfinished = 0, missing = 0;
        for (GridState.Point p : points)
            switch (p.state()) {
                case DONE -> done++;
                case UNFINISHED -> unfinished++;
                case MISSING -> missing++;
            }
        System.out.printf("grid %s: %d points: %d done, %d unfinished, %d missing (saved runs under %s)%n", config, points.size(), done,
                unfinished, missing, savedModels);
        System.out.printf("%5s  %-10s  %-24s  %9s  %s%n", "point", "state", "timestamp", "val_loss", "run");
        for (GridState.Point p : points) {
            RunSpec r = p.spec();
            System.out.printf("%5d  %-10s  %-24s  %9s  [%s] %s%n", r.index(), p.stateName(), p.run() == null ? "-" : p.run().timestamp(),
                    Double.isNaN(p.valLoss()) ? "-" : String.format("%.4f", p.valLoss()), r.configName(), r.describe());
        }
        if (unfinished + missing > 0)
            System.out.println("re-run what is missing or unfinished: runner --config=" + config + " ... --save --skip-done [--slurm]");
        return check && done < points.size() ? 3 : 0;
    }
}
