package org.tinker.cli;

import ai.djl.Device;
import ai.djl.engine.Engine;
import com.google.gson.Gson;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.tinker.config.ConfigError;
import org.tinker.config.ConfigFile;
import org.tinker.config.DataParams;
import org.tinker.config.Doc;
import org.tinker.config.Grid;
import org.tinker.config.Params;
import org.tinker.config.PyLiteral;
import org.tinker.config.RunSpec;
import org.tinker.data.DataModule;
import org.tinker.data.LoadedTask;
import org.tinker.data.Tasks;
import org.tinker.data.Tokenizer;
import org.tinker.data.Tokenizers;
import org.tinker.engine.FormatError;
import org.tinker.explore.Comparison;
import org.tinker.explore.Plots;
import org.tinker.explore.Runs;
import org.tinker.explore.Verify;
import org.tinker.runs.Checkpoint;
import org.tinker.runs.Namer;
import org.tinker.runs.RunOrigin;
import org.tinker.runs.RunStore;
import org.tinker.runs.StatsListener;
import org.tinker.track.WandbListener;
import org.tinker.track.WandbRun;
import org.tinker.track.WandbSettings;
import org.tinker.track.WandbSync;
import org.tinker.train.Experiment;
import org.tinker.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;

/**
 * {@code runner}: trains every run of a config grid, and the subcommands that work on saved runs.
 * User mistakes print one line and exit 2; bugs print a stack trace and exit 1.
 */
@Command(name = "runner", mixinStandardHelpOptions = true, version = "tinker 0.1.0", sortOptions = false,
        description = {"Train transformer LMs from configs/NAME.txt (and every configs/NAME-*.txt).",
                "Every list value in a config (dim=[128,256]) is a grid axis: one run per combination."},
        subcommands = {Main.ListCmd.class, Main.VerifyCmd.class, Main.ResumeCmd.class, Main.TokenizeCmd.class, Main.ParamsCmd.class,
                BenchCommand.class, GridStatusCommand.class, TintCommands.class,
                Gpt2Commands.LogitsCmd.class, Gpt2Commands.ExportCmd.class, Gpt2Commands.LoraMergeCmd.class, PerplexityCommand.class, Main.WandbSyncCmd.class,
                TransferCommand.class, DesignSpaceCommand.class, CompareCommands.Compare.class, CompareCommands.ReportCmd.class, CompareCommands.Serve.class,
                SearchCommand.class,
                ExploreCommands.Checkpoints.class, ExploreCommands.Sample.class, ExploreCommands.PlotMetrics.class, ExploreCommands.Attentions.class, ExploreCommands.Lens.class},
        footer = {"", "Examples:", "  runner --config=test-nlp --task=ptb --no-wandb --save",
                "  runner --config=test-synth --set mp.dim=64 --set tp.lr=[0.001,0.003]", "  runner list",
                "  runner verify --timestamp=2026-11-23--13-40-01"})
public final class Main implements Callable<Integer> {
    @Option(names = "--config", paramLabel = "NAME", description = "run configs/NAME.txt and every configs/NAME-*.txt, sorted")
    String config;

    @Option(names = "--task", paramLabel = "T", description = "override dataset_name (ptb, wikitext-2, tinyshakespeare, copy, sort, ... or a folder under data-path.txt)")
    String task;

    @Option(names = "--save", description = "save every run (checkpoints, stats, tokenizer, log.txt) under saved-models/")
    boolean save;

    @Option(names = "--no-wandb", description = "do not log to Weights & Biases")
    boolean noWandb;

    @Option(names = "--wandb-proj-name", paramLabel = "P", description = "W&B project name part instead of the config name")
    String wandbProjName;

    @Option(names = "--ablate", description = "also run each ablation of org.tinker.config.Ablations for every grid point")
    boolean ablate;

    @Option(names = "--gpu-id", paramLabel = "N[,M...]|all", description = "train on CUDA device N (default: CPU); several (0,1 or all): data-parallel over them")
    String gpuId;

    @Option(names = "--set", paramLabel = "SECTION.KEY=VALUE", description = "override a parameter, e.g. --set mp.dim=64 --set tp.lr=[0.001,0.003] (a list joins the grid)")
    List<String> sets = new ArrayList<>();

    @Option(names = "--configs-dir", paramLabel = "DIR", description = "folder of config files (default: configs)", hidden = true)
    Path configsDir = Path.of("configs");

    @Option(names = "--saved-models", paramLabel = "DIR", description = "where runs are saved (default: saved-models)")
    Path savedModels = Path.of("saved-models");

    @Option(names = "--dry-run", description = "print the runs of the grid and exit")
    boolean dryRun;

    @Option(names = "--max-grid", paramLabel = "N", description = "refuse a grid of more than N runs (default: 10000), before building any")
    long maxGrid = Grid.DEFAULT_MAX_RUNS;

    @Option(names = "--grid-index", paramLabel = "I", description = "run only grid point I (1-based, as `run I/N`): one task of a SLURM array, or by hand")
    Integer gridIndex;

    @Option(names = "--skip-done", description = "skip grid points that already have a finished saved run with the same params")
    boolean skipDone;

    @Option(names = "--slurm", description = "write an sbatch array script, one task per grid point, and submit it when sbatch is on the PATH")
    boolean slurm;

    @Option(names = "--slurm-args", paramLabel = "\"OPTS\"", description = "extra sbatch options for --slurm, e.g. \"--time=2:00:00 --cpus-per-task=4\"")
    String slurmArgs;

    @Option(names = "--sbatch", paramLabel = "CMD", hidden = true, description = "the sbatch command (none: write the script only)")
    String sbatch;

    @Option(names = "--launch-id", paramLabel = "TS", hidden = true, description = "the launch these runs belong to (SLURM tasks of one submission share it)")
    String launchId;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec commandSpec;

    @Override
    public Integer call() {
        if (config == null) throw new ConfigError("--config: expected a config name, e.g. --config=test-nlp (see --help)");
        List<Grid.Override> overrides = new ArrayList<>();
        for (String s : sets) overrides.add(Grid.Override.parse(s));
        List<ConfigFile> files = Grid.filesFor(configsDir, config);
        // every run is built in memory before the first trains: a list can hold no more than an int counts
        if (maxGrid < 1 || maxGrid > Integer.MAX_VALUE - 8)
            throw new ConfigError("--max-grid=" + maxGrid + ": expected a positive number of runs below 2^31");
        // names that become folders under saved-models are checked before anything is written (a task '../../x' would
        // otherwise put the run outside saved-models)
        if (save && task != null) Namer.requirePlainName("--task", task);
        List<RunSpec> runs = Grid.expand(files, overrides, task, ablate, maxGrid);
        if (save) for (RunSpec r : runs) Namer.requirePlainNames(r);
        PrintStream out = System.out;
        out.println(runs.size() + (runs.size() == 1 ? " run" : " runs") + " from configs/" + config + "*.txt");
        if (launchId == null) launchId = LocalDateTime.now().format(Namer.TIMESTAMP);
        else if (!RunStore.TIMESTAMP.matcher(launchId).matches()) throw new ConfigError("--launch-id=" + launchId + ": expected a timestamp, e.g. 2026-11-23--13-40-01");
        if (slurm) return GridRun.slurm(this, files, runs, commandSpec.commandLine().getParseResult().originalArgs(), out);
        runs = GridRun.select(runs, gridIndex, skipDone, savedModels, out);
        if (dryRun) {
            for (RunSpec r : runs) out.println("  " + r.header());
            return 0;
        }
        List<Device> devices = GridRun.devices(gpuId);
        Experiment.Setup setup = new Experiment.Setup(Path.of("."), savedModels, save, devices.get(0), out,
                wandbListeners(noWandb, wandbProjName, runs.size(), out, launchId), true, devices, new RunOrigin.Launch(launchId, config));
        for (RunSpec r : runs) {
            try {
                GridRun.train(r, setup);
            } catch (WandbRun.Stopped e) {
                out.println("W&B: " + e.getMessage() + "; going on with the next run");
            }
        }
        return 0;
    }

    // ------------------------------------------------------------------ W&B (org.tinker.track)

    /** The W&B listener unless --no-wandb (or WANDB_MODE=disabled); WANDB_RUN_ID names a single run only. */
    static List<StatsListener> wandbListeners(boolean noWandb, String projName, int nRuns, PrintStream out, String launchId) {
        if (noWandb) return List.of();
        WandbSettings s = WandbSettings.fromEnvironment();
        if (s.mode() == WandbSettings.Mode.DISABLED) return List.of();
        if (s.runId() != null && nRuns > 1) {
            out.println("W&B: WANDB_RUN_ID names one run but the grid has " + nRuns + "; each run gets its own id");
            s = s.withRun(null, null);
        }
        WandbListener l = new WandbListener(s, projName, out).withEndImages(Main::metricPlots);
        return List.of(launchId == null ? l : l.withLaunch(launchId));
    }

    /** The end-of-run plots sent to W&B: losses and accuracies against n_train_samples, written beside the run. */
    public static java.util.Map<String, Path> metricPlots(StatsListener.RunStart run, java.util.Map<String, List<double[]>> series) {
        java.util.Map<String, Path> out = new java.util.LinkedHashMap<>();
        Path dir;
        try {
            dir = run.save() ? run.runDir() : java.nio.file.Files.createTempDirectory("tinker-plots");
        } catch (java.io.IOException e) {
            return out;
        }
        for (String[] plot : new String[][] {{"loss", "stat/train_batch_loss:main", "stat/val_loss:main"},
                {"accuracy", "stat/train_batch_acc:main", "stat/val_acc:main"}}) {
            List<Plots.Series> lines = new ArrayList<>();
            for (int i = 1; i < plot.length; i++) {
                List<double[]> pts = series.get(plot[i]);
                if (pts == null || pts.isEmpty()) continue;
                lines.add(new Plots.Series(plot[i], pts.stream().mapToDouble(p -> p[0]).toArray(),
                        pts.stream().mapToDouble(p -> p[1]).toArray()));
            }
            if (lines.isEmpty()) continue;
            Path file = Plots.lineChart(run.spec().configName() + " / " + run.spec().dp().dataset_name() + ": " + plot[0],
                    "n_train_samples", plot[0], lines, dir.resolve("metrics-" + plot[0] + ".png"));
            out.put("metrics/" + plot[0], file);
        }
        return out;
    }

    @Command(name = "wandb-sync", mixinStandardHelpOptions = true, description = {"Send W&B spools (offline runs, or runs whose server went away) to the server.",
            "Idempotent: resumes from what the server acknowledged; every row is sent once."})
    static final class WandbSyncCmd implements Callable<Integer> {
        @CommandLine.Parameters(arity = "1..*", paramLabel = "DIR", description = "wandb/{run|offline-run}-*/ folders, or a wandb/ folder")
        List<Path> dirs;

        @Override
        public Integer call() {
            List<WandbSync.Result> rs = WandbSync.sync(dirs, WandbSettings.fromEnvironment().withMode(WandbSettings.Mode.ONLINE), System.out);
            return rs.stream().allMatch(WandbSync.Result::synced) ? 0 : 1;
        }
    }

    /** One device for commands that run on one (resume): the same rules as training's --gpu-id. */
    static Device device(Integer gpuId) {
        return gpuId == null ? Device.cpu() : GridRun.devices(String.valueOf(gpuId)).get(0);
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = {"List saved runs: timestamp, config, task, what varies among a config's runs",
            "(its grid points, lr=0.001 dim=32) or, when nothing does, the model; final val loss, checkpoints."})
    static final class ListCmd implements Callable<Integer> {
        @Option(names = "--saved-models", paramLabel = "DIR") Path savedModels = Path.of("saved-models");

        @Override
        public Integer call() {
            List<RunStore.Run> runs = new RunStore(savedModels).list();
            if (runs.isEmpty()) {
                System.out.println("no saved runs under " + savedModels + " (train with --save)");
                return 0;
            }
            // a run whose files cannot be read is skipped with one warning line; the others are still listed
            java.util.Map<String, List<Comparison.RunResult>> byConfig = new java.util.LinkedHashMap<>();
            List<Comparison.RunResult> read = new ArrayList<>();
            for (RunStore.Run r : runs) {
                try {
                    Comparison.RunResult rr = Comparison.RunResult.read(r);
                    read.add(rr);
                    byConfig.computeIfAbsent(r.config() + "/" + r.task(), k -> new ArrayList<>()).add(rr);
                } catch (RuntimeException e) {
                    String why = e instanceof ConfigError || e instanceof FormatError ? e.getMessage() : r.dir() + ": " + ConfigError.firstLine(e);
                    System.err.println("warning: skipping run " + r.timestamp() + ": " + why.lines().findFirst().orElse(""));
                }
            }
            java.util.Map<String, List<String>> varied = new java.util.HashMap<>();
            byConfig.forEach((k, rs) -> varied.put(k, Comparison.varied(rs)));
            System.out.printf("%-24s %-18s %-16s %-40s %10s  %s%n", "timestamp", "config", "task", "what varies (or the model)", "val_loss", "checkpoints");
            for (Comparison.RunResult rr : read) {
                RunStore.Run r = rr.run();
                List<String> keys = varied.get(r.config() + "/" + r.task());
                String what = !keys.isEmpty() || rr.ablation() != null ? Comparison.label(rr, keys) : model(rr);
                double v = rr.finalVal();
                List<String> cks = r.checkpoints();
                System.out.printf("%-24s %-18s %-16s %-40s %10s  %s%s%n", r.timestamp(), r.config(), r.task(), what,
                        Double.isNaN(v) ? "-" : String.format("%.4f", v), cks.isEmpty() ? "(none)" : String.join(",", cks),
                        r.finished() ? "" : "  [unfinished: runner resume]");
            }
            return 0;
        }

        /** {@code torch L1 H1 D16 T340 char}, with recipes and callbacks; {@code ?} for a run that saved no checkpoint. */
        private static String model(Comparison.RunResult rr) {
            List<String> cks = rr.run().checkpoints();
            if (cks.isEmpty()) return "?";
            RunSpec s = Checkpoint.readSpec(rr.run().checkpoint(cks.get(cks.size() - 1)), rr.run().config());
            return String.format("%s L%d H%d D%d T%d %s", s.mp().layer_architecture().spelling().replace("-transformer", ""),
                    s.mp().n_layers(), s.mp().n_heads(), s.mp().dim(), s.mp().max_seq_len(), s.mp().tokenizer_source_name())
                    + (s.mp().recipes().isBlank() ? "" : " + " + s.mp().recipes())
                    + (s.tp().callbacks().isBlank() ? "" : " | " + s.tp().callbacks());
        }
    }

    @Command(name = "verify", mixinStandardHelpOptions = true, description = "Check a saved run reloads exactly: identical weights and logits over two loads, val loss reproduced within 1e-4.")
    static final class VerifyCmd implements Callable<Integer> {
        @Option(names = "--timestamp", required = true, paramLabel = "T") String timestamp;
        @Option(names = "--checkpoint", paramLabel = "C", description = "checkpoint to check (default: final)") String checkpoint = Checkpoint.FINAL;
        @Option(names = "--saved-models", paramLabel = "DIR") Path savedModels = Path.of("saved-models");

        @Override
        public Integer call() {
            Verify.Report r = Verify.verify(new Runs(savedModels, Path.of("."), Device.cpu()), timestamp, checkpoint);
            System.out.println(r);
            return r.ok() ? 0 : 1;
        }
    }

    @Command(name = "resume", mixinStandardHelpOptions = true, description = "Continue an interrupted run from its last checkpoint.")
    static final class ResumeCmd implements Callable<Integer> {
        @Option(names = "--timestamp", required = true, paramLabel = "T") String timestamp;
        @Option(names = "--saved-models", paramLabel = "DIR") Path savedModels = Path.of("saved-models");
        @Option(names = "--gpu-id", paramLabel = "N") Integer gpuId;
        @Option(names = "--no-wandb", description = "do not log to Weights & Biases") boolean noWandb;

        @Override
        public Integer call() {
            RunStore.Run run = new RunStore(savedModels).find(timestamp);
            Experiment.resume(run, new Experiment.Setup(Path.of("."), savedModels, true, device(gpuId), System.out,
                    wandbListeners(noWandb, null, 1, System.out, null), true));
            return 0;
        }
    }

    @Command(name = "tokenize", mixinStandardHelpOptions = true, description = {"Read JSON lines {\"text\": ...} on stdin, write {\"text\": ..., \"ids\": [...]} per line.",
            "gpt2 without --task is the full GPT-2 vocabulary; with --task, tokenizers are built from that task's data as in training."})
    static final class TokenizeCmd implements Callable<Integer> {
        @Option(names = "--tokenizer", required = true, paramLabel = "NAME", description = "char | word | gpt2 | gpt2-full | custom") String name;
        @Option(names = "--task", paramLabel = "T") String task;
        @Option(names = "--custom-ntokens", paramLabel = "N") int ntokens = 20000;

        @Override
        public Integer call() throws Exception {
            Tokenizer tok;
            if (task == null) {
                tok = Tokenizers.named(Tokenizers.kind(name));
            } else {
                LoadedTask t = Tasks.load(DataParams.DEFAULTS.withDatasetName(task), Path.of("."));
                tok = Tokenizers.build(Tokenizers.kind(name), ntokens, DataModule.allTexts(t.splits()));
            }
            Gson gson = new Gson();
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
            String line;
            int n = 0;
            while ((line = in.readLine()) != null) {
                n++;
                if (line.isBlank()) continue;
                JsonObject o;
                try {
                    o = JsonParser.parseString(line).getAsJsonObject();
                } catch (RuntimeException e) {
                    throw new ConfigError("stdin:" + n + ": expected a JSON object {\"text\": ...}");
                }
                if (!o.has("text") || !o.get("text").isJsonPrimitive())
                    throw new ConfigError("stdin:" + n + ": expected a \"text\" string field");
                JsonObject r = new JsonObject();
                r.addProperty("text", o.get("text").getAsString());
                r.add("ids", gson.toJsonTree(tok.encode(o.get("text").getAsString())));
                out.println(gson.toJson(r));
            }
            out.flush();
            return 0;
        }
    }

    @Command(name = "params", mixinStandardHelpOptions = true, description = "List every parameter of every section with its default and meaning.")
    static final class ParamsCmd implements Callable<Integer> {
        @Option(names = "--markdown", description = "the reference as Markdown (what docs/parameters.md holds)") boolean markdown;

        @Override
        public Integer call() {
            if (markdown) {
                System.out.print(Params.markdown());
                return 0;
            }
            for (Params.Section s : Params.Section.values()) {
                System.out.println("[" + s.title + "]");
                for (var c : s.type.getRecordComponents()) {
                    Object def;
                    try {
                        def = c.getAccessor().invoke(s.defaults);
                    } catch (ReflectiveOperationException e) {
                        throw new IllegalStateException(e);
                    }
                    Doc d = c.getAnnotation(Doc.class);
                    System.out.printf("  %-32s %-22s %s%n", c.getName(), PyLiteral.repr(def), d == null ? "" : d.value());
                }
            }
            return 0;
        }
    }

    public static void main(String[] args) {
        int relaunched = Launch.relaunch(args); // java -jar without ./runner's process settings: once more, with them
        if (relaunched >= 0) System.exit(relaunched);
        Launch.exitWithParent(); // a relaunched child does not outlive the java -jar that started it
        System.setProperty("ai.djl.offline", "true");
        System.exit(run(args));
    }

    /** Runs the command line; returns the exit code (0 ok, 1 bug, failed check or diverged training, 2 user mistake). */
    public static int run(String... args) {
        CommandLine cmd = new CommandLine(new Main());
        cmd.setAllowSubcommandsAsOptionParameters(true); // --config=search: a config may share its name with a subcommand
        cmd.setExecutionExceptionHandler((ex, line, parsed) -> {
            if (ex instanceof ConfigError || ex instanceof FormatError) { // the user's to fix: one line, no trace
                System.err.println("error: " + ex.getMessage());
                return 2;
            }
            if (ex instanceof Trainer.Stopped) // a signal: its shutdown hook prints the one line on how to resume
                return 143;
            if (ex instanceof Trainer.Diverged || ex instanceof Trainer.SaveFailed) { // not a bug and not a mistake in the command: the run failed
                System.err.println("error: " + ex.getMessage());
                return 1;
            }
            throw ex;
        });
        cmd.setParameterExceptionHandler((ex, a) -> {
            System.err.println("error: " + ex.getMessage().replaceFirst("^Error: ", "") + " (see runner --help)"); // picocli's own prefix, once is enough
            return 2;
        });
        return cmd.execute(args);
    }
}
