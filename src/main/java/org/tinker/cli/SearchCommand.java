package org.tinker.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.tinker.config.ConfigError;
import org.tinker.config.ConfigFile;
import org.tinker.config.Params;
import org.tinker.config.PyLiteral;
import org.tinker.model.flexi.DesignSpace;
import org.tinker.runs.Namer;
import org.tinker.runs.RunStore;
import org.tinker.search.Search;
import org.tinker.search.SearchLog.Record;
import org.tinker.search.SearchLog;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code runner search}: FlexiBERT's surrogate-guided architecture search over a design space (see {@link Search}). */
@Command(name = "search", mixinStandardHelpOptions = true, sortOptions = false, description = {
        "Search a FlexiBERT design space (YAML, as `runner design-space`) for the model with the lowest validation loss:",
        "--init random models, then rounds of --parallel models picked by a Gaussian-process surrogate (expected",
        "improvement), each trained as a normal saved run of the --base config (its data and training budget) and",
        "warm-started from its nearest trained model by weight transfer. DIR/search.jsonl holds one line per trained model;",
        "run the same command again after a kill (or with a larger --budget) to continue: no model trains twice."},
        footer = {"", "Example:", "  runner search --space=configs/spaces/shakespeare-small.yaml --base=configs/search-shakespeare-char.txt \\",
                "      --budget=12 --init=4 --seed=1 --out=searches/shakespeare-s1"})
final class SearchCommand implements Callable<Integer> {
    @Option(names = "--space", required = true, paramLabel = "YAML", description = "design space (the reference's architecture fields)") Path space;
    @Option(names = "--base", required = true, paramLabel = "CONFIG", description = "config file every model trains with (data, training budget, other model params)") Path base;
    @Option(names = "--budget", required = true, paramLabel = "N", description = "models to train at each level") int budget;
    @Option(names = "--init", paramLabel = "K", description = "random models before the surrogate picks (default 4)") int init = 4;
    @Option(names = "--parallel", paramLabel = "P", description = "models per round, trained side by side (default 1); with --slurm, the tasks of each round's array job") int parallel = 1;
    @Option(names = "--slurm", description = "train each round as one SLURM array job (as `runner --slurm`)") boolean slurm;
    @Option(names = "--slurm-args", paramLabel = "\"OPTS\"", description = "extra sbatch options for --slurm") String slurmArgs;
    @Option(names = "--sbatch", paramLabel = "CMD", hidden = true, description = "the sbatch command (none: write the script only)") String sbatch;
    @Option(names = "--seed", paramLabel = "S", description = "seed of the random picks and candidate pools (default 0)") long seed = 0;
    @Option(names = "--out", paramLabel = "DIR", description = "the search's folder (default searches/{space}-s{seed}, or -random-s{seed})") Path out;
    @Option(names = "--levels", paramLabel = "L[,L...]", split = ",", description = "layers per stack at each level, e.g. 2,1 (default 2)") List<Integer> levels = List.of(2);
    @Option(names = "--random", description = "random picks from the same pools instead of the surrogate's: the baseline") boolean random;
    @Option(names = "--pool", paramLabel = "N", description = "candidates the surrogate scores per round (default 1000)") int pool = 1000;
    @Option(names = "--top", paramLabel = "K", description = "best models of a level refined at the next (default 3)") int top = 3;
    @Option(names = "--transfer", paramLabel = "M", description = "warm start from the nearest trained model: OD (default) | RP | none") String transfer = "OD";
    @Option(names = "--saved-models", paramLabel = "DIR", description = "where the runs are saved (default: saved-models)") Path savedModels = Path.of("saved-models");

    @Override
    public Integer call() throws IOException {
        if (!Files.isRegularFile(space)) throw new ConfigError(space + ": no such design-space file");
        if (!Files.isRegularFile(base)) throw new ConfigError(base + ": no such config file");
        DesignSpace ds;
        Search.Options o;
        try {
            ds = DesignSpace.parse(Files.readString(space), space.toString());
            o = new Search.Options(budget, init, parallel, seed, levels, random, pool, top, transfer);
            if (ds.size(levels.get(0)) == 0)
                throw new IllegalArgumentException(space + ": no encoder_layers value is a multiple of " + levels.get(0) + " layers per stack (--levels)");
        } catch (IllegalArgumentException e) {
            throw new ConfigError(e.getMessage());
        }
        Path dir = out != null ? out : Path.of("searches", stem(space) + (random ? "-random" : "") + "-s" + seed);
        String name = Namer.requirePlainName("--out (the search's name)", dir.toAbsolutePath().normalize().getFileName().toString());
        String baseText = baseText(base);
        RunStore.requireRunsFolder(savedModels);
        PrintStream p = System.out;
        p.println("search " + name + ": " + (random ? "random sampling" : "GP surrogate, expected improvement") + " over " + space
                + " (" + ds.size(levels.get(0)) + " models at " + levels.get(0) + " layers per stack), " + budget + " models per level, in " + dir);
        SearchRounds rounds = new SearchRounds(dir, name, baseText, savedModels, parallel, slurm, slurmArgs, sbatch, p);
        List<Record> records;
        try {
            records = Search.run(ds, o, new SearchLog(dir), rounds, p);
        } catch (IllegalArgumentException e) {
            throw new ConfigError(e.getMessage());
        } catch (SearchRounds.Waiting w) {
            p.println(w.getMessage());
            return 0;
        } catch (SearchRounds.Failed f) {
            System.err.println("error: " + f.getMessage());
            return 1;
        }
        Record best = Search.best(records);
        p.printf("best: model %d, val_loss %.4f, run %s, %,d parameters: %s%n", best.index(), best.val_loss(), best.run(), best.params(), best.model_dict());
        return 0;
    }

    private static String stem(Path file) {
        String n = file.getFileName().toString();
        return n.contains(".") ? n.substring(0, n.lastIndexOf('.')) : n;
    }

    /** The keys a search sets on every model; the base config's own values of them are dropped. */
    static final List<String> SET_BY_SEARCH = List.of("layer_architecture", "model_dict", "from_saved", "from_saved_transfer");

    /**
     * The base config written back as text (every value as a Python literal), without the keys the search sets; a list
     * value (a grid axis) is refused: every model of a search is one run.
     */
    static String baseText(Path base) {
        ConfigFile cf = ConfigFile.read(base);
        StringBuilder s = new StringBuilder("# from " + base + "\n");
        for (Params.Section sec : Params.Section.ofRun()) {
            s.append('[').append(sec.title).append("]\n");
            for (Map.Entry<String, Params.Located> e : cf.section(sec).entrySet()) {
                if (e.getValue().value() instanceof List<?>)
                    throw new ConfigError(e.getValue().where() + ": " + e.getKey() + " is a list (a grid axis); a search trains one run per model, give one value");
                if (sec == Params.Section.MODEL && SET_BY_SEARCH.contains(e.getKey())) continue;
                s.append(e.getKey()).append(" = ").append(PyLiteral.repr(e.getValue().value())).append('\n');
            }
        }
        return s.toString();
    }

    /** A model's config: the base's text plus the model dict and its warm start. */
    static String modelConfig(String baseText, SearchLog.Proposal p) {
        StringBuilder s = new StringBuilder(baseText);
        s.append("[ModelParams]\n"); // again: the keys below belong there whatever section the base ended with
        s.append("layer_architecture = \"flexi\"\n");
        s.append("model_dict = ").append(PyLiteral.repr(p.model_dict())).append('\n');
        if (p.neighbour_run() != null) {
            s.append("from_saved = ").append(PyLiteral.repr(p.neighbour_run())).append('\n');
            s.append("from_saved_transfer = ").append(PyLiteral.repr(p.transfer())).append('\n');
        }
        return s.toString();
    }
}
