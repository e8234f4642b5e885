package org.tinker.track;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tinker.config.RunSpec;
import org.tinker.runs.Checkpoint;
import org.tinker.runs.Namer;
import org.tinker.runs.StatsListener;

/**
 * Sends a run's statistics to W&B: one {@link WandbRun} per training run (the listener serves the runs of a
 * grid one after the other). The statistics of one training step (same {@code statSyncer}) make one history
 * row, under the names they have in train_stats, and every row carries {@code n_train_samples}. The run id
 * is kept in {@code wandb.json} in the run folder (and so in every checkpoint) so that {@code runner resume}
 * continues the same W&B run.
 */
public final class WandbListener implements StatsListener {
    public static final String RUN_FILE = "wandb.json";

    private final WandbSettings settings;
    private final String projNameOverride;
    private final PrintStream out;
    private WandbRun run;
    private final Map<String, Object> row = new LinkedHashMap<>();
    private long rowStep = Long.MIN_VALUE;
    private long skipUpTo = -1;
    /** Every statistic of the current run as (n_train_samples, value) points, for the end-of-run plots. */
    private final Map<String, List<double[]>> series = new LinkedHashMap<>();
    private RunStart started;
    private EndImages endImages;
    /** This launch's W&B group for grids: config name + launch id (the time it started, unless one is given). */
    private String launchTime = LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd_HHmmss"));

    /**
     * Makes the images a run uploads when it ends (the saved metric plots): given the run and its statistics
     * as (n_train_samples, value) points, returns image key → PNG. Plotting lives elsewhere (explore); the
     * CLI supplies it.
     */
    @FunctionalInterface
    public interface EndImages {
        Map<String, Path> make(RunStart run, Map<String, List<double[]>> series);
    }

    /**
     * The launch these runs belong to ({@code runner --launch-id}, which every task of one SLURM submission shares), so
     * that the tasks of one grid, each its own process, land in one group.
     */
    public WandbListener withLaunch(String launchId) {
        this.launchTime = launchId;
        return this;
    }

    public WandbListener withEndImages(EndImages images) {
        this.endImages = images;
        return this;
    }

    public WandbListener(WandbSettings settings, String projNameOverride, PrintStream out) {
        this.settings = settings;
        this.projNameOverride = projNameOverride;
        this.out = out;
    }

    /** The W&B run of the run now training (for images: {@code current().logImage(key, png)}); null between runs. */
    public WandbRun current() {
        return run;
    }

    @Override
    public void onStart(RunStart r) {
        RunSpec spec = r.spec();
        WandbSettings s = settings;
        if (s.timing().finishWait() == null) // WANDB_FINISH_TIMEOUT, when set, takes precedence over the run's config
            s = s.withTiming(s.timing().withFinishWait(Duration.ofMillis(Math.round(spec.tp().wandb_finish_timeout_s() * 1000))));
        Path previousSpool = null;
        Long rewindTo = null;
        skipUpTo = r.resumeAfterStep();
        if (r.resumeAfterStep() >= 0) {
            JsonObject stored = readStored(r.runDir().resolve(RUN_FILE));
            if (stored == null && r.checkpoint() != null) stored = readStored(r.checkpoint().resolve(RUN_FILE));
            if (stored != null && stored.has("run_id")) {
                s = s.withRun(stored.get("run_id").getAsString(), s.resume() != null ? s.resume() : "allow");
                rewindTo = r.resumeAfterStep(); // rows are logged at _step = training step: the checkpoint's is the rewind point
                if (stored.has("spool")) {
                    Path p = Path.of(stored.get("spool").getAsString());
                    if (Files.isDirectory(p)) previousSpool = p;
                }
            } else if (settings.mode() != WandbSettings.Mode.DISABLED) {
                out.println("W&B: " + r.runDir() + " records no W&B run id; the resumed run is a new W&B run");
            }
        }
        run = WandbRun.start(s, new WandbRun.Init(Namer.wandbProjectName(spec, projNameOverride), Namer.runName(spec), spec.flat(),
                previousSpool, groupName(spec), "train", tags(spec), rewindTo), out);
        run.carry("n_train_samples");
        started = r;
        series.clear();
        row.clear();
        rowStep = Long.MIN_VALUE;
        if (run.enabled() && r.save()) {
            JsonObject o = new JsonObject();
            o.addProperty("run_id", run.id());
            o.addProperty("project", run.project());
            o.addProperty("spool", run.spoolDir().toAbsolutePath().toString());
            try {
                Files.createDirectories(r.runDir());
                Spool.writeAtomically(r.runDir().resolve(RUN_FILE), WandbHttp.GSON.toJson(o));
            } catch (IOException e) {
                out.println("W&B: cannot write " + r.runDir().resolve(RUN_FILE) + " (" + e.getMessage() + "); resume will start a new W&B run");
            }
        }
    }

    @Override
    public void onStat(String name, double value, Counters at) {
        WandbRun w = run;
        if (w == null || !w.enabled()) return;
        if (at.statSyncer() != rowStep) {
            flush();
            rowStep = at.statSyncer();
        }
        if (at.statSyncer() <= skipUpTo) return; // the Trainer's constructor values of a resumed run
        row.put(name, value);
        if (endImages != null) series.computeIfAbsent(name, k -> new ArrayList<>()).add(new double[] {at.nTrainSamples(), value});
        if (w.stopRequested()) {
            flush();
            throw new WandbRun.Stopped("the W&B run " + w.id() + " was stopped from the W&B UI");
        }
    }

    /**
     * With {@code tp.wandb_log_checkpoints}, a saved checkpoint becomes a version of the run's model artifact
     * {@code model-{run id}}: every file of the folder, aliases {@code latest}, {@code step-{_step}} (and {@code final}
     * for the last one), the counters as metadata.
     */
    @Override
    public void onCheckpoint(Path dir, Counters at) {
        WandbRun w = run;
        if (w == null || !w.enabled() || started == null || !started.spec().tp().wandb_log_checkpoints()) return;
        List<String> aliases = new ArrayList<>(List.of("latest", "step-" + at.statSyncer()));
        if (dir.getFileName().toString().equals(Checkpoint.FINAL)) aliases.add(Checkpoint.FINAL);
        JsonObject meta = new JsonObject();
        meta.addProperty("checkpoint", dir.getFileName().toString());
        meta.addProperty("step", at.statSyncer());
        meta.addProperty("n_train_samples", at.nTrainSamples());
        w.logArtifact("model-" + w.id(), "model", dir, aliases, meta);
    }

    /** The runs of one grid launch share a group: {@code {config}-{launch time}}; a single run has none. */
    String groupName(RunSpec spec) {
        return spec.total() > 1 ? spec.configName() + "-" + launchTime : null;
    }

    /** Task and architecture; ablation runs are tagged {@code ablation} and {@code ablation:{name}}. */
    static List<String> tags(RunSpec spec) {
        List<String> t = new ArrayList<>(List.of(spec.dp().dataset_name(), spec.mp().layer_architecture().spelling()));
        if (spec.ablation() != null) {
            t.add("ablation");
            t.add("ablation:" + spec.ablation());
        }
        return t;
    }

    private void flush() {
        if (row.isEmpty() || run == null) return;
        run.log(row, rowStep);
        row.clear();
    }

    @Override
    public void onOutput(String line) {
        if (run != null) run.output(line);
    }

    @Override
    public void onEnd(Throwable error) {
        if (run == null) return;
        flush();
        if (endImages != null && run.enabled() && started != null) {
            try {
                endImages.make(started, series).forEach(run::logImage);
                flush();
            } catch (RuntimeException e) { // a plot must never fail the run
                out.println("W&B: could not make the metric plots (" + e.getMessage() + ")");
            }
        }
        run.finish(error == null ? 0 : 1);
        run = null;
    }

    private static JsonObject readStored(Path f) {
        if (!Files.isRegularFile(f)) return null;
        try {
            return JsonParser.parseString(Files.readString(f)).getAsJsonObject();
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }
}
