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
                "Shipped: bench-char (4L 256-wide char model, T=256, batch 16) and bench-ptb (word PTB, 2L dim 128, T=64, batch 32)."})
final class BenchCommand implements Callable<Integer> {
    @Option(names = "--config", required = true, paramLabel = "NAME") String config;
    @Option(names = "--steps", paramLabel = "N", description = "optimizer steps to time (default 100)") int steps = 100;
    @Option(names = "--set", paramLabel = "SECTION.KEY=VALUE") List<String> sets = new ArrayList<>();
    @Option(names = "--json", paramLabel = "FILE", description = "where to write the figures (default target/bench-NAME.json)") Path json;

    @Override
    public Integer call() throws Exception {
        if (steps < 10) throw new ConfigError("--steps=" + steps + ": expected at least 10 steps (windows need them)");
        List<Grid.Override> overrides = new ArrayList<>();
        for (String s : sets) overrides.add(Grid.Override.parse(s));
        RunSpec spec = Grid.expand(Grid.filesFor(Path.of("configs"), config), overrides, null, false).get(0);
        Benchmark.Report r = Benchmark.run(spec, steps, Path.of("."), System.out);
        System.out.println(r.table());
        Path out = json != null ? json : Path.of("target", "bench-" + config + ".json");
        Checkpoint.writeString(out, Benchmark.json(r));
        System.out.println("figures written to " + out);
        return 0;
    }
}
