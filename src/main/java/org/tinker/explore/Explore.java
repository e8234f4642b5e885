package org.tinker.explore;

import ai.djl.ndarray.NDArray;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.tinker.config.ConfigError;
import org.tinker.model.ForwardOptions;
import org.tinker.model.Inspection;
import org.tinker.runs.Checkpoint;

/**
 * The reference's {@code model_explorer}, for jshell: {@code import org.tinker.explore.*;}, then
 * {@code var ex = Explore.open();} and {@code ex.plotMetrics(...)}, {@code ex.showAttentions(...)}, ... An explorer reads
 * the runs of one {@link Runs} and writes its pictures under one folder: {@code metrics/}, {@code attentions/},
 * {@code lens/}.
 */
public final class Explore {
    private final Runs runs;
    private final Path outDir;

    /** Looks in {@code runs} and writes pictures under {@code outDir}. */
    public Explore(Runs runs, Path outDir) {
        this.runs = runs;
        this.outDir = outDir;
    }

    /** The runs under ./saved-models, pictures under the working directory. */
    public static Explore open() {
        return new Explore(Runs.open(), Path.of("."));
    }

    /** Where pictures are written. */
    public Path outDir() {
        return outDir;
    }

    Runs runs() {
        return runs;
    }

    /** The final checkpoint of a run, with its data: {@code lm(), data(), trainStats(), explorer()...}. */
    public LoadedRun getModelByTimestamp(String timestamp) {
        return runs().get(timestamp);
    }

    public LoadedRun getModelByTimestamp(String timestamp, String checkpoint, boolean withData) {
        return runs().get(timestamp, checkpoint, withData);
    }

    /** Checkpoint names of a run (intermediate by n_train_samples, then final). */
    public List<String> checkpoints(String timestamp) {
        return runs().checkpoints(timestamp);
    }

    public Verify.Report verifyStableLoad(String timestamp) {
        return Verify.verify(runs(), timestamp, Checkpoint.FINAL);
    }

    // ---------------------------------------------------------------------------------------------------
    // Metrics

    /**
     * Plots metrics of one or more runs against n_train_samples (or the step, for stats files that did not record
     * it) into {@code metrics/{file}.png}; file defaults to the metric and timestamp names. Runs are labelled by what
     * varies among them ({@code lr=0.001 dim=32}); runs that differ only by {@code random_seed} are drawn as one line, their
     * mean, between dashed lines at their lowest and highest value.
     */
    public Path plotMetrics(List<String> timestamps, List<String> metricNames, String title, String file) {
        timestamps = new ArrayList<>(new java.util.LinkedHashSet<>(timestamps));
        metricNames = new ArrayList<>(new java.util.LinkedHashSet<>(metricNames));
        if (timestamps.isEmpty() || metricNames.isEmpty()) throw new ConfigError("plot-metrics: give at least one timestamp and one metric");
        List<Comparison.RunResult> results = Comparison.ofTimestamps(runs().store(), timestamps);
        for (Comparison.RunResult r : results) {
            if (r.run().checkpoints().isEmpty()) throw new ConfigError(r.run().dir() + ": this run has no checkpoint to read train_stats from");
            for (String metric : metricNames)
                if (r.stats().get(metric).isEmpty())
                    throw new ConfigError("run " + r.run().timestamp() + " has no metric '" + metric + "' (it has: " + String.join(", ", r.stats().names()) + ")");
        }
        List<Plots.Series> series = metricSeries(results, metricNames);
        List<String> metrics = metricNames;
        boolean bySteps = results.stream().anyMatch(r -> metrics.stream().anyMatch(m -> r.stats().get(m).stream().anyMatch(p -> p.nTrainSamples() < 0)));
        List<Comparison.Row> rows = Comparison.table("", results).rows();
        if (title == null || title.isBlank())
            title = String.join(", ", metricNames.size() == 1 ? metricNames : metricNames.stream().map(Explore::shortMetric).toList())
                    + (results.size() == 1 ? " — " + timestamps.get(0) : rows.size() < results.size() ? " (mean of seeds; dashed: lowest and highest)" : "");
        if (file == null || file.isBlank()) file = safe(String.join("+", metricNames)) + "_" + safe(String.join("+", timestamps));
        String yAxis = metricNames.size() == 1 ? metricNames.get(0) : "value";
        return Plots.lineChart(title, bySteps ? "training steps" : "n_train_samples", yAxis, series,
                outDir.resolve("metrics").resolve(file.endsWith(".png") ? file : file + ".png"));
    }

    /**
     * The lines of {@link #plotMetrics}: per row of the runs' comparison (a run, or the runs that differ only by seed) and
     * metric, named by the row's varied values ({@code lr=0.001 (2 seeds)}), a band for seeds; one run's lines by metric.
     */
    public static List<Plots.Series> metricSeries(List<Comparison.RunResult> results, List<String> metricNames) {
        List<Plots.Series> series = new ArrayList<>();
        for (Comparison.Row row : Comparison.table("", results).rows())
            for (String metric : metricNames) {
                String name = results.size() == 1 ? metric : metricNames.size() == 1 ? row.label() : row.label() + " " + shortMetric(metric);
                series.add(Comparison.curve(row.label(), row.runs(), metric).series(name));
            }
        return series;
    }

    /** {@code stat/val_loss:main} → {@code val_loss}. */
    static String shortMetric(String metric) {
        return metric.replaceFirst("^stat/", "").replaceFirst(":main$", "");
    }

    public Path plotMetrics(String timestamp, String metricName) {
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
    public List<Path> showAttentions(Explorer ex, String text, List<Integer> layers, List<Integer> heads, String folder) {
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
            List<String> labels = ex.labels(o.ids()[0]);
            for (int l : layers)
                for (int h : heads)
                    out.add(Plots.heatmap(attention(ex, o, labels, have.indexOf(l), l, h),
                            outDir.resolve("attentions").resolve(folder).resolve("L" + l + "-H" + h + ".png")));
        }
        return out;
    }

    /** The attention heatmap of the model's last attention layer, head 0, on {@code text} (the report's picture). */
    public static Plots.Heatmap lastLayerAttention(Explorer ex, String text) {
        List<Integer> have = Inspection.attentionLayers(ex.lm());
        try (Explorer.Output o = ex.forward(text, ForwardOptions.DEFAULT.withAttns(true))) {
            return attention(ex, o, ex.labels(o.ids()[0]), have.size() - 1, have.get(have.size() - 1), 0);
        }
    }

    /** One head's pattern as a heatmap: query rows, key columns, the masked future grey. */
    private static Plots.Heatmap attention(Explorer ex, Explorer.Output o, List<String> labels, int index, int layer, int head) {
        int t = labels.size();
        NDArray a = o.attns().get(0, index, head); // [T,T] query × key
        float[] f = a.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray();
        double[][] v = new double[t][t];
        for (int q = 0; q < t; q++) for (int k = 0; k < t; k++) v[q][k] = k > q ? Double.NaN : f[q * t + k];
        String title = ex.name() + ": attention of layer " + layer + ", head " + head;
        return new Plots.Heatmap(title, labels, labels, v, null, "key (attended-to token)", "query token", "attention weight", 0, 1);
    }

    /** The reference layout: {@code attentions/{task}/{ts}/heads-at-chkpt/{chkpt}/L{l}-H{h}.png}. */
    public List<Path> showAttentions(LoadedRun run, String text, List<Integer> layers, List<Integer> heads) {
        String folder = run.run().task() + "/" + run.run().timestamp() + "/heads-at-chkpt/" + run.checkpoint();
        return showAttentions(run.explorer(), text, layers, heads, folder);
    }

    public List<Path> showAttentions(String timestamp, String text, List<Integer> layers, List<Integer> heads) {
        try (LoadedRun run = runs().get(timestamp, Checkpoint.FINAL, false)) {
            return showAttentions(run, text, layers, heads);
        }
    }

    /**
     * One head's pattern at every checkpoint of a run, one image per checkpoint, into
     * {@code attentions/{task}/{ts}/head-progress/L{l}-H{h}/{chkpt}.png}.
     */
    public List<Path> showHeadProgress(String timestamp, String text, int layer, int head) {
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
    public Path plotLogitLens(Explorer ex, String text, int start, int end, String mode, boolean includeSubblocks,
                                     List<String> decoderLayerNames, int blockStep) {
        LogitLens.Mode m = LogitLens.mode(mode);
        LogitLens.Result r = LogitLens.compute(ex, text, start, end, m, includeSubblocks, decoderLayerNames, blockStep);
        String title = ex.name() + ": logit lens (" + m.name().toLowerCase() + ")";
        return LogitLens.plot(r, title, outDir.resolve("lens").resolve(safe(ex.name()) + "-" + m.name().toLowerCase()
                + (includeSubblocks ? "-subblocks" : "") + ".png"));
    }

    public Path plotLogitLens(Explorer ex, String text, String mode) {
        return plotLogitLens(ex, text, 0, -1, mode, false, null, 1);
    }

    public static Explorer.Activations partialForward(Explorer ex, List<String> outputNames, String text) {
        return ex.partialForward(outputNames, text);
    }
}
