package org.tinker.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.tinker.config.ConfigError;
import org.tinker.config.Grid;
import org.tinker.config.RunSpec;
import org.tinker.runs.Checkpoint;
import org.tinker.train.Benchmark;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code runner bench --config=NAME [--steps N]}: training speed through the normal runner path. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Measure training speed of the first run of a config: steady-state tokens/s (median of windows after",
                "warm-up), time to first step, peak RSS and drift, FLOPs/token, GFLOP/s, the matmul peak and MFU.",
                "Shipped: bench-char (4L 256-wide char model, T=256, batch 16), bench-ptb (word PTB, 2L dim 128, T=64, batch 32)",
                "and bench-gpt2s (GPT-2 small's shape on WikiText-2: 12L dim 768, vocabulary 50,257, T=256, batch 8; slow on a CPU)."})
final class BenchCommand implements Callable<Integer> {
    @Option(names = "--config", required = true, paramLabel = "NAME") String config;
    @Option(names = "--steps", paramLabel = "N", description = "optimizer steps to time (default 100)") int steps = 100;
    @Option(names = "--set", paramLabel = "SECTION.KEY=VALUE") List<String> sets = new ArrayList<>();
    @Option(names = "--json", paramLabel = "FILE", description = "where to write the figures (default target/bench-NAME.json)") Path json;
    @Option(names = "--profile", paramLabel = "TRACE", description = "after the timed steps, record libtorch's ops over --profile-steps more into this Chrome trace (bench/profile_report.py sums it per op)") Path profile;
    @Option(names = "--profile-steps", paramLabel = "N", description = "steps to profile (default 10)") int profileSteps = 10;
    @Option(names = "--train-only", description = "time training alone: no validation and test at the end, no generation speed") boolean trainOnly;

    @Override
    public Integer call() throws Exception {
        // under 10 steps every window is a single step: a smoke run, not a measurement
        if (steps < 2) throw new ConfigError("--steps=" + steps + ": expected at least 2 steps (a warm-up step and a timed one)");
        if (profile != null && profileSteps < 1) throw new ConfigError("--profile-steps=" + profileSteps + ": expected 1 or more steps");
        List<Grid.Override> overrides = new ArrayList<>();
        for (String s : sets) overrides.add(Grid.Override.parse(s));
        RunSpec spec = Grid.expand(Grid.filesFor(Path.of("configs"), config), overrides, null, false).get(0);
        Benchmark.Report r = Benchmark.run(spec, steps, trainOnly,
                profile == null ? null : new Benchmark.Profile(profile, profileSteps), Path.of("."), System.out);
        System.out.println(r.table());
        Path out = json != null ? json : Path.of("target", "bench-" + config + ".json");
        Checkpoint.writeString(out, Benchmark.json(r));
        System.out.println("figures written to " + out);
        if (profile != null) System.out.println("profile of " + profileSteps + " steps written to " + profile + " (python3 bench/profile_report.py " + profile + ")");
        return 0;
    }
}
