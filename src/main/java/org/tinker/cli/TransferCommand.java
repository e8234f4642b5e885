package org.tinker.cli;

import ai.djl.Device;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.tinker.config.ConfigError;
import org.tinker.explore.LoadedRun;
import org.tinker.explore.Runs;
import org.tinker.model.flexi.WeightTransfer;
import org.tinker.runs.Checkpoint;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code runner transfer}: FlexiBERT weight transfer from one saved run into another (see {@link WeightTransfer}). */
@Command(name = "transfer", mixinStandardHelpOptions = true, description = {"Transfer weights between two saved models of the FlexiBERT design space (OD: ordered",
        "copy of the leading slice; RP: Gaussian random projection). Writes the checkpoint {target run}/transferred/",
        "(the target's final/ files, model.safetensors replaced, no optimizer state), which `runs.get(T, \"transferred\", ...)` opens."})
final class TransferCommand implements Callable<Integer> {
    @Option(names = "--from", required = true, paramLabel = "T", description = "timestamp of the source run") String from;
    @Option(names = "--to", required = true, paramLabel = "T", description = "timestamp of the target run") String to;
    @Option(names = "--mode", paramLabel = "M", description = "OD (default) | RP") String mode = "OD";
    @Option(names = "--seed", paramLabel = "N", description = "seed of the RP projections (default 0)") long seed = 0;
    @Option(names = "--saved-models", paramLabel = "DIR") Path savedModels = Path.of("saved-models");

    @Override
    public Integer call() throws IOException {
        WeightTransfer.Mode m;
        try {
            m = WeightTransfer.Mode.valueOf(mode.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new ConfigError("transfer: --mode must be OD or RP, got " + mode);
        }
        Result r = transfer(savedModels, from, to, m, seed);
        System.out.println(r.report());
        System.out.println("wrote " + r.checkpoint());
        return 0;
    }

    record Result(WeightTransfer.Report report, Path checkpoint) {}

    /** Loads both runs' final checkpoints, transfers, and writes {target}/transferred/. */
    static Result transfer(Path savedModels, String from, String to, WeightTransfer.Mode mode, long seed) throws IOException {
        Runs runs = new Runs(savedModels, Path.of("."), Device.cpu());
        try (LoadedRun src = runs.get(from, Checkpoint.FINAL, false); LoadedRun dst = runs.get(to, Checkpoint.FINAL, false)) {
            WeightTransfer.Report report = WeightTransfer.transfer(src.lm(), dst.lm(), mode, seed);
            Path srcDir = dst.run().checkpoint(Checkpoint.FINAL);
            Path out = dst.run().dir().resolve("transferred");
            Checkpoint.writeAtomically(out, tmp -> {
                try (var files = Files.list(srcDir)) {
                    for (Path f : (Iterable<Path>) files::iterator) {
                        String n = f.getFileName().toString();
                        if (n.equals(Checkpoint.MODEL_FILE) || n.equals(Checkpoint.OPTIMIZER_FILE)) continue;
                        if (Files.isRegularFile(f)) Files.copy(f, tmp.resolve(n));
                    }
                }
                Checkpoint.writeTensors(tmp.resolve(Checkpoint.MODEL_FILE), dst.lm().parameters());
            });
            return new Result(report, out);
        }
    }
}
