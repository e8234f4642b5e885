package org.tinker.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.tinker.config.ConfigError;
import org.tinker.model.flexi.DesignSpace;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code runner design-space}: a FlexiBERT design-space YAML → a config whose model_dict grid the runner trains. */
@Command(name = "design-space", mixinStandardHelpOptions = true, description = {"Expand a FlexiBERT design-space YAML (the reference's architecture fields) into model dicts,",
        "written as a config: the --base config's text plus [ModelParams] layer_architecture=\"flexi\" and model_dict=[...],",
        "a grid axis, so `runner --config=NAME` trains one run per model dict."})
final class DesignSpaceCommand implements Callable<Integer> {
    @Option(names = "--file", required = true, paramLabel = "YAML") Path file;
    @Option(names = "--out", required = true, paramLabel = "CONFIG", description = "config file to write, e.g. configs/space-small.txt") Path out;
    @Option(names = "--base", paramLabel = "CONFIG", description = "config file whose Data/Train params (and other model params) to keep") Path base;
    @Option(names = "--layers-per-stack", paramLabel = "N", description = "identical layers per stack (default 2, as the reference)") int perStack = 2;
    @Option(names = "--sample", paramLabel = "N", description = "draw N model dicts at random (default: all)") int sample = 0;
    @Option(names = "--seed", paramLabel = "S") long seed = 0;

    @Override
    public Integer call() throws IOException {
        if (!Files.isRegularFile(file)) throw new ConfigError(file + ": no such design-space file");
        DesignSpace space;
        List<String> dicts;
        try {
            space = DesignSpace.parse(Files.readString(file), file.toString());
            dicts = space.modelDicts(perStack, sample, seed);
        } catch (IllegalArgumentException e) {
            throw new ConfigError(e.getMessage());
        }
        String head = base == null ? "" : Files.readString(base) + "\n";
        Files.writeString(out, head + "# " + dicts.size() + " of " + space.size(perStack) + " model dicts of " + file
                + " (" + perStack + " layers per stack)\n" + DesignSpace.configSection(dicts));
        System.out.println("wrote " + dicts.size() + " model dicts (of " + space.size(perStack) + ") to " + out);
        return 0;
    }
}
