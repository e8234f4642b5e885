package org.tinker.explore;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.tinker.config.ConfigError;
import org.tinker.config.PyLiteral;
import org.tinker.config.RunSpec;
import org.tinker.runs.Checkpoint;
import org.tinker.runs.RunOrigin;
import org.tinker.runs.RunStore;
import org.tinker.runs.TrainStats;

/**
 * A grid at a glance: the saved runs of one launch (or any runs by timestamp) side by side, a row per run, with the
 * parameters that vary between them first and then how each run did. When {@code random_seed} is one of the varying
 * parameters, the runs that differ only by seed are folded into one row of mean ± standard deviation. Everything comes
 * from the run folders ({@code origin.json}, the newest checkpoint's params and {@code train_stats.json}), so it works on
 * a saved-models folder copied off a cluster. {@code runner compare} prints it; {@link Report} puts it in a page.
 */
public final class Comparison {
    public static final String VAL = "stat/val_loss:main", TRAIN = "stat/train_batch_loss:main", TEST = "stat/test_loss:main";
    public static final String SEED = "tp.random_seed";

    /** The metric columns, after the parameter columns; {@code vs_best} is the final val loss minus the lowest one. */
    public static final List<String> METRICS = List.of("final_val_loss", "vs_best", "best_val_loss", "test_loss", "val_ppl", "steps",
            "tokens_per_s", "wall_s", "status");

    /**
     * One saved run and what it recorded.
     *
     * @param origin its {@code origin.json}, or null (saved before runs had one)
     * @param params its flat params ({@code tp.lr → 0.001}) as the config shows them, from its newest checkpoint; empty
     *               when it has no checkpoint (an unfinished run that saved none)
     * @param stats its newest checkpoint's train_stats (empty when it has no checkpoint)
     */
    public record RunResult(RunStore.Run run, RunOrigin origin, LinkedHashMap<String, String> params, TrainStats stats,
                            double tokensPerSecond, double wallSeconds) {
        public double finalVal() {
            return stats.last(VAL);
        }

        public double bestVal() {
            return stats.get(VAL).stream().mapToDouble(TrainStats.Point::value).filter(Double::isFinite).min().orElse(Double.NaN);
        }

        public double testLoss() {
            return stats.last(TEST);
        }

        public double steps() {
            return stats.last("n_opt_steps");
        }

        public boolean finished() {
            return run.finished();
        }

        public String ablation() {
            if (origin != null) return origin.ablation();
            return run.runName() != null && run.runName().startsWith("ablation-") ? run.runName().substring("ablation-".length()) : null;
        }

        /** Reads a run folder: its origin, its newest checkpoint's params and stats, its speed. */
        public static RunResult read(RunStore.Run run) {
            List<String> cks = run.checkpoints();
            LinkedHashMap<String, String> params = new LinkedHashMap<>();
            TrainStats stats = new TrainStats();
            if (!cks.isEmpty()) {
                Path ck = run.dir().resolve(cks.get(cks.size() - 1));
                RunSpec spec = Checkpoint.readSpec(ck, run.config());
                spec.flat().forEach((k, v) -> params.put(k, PyLiteral.show(v)));
                stats = Checkpoint.readStats(ck.resolve(Checkpoint.STATS_FILE));
            }
            double tps = stats.last("train_tokens_per_s");
            if (Double.isNaN(tps) && run.finished()) tps = tokensPerSecondFromLog(run.dir().resolve("log.txt"));
            return new RunResult(run, RunOrigin.read(run.dir()), params, stats, tps, stats.last("wall_time"));
        }
    }

    private static final Pattern DONE_TPS = Pattern.compile("^done: .*, ([\\d,]+) train tokens/s");

    /** Runs saved before train_tokens_per_s was a statistic: the speed their log's {@code done:} line printed. */
    static double tokensPerSecondFromLog(Path log) {
        if (!Files.isRegularFile(log)) return Double.NaN;
        try (var lines = Files.lines(log)) {
            return lines.map(DONE_TPS::matcher).filter(Matcher::find).map(m -> Double.parseDouble(m.group(1).replace(",", "")))
                    .reduce((a, b) -> b).orElse(Double.NaN);
        } catch (IOException | java.io.UncheckedIOException e) {
            return Double.NaN;
        }
    }

    // ------------------------------------------------------------------ picking runs

    /**
     * The runs of {@code runner --config=NAME}'s latest launch, or of launch {@code launch}: its own runs, and for a grid
     * point it did not run (a {@code --skip-done} launch) the newest earlier run of the same point. Runs saved before
     * runs recorded their launch are picked by their config folder ({@code NAME} or {@code NAME-*}), the newest run of
     * each distinct set of params.
     */
    public static List<RunResult> ofLaunch(RunStore store, String config, String launch) {
        if (config == null || config.isBlank()) throw new ConfigError("--config: expected the config name the grid was launched with");
        List<RunStore.Run> all = store.list();
        List<RunStore.Run> mine = new ArrayList<>();
        Map<RunStore.Run, RunOrigin> origins = new LinkedHashMap<>();
        for (RunStore.Run r : all) {
            RunOrigin o = RunOrigin.read(r.dir());
            if (o != null && o.config().equals(config)) {
                mine.add(r);
                origins.put(r, o);
            }
        }
        if (mine.isEmpty()) {
            if (launch != null)
                throw new ConfigError("--launch=" + launch + ": no run of config " + config + " records its launch under " + store.root());
            return legacy(all, config, store.root());
        }
        TreeSet<String> launches = new TreeSet<>();
        for (RunOrigin o : origins.values()) launches.add(o.launch());
        String chosen = launch != null ? launch : launches.last();
        if (!launches.contains(chosen))
            throw new ConfigError("--launch=" + launch + ": config " + config + " has no such launch under " + store.root() + " (it has: "
                    + String.join(", ", launches) + ")");
        // newest run of each point of the chosen launch; then the points it left to earlier launches of the same grid
        // (same number of points, same axes): a --skip-done launch runs only what was missing
        Map<Integer, RunStore.Run> byPoint = new java.util.TreeMap<>();
        RunOrigin grid = null;
        for (RunStore.Run r : mine) {
            RunOrigin o = origins.get(r);
            if (!o.launch().equals(chosen)) continue;
            byPoint.put(o.point(), r); // store.list() is oldest first
            grid = o;
        }
        for (int p = 1; p <= grid.points(); p++) {
            if (byPoint.containsKey(p)) continue;
            for (RunStore.Run r : mine) {
                RunOrigin o = origins.get(r);
                if (o.launch().compareTo(chosen) < 0 && o.point() == p && o.points() == grid.points()
                        && o.varying().keySet().equals(grid.varying().keySet()))
                    byPoint.put(p, r); // the newest earlier one wins
            }
        }
        List<RunResult> out = new ArrayList<>();
        for (RunStore.Run r : byPoint.values()) {
            RunResult rr = readOrWarn(r);
            if (rr != null) out.add(rr);
        }
        if (out.isEmpty()) throw new ConfigError("config " + config + ", launch " + chosen + ": none of its runs could be read (see the warnings above)");
        return out;
    }

    /** A run of a launch whose files cannot be read is left out with one warning line; the others are still compared. */
    private static RunResult readOrWarn(RunStore.Run r) {
        try {
            return RunResult.read(r);
        } catch (RuntimeException e) {
            System.err.println("warning: leaving out run " + r.timestamp() + " (" + r.dir() + "): " + ConfigError.firstLine(e));
            return null;
        }
    }

    private static List<RunResult> legacy(List<RunStore.Run> all, String config, Path root) {
        LinkedHashMap<String, RunResult> byParams = new LinkedHashMap<>();
        for (RunStore.Run r : all) {
            if (!r.config().equals(config) && !r.config().startsWith(config + "-")) continue;
            RunResult rr = readOrWarn(r);
            if (rr == null) continue;
            byParams.remove(rr.params().toString() + r.config()); // keep the newest, in its place among the newer
            byParams.put(rr.params().toString() + r.config(), rr);
        }
        if (byParams.isEmpty()) throw new ConfigError(root.resolve(config) + ": no saved runs of config " + config + " (train with --save; see runner list)");
        return new ArrayList<>(byParams.values());
    }

    /** The runs with these timestamps, in the order given. */
    public static List<RunResult> ofTimestamps(RunStore store, List<String> timestamps) {
        List<RunResult> out = new ArrayList<>();
        for (String ts : new LinkedHashSet<>(timestamps)) out.add(RunResult.read(store.find(ts.strip())));
        if (out.isEmpty()) throw new ConfigError("--timestamps: expected one or more run timestamps, e.g. --timestamps=T1,T2");
        return out;
    }

    // ------------------------------------------------------------------ what varies

    /**
     * The parameters that vary among the runs, in params order: those whose value differs between runs that are not
     * ablations (an ablation changes several; its name is a column of its own). A run that saved no checkpoint yet
     * counts with the values its origin records.
     */
    public static List<String> varied(List<RunResult> runs) {
        List<String> order = new ArrayList<>();
        for (RunResult r : runs) {
            for (String k : r.params().keySet()) if (!order.contains(k)) order.add(k);
            if (r.origin() != null) for (String k : r.origin().varying().keySet()) if (!order.contains(k)) order.add(k);
        }
        List<String> keys = new ArrayList<>();
        for (String k : order) {
            Set<String> values = new LinkedHashSet<>();
            for (RunResult r : runs) if (r.ablation() == null) values.add(value(r, k));
            values.remove("-");
            if (values.size() > 1) keys.add(k);
        }
        return keys;
    }

    /** A run's value of a parameter: its saved params, or its origin's for a run that saved none. */
    static String value(RunResult r, String key) {
        String v = r.params().get(key);
        if (v == null && r.origin() != null) v = r.origin().varying().get(key);
        return v == null ? "-" : v;
    }

    /** How a run is told apart from the others: {@code lr=0.001 dim=32} (short keys), {@code ablation=X}; its timestamp when nothing varies. */
    public static String label(RunResult r, List<String> keys) {
        List<String> parts = new ArrayList<>();
        for (String k : keys) parts.add(RunSpec.shortKey(k) + "=" + value(r, k));
        if (r.ablation() != null) parts.add("ablation=" + r.ablation());
        return parts.isEmpty() ? r.run().timestamp() : String.join(" ", parts);
    }

    /**
     * A folded row's name: {@code lr=0.001}, {@code ablation=X}; when nothing but the seed varies, {@code baseline} among
     * ablations, else {@code all seeds}.
     */
    private static String foldedLabel(RunResult r, List<String> rowKeys, boolean ablations) {
        if (!rowKeys.isEmpty() || r.ablation() != null) return label(r, rowKeys);
        return ablations ? "baseline" : "all seeds";
    }

    // ------------------------------------------------------------------ the table

    /** A value over the runs of a row: their mean, standard deviation (NaN for one run) and how many had it. */
    public record Stat(double mean, double spread, int n) {
        static Stat of(List<Double> values) {
            double[] v = values.stream().mapToDouble(Double::doubleValue).filter(Double::isFinite).toArray();
            if (v.length == 0) return new Stat(Double.NaN, Double.NaN, 0);
            double m = 0;
            for (double x : v) m += x;
            m /= v.length;
            if (v.length == 1) return new Stat(m, Double.NaN, 1);
            double ss = 0;
            for (double x : v) ss += (x - m) * (x - m);
            return new Stat(m, Math.sqrt(ss / (v.length - 1)), v.length);
        }
    }

    /**
     * One row: a run, or the runs of one grid point that differ only by seed.
     *
     * @param params the varying parameters (seed left out when folded) and {@code ablation} when there are ablations
     * @param metrics final_val_loss, vs_best, best_val_loss, test_loss, val_ppl, steps, tokens_per_s, wall_s
     * @param status {@code done}, {@code unfinished}, or {@code 1/2 done} for a folded row
     */
    public record Row(String label, LinkedHashMap<String, String> params, List<RunResult> runs, LinkedHashMap<String, Stat> metrics,
                      String status) {
        public Stat metric(String name) {
            return metrics.get(name);
        }

        public List<String> timestamps() {
            return runs.stream().map(r -> r.run().timestamp()).toList();
        }
    }

    /**
     * The table.
     *
     * @param title what was compared ({@code test-grid, launch 2026-...})
     * @param paramColumns short names of the parameter columns ({@code lr}, {@code ablation}; {@code seeds} when folded)
     * @param folded whether seeds are folded into rows
     * @param best the row with the lowest final val loss, or null when no run has one
     */
    public record Table(String title, List<String> paramColumns, List<Row> rows, boolean folded, Row best) {
        public List<String> columns() {
            List<String> c = new ArrayList<>(paramColumns);
            c.addAll(METRICS);
            c.add("timestamps");
            return c;
        }

        /** Rows sorted by a column (a parameter's short name or a metric; {@code -COL} for descending); NaN and text last. */
        public Table sorted(String column) {
            if (column == null || column.isBlank()) return this;
            boolean desc = column.startsWith("-");
            String col = desc ? column.substring(1) : column;
            if (!columns().contains(col))
                throw new ConfigError("--sort=" + column + ": expected one of " + String.join(", ", columns()) + " (a leading - sorts descending)");
            Comparator<Row> cmp = Comparator.comparing(r -> sortKey(r, col), Table::compareKeys);
            if (desc) cmp = cmp.reversed();
            List<Row> sorted = new ArrayList<>(rows);
            sorted.sort(Comparator.comparing((Row r) -> isBlank(sortKey(r, col))).thenComparing(cmp));
            return new Table(title, paramColumns, sorted, folded, best);
        }

        private static boolean isBlank(Object key) {
            return key instanceof Double d && d.isNaN() || "-".equals(key);
        }

        private static int compareKeys(Object a, Object b) {
            if (a instanceof Double x && b instanceof Double y) return Double.compare(x, y);
            return a.toString().compareTo(b.toString());
        }

        /** A cell's value for sorting: a number when the cell is one. */
        static Object sortKey(Row r, String col) {
            if (r.metrics().containsKey(col)) return r.metrics().get(col).mean();
            if (col.equals("status")) return r.status();
            if (col.equals("timestamps")) return String.join(",", r.timestamps());
            String v = r.params().getOrDefault(col, "-");
            try {
                return Double.parseDouble(v);
            } catch (NumberFormatException e) {
                return v;
            }
        }

        /** A cell as text: {@code 4.1234 ± 0.0021} for a folded metric. */
        public String cell(Row r, String col) {
            if (r.metrics().containsKey(col)) return format(col, r.metrics().get(col));
            if (col.equals("status")) return r.status();
            if (col.equals("timestamps")) return String.join(", ", r.timestamps());
            return r.params().getOrDefault(col, "-");
        }

        /** The table as aligned text, the best row marked with {@code *}. */
        public String text() {
            List<String> cols = columns();
            List<List<String>> cells = new ArrayList<>();
            cells.add(new ArrayList<>(cols));
            for (Row r : rows) {
                List<String> line = new ArrayList<>();
                for (String c : cols) line.add(cell(r, c));
                cells.add(line);
            }
            int[] w = new int[cols.size()];
            for (List<String> line : cells) for (int i = 0; i < w.length; i++) w[i] = Math.max(w[i], line.get(i).length());
            StringBuilder s = new StringBuilder(title).append('\n');
            for (int k = 0; k < cells.size(); k++) {
                s.append(k > 0 && rows.get(k - 1) == best ? "* " : "  ");
                List<String> line = cells.get(k);
                for (int i = 0; i < w.length; i++) {
                    boolean left = i < paramColumns.size() || cols.get(i).equals("status") || cols.get(i).equals("timestamps");
                    String f = left ? "%-" + w[i] + "s" : "%" + w[i] + "s";
                    s.append(String.format(Locale.ROOT, f, line.get(i))).append(i + 1 < w.length ? "  " : "");
                }
                s.append('\n');
            }
            String verdict = verdict();
            if (verdict != null) s.append(verdict).append('\n');
            return s.toString();
        }

        /** CSV: one line per row; a folded metric gives COL and COL_sd columns; numbers unformatted. */
        public String csv() {
            List<String> head = new ArrayList<>(paramColumns);
            for (String m : METRICS) {
                head.add(m);
                if (folded && !m.equals("status")) head.add(m + "_sd");
            }
            head.add("timestamps");
            StringBuilder s = new StringBuilder(String.join(",", head)).append('\n');
            for (Row r : rows) {
                List<String> line = new ArrayList<>();
                for (String c : paramColumns) line.add(csvField(r.params().getOrDefault(c, "")));
                for (String m : METRICS) {
                    if (m.equals("status")) {
                        line.add(csvField(r.status()));
                        continue;
                    }
                    Stat st = r.metric(m);
                    line.add(Double.isNaN(st.mean()) ? "" : Double.toString(st.mean()));
                    if (folded) line.add(Double.isNaN(st.spread()) ? "" : Double.toString(st.spread()));
                }
                line.add(csvField(String.join(" ", r.timestamps())));
                s.append(String.join(",", line)).append('\n');
            }
            return s.toString();
        }

        private static String csvField(String v) {
            return v.contains(",") || v.contains("\"") || v.contains("\n") ? "\"" + v.replace("\"", "\"\"") + "\"" : v;
        }

        /** JSON: {@code {title, columns, best, rows: [{label, params, metrics: {name: {mean, sd, n}}, status, timestamps}]}}. */
        public String json() {
            JsonObject o = new JsonObject();
            o.addProperty("title", title);
            JsonArray cols = new JsonArray();
            columns().forEach(cols::add);
            o.add("columns", cols);
            o.addProperty("folded_seeds", folded);
            if (best != null) o.addProperty("best", best.label());
            JsonArray rs = new JsonArray();
            for (Row r : rows) {
                JsonObject row = new JsonObject();
                row.addProperty("label", r.label());
                JsonObject p = new JsonObject();
                r.params().forEach(p::addProperty);
                row.add("params", p);
                JsonObject ms = new JsonObject();
                r.metrics().forEach((k, st) -> {
                    JsonObject m = new JsonObject();
                    if (!Double.isNaN(st.mean())) m.addProperty("mean", st.mean());
                    if (!Double.isNaN(st.spread())) m.addProperty("sd", st.spread());
                    m.addProperty("n", st.n());
                    ms.add(k, m);
                });
                row.add("metrics", ms);
                row.addProperty("status", r.status());
                JsonArray ts = new JsonArray();
                r.timestamps().forEach(ts::add);
                row.add("timestamps", ts);
                rs.add(row);
            }
            o.add("rows", rs);
            return new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create().toJson(o) + "\n";
        }

        /** One sentence: which row won on final val loss, and by how much over the runner-up and the worst. */
        public String verdict() {
            if (best == null) return null;
            List<Row> ranked = rows.stream().filter(r -> !Double.isNaN(r.metric("final_val_loss").mean()))
                    .sorted(Comparator.comparingDouble(r -> r.metric("final_val_loss").mean())).toList();
            double b = best.metric("final_val_loss").mean();
            String s = "best: " + best.label() + " — final val loss " + format("final_val_loss", best.metric("final_val_loss"));
            if (ranked.size() > 1) {
                Row second = ranked.get(1), worst = ranked.get(ranked.size() - 1);
                double d2 = second.metric("final_val_loss").mean() - b, dw = worst.metric("final_val_loss").mean() - b;
                s += String.format(Locale.ROOT, ", %.4f (%.2f%%) below the runner-up (%s)", d2, 100 * d2 / second.metric("final_val_loss").mean(),
                        second.label());
                if (ranked.size() > 2)
                    s += String.format(Locale.ROOT, " and %.4f (%.2f%%) below the worst (%s)", dw, 100 * dw / worst.metric("final_val_loss").mean(),
                            worst.label());
                if (folded && !Double.isNaN(best.metric("final_val_loss").spread()) && d2 < best.metric("final_val_loss").spread())
                    s += "; the gap to the runner-up is within one seed standard deviation";
            }
            return s;
        }
    }

    /** How a metric is written: losses to 4 decimals, ppl to 2, steps whole, tokens/s grouped, seconds to 1 decimal. */
    public static String format(String metric, Stat s) {
        if (Double.isNaN(s.mean())) return "-";
        String f = switch (metric) {
            case "val_ppl" -> "%.2f";
            case "steps" -> "%.0f";
            case "tokens_per_s" -> "%,.0f";
            case "wall_s" -> "%.1f";
            case "vs_best" -> "%+.4f";
            default -> "%.4f";
        };
        String m = String.format(Locale.ROOT, f, s.mean());
        if (metric.equals("vs_best") && s.mean() == 0) m = "0";
        return Double.isNaN(s.spread()) || s.spread() == 0 ? m : m + " ± " + String.format(Locale.ROOT, f.replace("+", ""), s.spread());
    }

    /** The comparison table of these runs; folds seeds when random_seed varies among them. */
    public static Table table(String title, List<RunResult> runs) {
        List<String> keys = varied(runs);
        boolean folded = keys.contains(SEED) && runs.stream().map(r -> value(r, SEED)).distinct().count() > 1 && keys.size() > 0;
        List<String> rowKeys = new ArrayList<>(keys);
        if (folded) rowKeys.remove(SEED);
        boolean ablations = runs.stream().anyMatch(r -> r.ablation() != null);
        LinkedHashMap<String, List<RunResult>> groups = new LinkedHashMap<>();
        for (RunResult r : runs) {
            // folded: one row per value of the other varying keys and ablation (the baseline's seeds included)
            String g = folded ? rowKeys.stream().map(k -> value(r, k)).toList() + " " + r.ablation() : r.run().dir().toString();
            groups.computeIfAbsent(g, k -> new ArrayList<>()).add(r);
        }
        List<String> paramColumns = new ArrayList<>();
        for (String k : rowKeys) paramColumns.add(RunSpec.shortKey(k));
        if (ablations) paramColumns.add("ablation");
        if (folded) paramColumns.add("seeds");
        List<Row> rows = new ArrayList<>();
        for (List<RunResult> g : groups.values()) {
            RunResult first = g.get(0);
            LinkedHashMap<String, String> params = new LinkedHashMap<>();
            for (String k : rowKeys) params.put(RunSpec.shortKey(k), value(first, k));
            if (ablations) params.put("ablation", first.ablation() == null ? "-" : first.ablation());
            if (folded) params.put("seeds", String.join(",", g.stream().map(r -> value(r, SEED)).toList()));
            String label = folded ? foldedLabel(first, rowKeys, ablations) + " (" + g.size() + " seeds)" : label(first, keys);
            LinkedHashMap<String, Stat> m = new LinkedHashMap<>();
            m.put("final_val_loss", Stat.of(g.stream().map(RunResult::finalVal).toList()));
            m.put("vs_best", new Stat(Double.NaN, Double.NaN, 0)); // filled below
            m.put("best_val_loss", Stat.of(g.stream().map(RunResult::bestVal).toList()));
            m.put("test_loss", Stat.of(g.stream().map(RunResult::testLoss).toList()));
            m.put("val_ppl", Stat.of(g.stream().map(r -> Math.exp(r.finalVal())).toList()));
            m.put("steps", Stat.of(g.stream().map(RunResult::steps).toList()));
            m.put("tokens_per_s", Stat.of(g.stream().map(RunResult::tokensPerSecond).toList()));
            m.put("wall_s", Stat.of(g.stream().map(RunResult::wallSeconds).toList()));
            long done = g.stream().filter(RunResult::finished).count();
            String status = g.size() == 1 ? (done == 1 ? "done" : "unfinished") : done == g.size() ? "done" : done + "/" + g.size() + " done";
            rows.add(new Row(label, params, g, m, status));
        }
        Row best = null;
        for (Row r : rows) {
            double v = r.metric("final_val_loss").mean();
            if (!Double.isNaN(v) && (best == null || v < best.metric("final_val_loss").mean())) best = r;
        }
        if (best != null) {
            double b = best.metric("final_val_loss").mean();
            for (Row r : rows) {
                double v = r.metric("final_val_loss").mean();
                r.metrics().put("vs_best", new Stat(v - b, Double.NaN, Double.isNaN(v) ? 0 : r.metric("final_val_loss").n()));
            }
        }
        return new Table(title, paramColumns, rows, folded, best);
    }

    // ------------------------------------------------------------------ curves

    /**
     * A metric against n_train_samples (or the step, for stats that did not record it): one run's values, or the mean of
     * several runs (a row's seeds) at each x where any has a value, with {@code lo}/{@code hi} their lowest and highest
     * there (null for one run).
     */
    public record Curve(String label, double[] x, double[] mean, double[] lo, double[] hi, boolean bySteps) {
        public Plots.Series series(String name) {
            return new Plots.Series(name, x, mean, lo, hi);
        }
    }

    public static Curve curve(String label, List<RunResult> runs, String metric) {
        java.util.TreeMap<Double, List<Double>> at = new java.util.TreeMap<>();
        boolean bySteps = false;
        for (RunResult r : runs)
            for (TrainStats.Point p : r.stats().get(metric)) {
                if (p.nTrainSamples() < 0) bySteps = true;
                at.computeIfAbsent((double) (p.nTrainSamples() >= 0 ? p.nTrainSamples() : p.step()), k -> new ArrayList<>()).add(p.value());
            }
        int n = at.size();
        double[] x = new double[n], mean = new double[n], lo = new double[n], hi = new double[n];
        int i = 0;
        for (Map.Entry<Double, List<Double>> e : at.entrySet()) {
            x[i] = e.getKey();
            mean[i] = e.getValue().stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
            lo[i] = e.getValue().stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN);
            hi[i] = e.getValue().stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN);
            i++;
        }
        return runs.size() > 1 ? new Curve(label, x, mean, lo, hi, bySteps) : new Curve(label, x, mean, null, null, bySteps);
    }
}
