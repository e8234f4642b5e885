package org.tinker.explore;

import ai.djl.ndarray.NDArray;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.tinker.config.ConfigError;
import org.tinker.model.ForwardOptions;
import org.tinker.model.Inspection;
import org.tinker.runs.Checkpoint;
import org.tinker.runs.RunStore;
import org.tinker.runs.TrainStats;

/**
 * The reference's {@code model_explorer}, for jshell: {@code import org.tinker.explore.*;} then
 * {@code Explore.plotMetrics(...)}, {@code Explore.showAttentions(...)}, ... Pictures go under {@link #outDir()}
 * ({@code .} unless set): {@code metrics/}, {@code attentions/}, {@code lens/}.
 */
public final class Explore {
    private static Path outDir = Path.of(".");
    private static Runs runs;

    private Explore() {}

    /** Where pictures are written (default: the working directory). */
    public static Path outDir() {
        return outDir;
    }

    public static void setOutDir(Path dir) {
        outDir = dir;
    }

    /** The runs the timestamp-taking methods look in (default {@code Runs.open()}: ./saved-models). */
    public static void setRuns(Runs r) {
        runs = r;
    }

    static Runs runs() {
        if (runs == null) runs = Runs.open();
        return runs;
    }

    /** The final checkpoint of a run, with its data: {@code lm(), data(), trainStats(), explorer()...}. */
    public static LoadedRun getModelByTimestamp(String timestamp) {
        return runs().get(timestamp);
    }

    public static LoadedRun getModelByTimestamp(String timestamp, String checkpoint, boolean withData) {
        return runs().get(timestamp, checkpoint, withData);
    }

    /** Checkpoint names of a run (intermediate by n_train_samples, then final). */
    public static List<String> checkpoints(String timestamp) {
        return runs().checkpoints(timestamp);
    }

    public static Verify.Report verifyStableLoad(String timestamp) {
        return Verify.verify(runs(), timestamp, Checkpoint.FINAL);
    }

    // ---------------------------------------------------------------------------------------------------
    // Metrics

    /**
     * Plots metrics of one or more runs against n_train_samples (or the step, for stats files that did not record
     * it) into {@code metrics/{file}.png}; file defaults to the metric and timestamp names.
     */
    public static Path plotMetrics(List<String> timestamps, List<String> metricNames, String title, String file) {
        timestamps = new ArrayList<>(new java.util.LinkedHashSet<>(timestamps));
        metricNames = new ArrayList<>(new java.util.LinkedHashSet<>(metricNames));
        if (timestamps.isEmpty() || metricNames.isEmpty()) throw new ConfigError("plot-metrics: give at least one timestamp and one metric");
        List<Plots.Series> series = new ArrayList<>();
        boolean bySteps = false;
        for (String ts : timestamps) {
            RunStore.Run run = runs().store().find(ts);
            List<String> cks = run.checkpoints();
            if (cks.isEmpty()) throw new ConfigError(run.dir() + ": this run has no checkpoint to read train_stats from");
            Path ck = run.checkpoint(cks.get(cks.size() - 1));
            TrainStats stats = Checkpoint.readStats(ck.resolve(Checkpoint.STATS_FILE));
            for (String metric : metricNames) {
                List<TrainStats.Point> pts = stats.get(metric);
                if (pts.isEmpty())
                    throw new ConfigError("run " + ts + " has no metric '" + metric + "' (it has: " + String.join(", ", stats.names()) + ")");
                double[] x = new double[pts.size()], y = new double[pts.size()];
                for (int i = 0; i < pts.size(); i++) {
                    TrainStats.Point p = pts.get(i);
                    if (p.nTrainSamples() < 0) bySteps = true;
                    x[i] = p.nTrainSamples() >= 0 ? p.nTrainSamples() : p.step();
                    y[i] = p.value();
                }
                String name = timestamps.size() == 1 ? metric : metricNames.size() == 1 ? ts : ts + " " + metric;
                series.add(new Plots.Series(name, x, y));
            }
        }
        if (title == null || title.isBlank()) title = String.join(", ", metricNames) + (timestamps.size() == 1 ? " — " + timestamps.get(0) : "");
        if (file == null || file.isBlank()) file = safe(String.join("+", metricNames)) + "_" + safe(String.join("+", timestamps));
        String yAxis = metricNames.size() == 1 ? metricNames.get(0) : "value";
        return Plots.lineChart(title, bySteps ? "training steps" : "n_train_samples", yAxis, series,
                outDir.resolve("metrics").resolve(file.endsWith(".png") ? file : file + ".png"));
    }

    public static Path plotMetrics(String timestamp, String metricName) {
        return plotMetrics(List.of(timestamp), List.of(metricName), null, null);
    }

    static String safe(String s) {
        return s.replaceAll("[^A-Za-z0-9._+-]", "_");
    }

    // ---------------------------------------------------------------------------------------------------
    // Attention

    /**
     * One heatmap per (layer, head) of {@code text}'s attention pattern, token labels on both axes, into
     * {@code attentions/{folder}/L{l}-H{h}.png}. Layers are the model's ({@link Inspection#attentionLayers}: every
     * block; a hierarchical model's layers; a flexi model's 'sa' layers); layers/heads null = all. Returns the files.
     */
    public static List<Path> showAttentions(Explorer ex, String text, List<Integer> layers, List<Integer> heads, String folder) {
        List<Integer> have = Inspection.attentionLayers(ex.lm());
        List<Path> out = new ArrayList<>();
        try (Explorer.Output o = ex.forward(text, ForwardOptions.DEFAULT.withAttns(true))) { // a body without patterns says why
            int nh = Math.toIntExact(o.attns().getShape().get(2)); // [B,L,H,T,T]
            layers = layers == null || layers.isEmpty() ? have : layers;
            heads = heads == null || heads.isEmpty() ? range(nh) : heads;
            for (int l : layers)
                if (!have.contains(l)) throw new ConfigError("layer " + l + ": the model has attention patterns at layers "
                        + (have.equals(range(have.size())) ? "0.." + (have.size() - 1) : have.toString()));
            for (int h : heads) if (h < 0 || h >= nh) throw new ConfigError("head " + h + ": the model has heads 0.." + (nh - 1));
            int[] ids = o.ids()[0];
            int t = ids.length;
            List<String> labels = ex.labels(ids);
            for (int l : layers) {
                for (int h : heads) {
                    NDArray a = o.attns().get(0, have.indexOf(l), h); // [T,T] query × key
                    float[] f = a.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray();
                    double[][] v = new double[t][t];
                    for (int q = 0; q < t; q++) for (int k = 0; k < t; k++) v[q][k] = k > q ? Double.NaN : f[q * t + k];
                    String title = ex.name() + ": attention of layer " + l + ", head " + h;
                    out.add(Plots.heatmap(new Plots.Heatmap(title, labels, labels, v, null, "key (attended-to token)",
                            "query token", "attention weight", 0, 1), outDir.resolve("attentions").resolve(folder).resolve("L" + l + "-H" + h + ".png")));
                }
            }
        }
        return out;
    }

    /** The reference layout: {@code attentions/{task}/{ts}/heads-at-chkpt/{chkpt}/L{l}-H{h}.png}. */
    public static List<Path> showAttentions(LoadedRun run, String text, List<Integer> layers, List<Integer> heads) {
        String folder = run.run().task() + "/" + run.run().timestamp() + "/heads-at-chkpt/" + run.checkpoint();
        return showAttentions(run.explorer(), text, layers, heads, folder);
    }

    public static List<Path> showAttentions(String timestamp, String text, List<Integer> layers, List<Integer> heads) {
        try (LoadedRun run = runs().get(timestamp, Checkpoint.FINAL, false)) {
            return showAttentions(run, text, layers, heads);
        }
    }

    /**
     * One head's pattern at every checkpoint of a run, one image per checkpoint, into
     * {@code attentions/{task}/{ts}/head-progress/L{l}-H{h}/{chkpt}.png}.
     */
    public static List<Path> showHeadProgress(String timestamp, String text, int layer, int head) {
        List<Path> out = new ArrayList<>();
        for (String ck : checkpoints(timestamp)) {
            try (LoadedRun run = runs().get(timestamp, ck, false)) {
                String folder = run.run().task() + "/" + timestamp + "/head-progress/L" + layer + "-H" + head;
                Path p = showAttentions(run.explorer(), text, List.of(layer), List.of(head), folder).get(0);
                Path target = p.resolveSibling(ck + ".png");
                try {
                    java.nio.file.Files.move(p, target, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
                out.add(target);
            }
        }
        return out;
    }

    private static List<Integer> range(int n) {
        List<Integer> r = new ArrayList<>();
        for (int i = 0; i < n; i++) r.add(i);
        return r;
    }

    // ---------------------------------------------------------------------------------------------------
    // Logit lens and partial forward

    /**
     * transformer-utils' {@code plot_logit_lens}: a heatmap of layer × position into
     * {@code lens/{name}-{mode}.png}. start/end: positions of the encoded text (bos is position 0); end ≤ 0 = all.
     */
    public static Path plotLogitLens(Explorer ex, String text, int start, int end, String mode, boolean includeSubblocks,
                                     List<String> decoderLayerNames, int blockStep) {
        LogitLens.Mode m = LogitLens.mode(mode);
        LogitLens.Result r = LogitLens.compute(ex, text, start, end, m, includeSubblocks, decoderLayerNames, blockStep);
        String title = ex.name() + ": logit lens (" + m.name().toLowerCase() + ")";
        return LogitLens.plot(r, title, outDir.resolve("lens").resolve(safe(ex.name()) + "-" + m.name().toLowerCase()
                + (includeSubblocks ? "-subblocks" : "") + ".png"));
    }

    public static Path plotLogitLens(Explorer ex, String text, String mode) {
        return plotLogitLens(ex, text, 0, -1, mode, false, null, 1);
    }

    public static Explorer.Activations partialForward(Explorer ex, List<String> outputNames, String text) {
        return ex.partialForward(outputNames, text);
    }
}
