package org.tinker.explore;

import ai.djl.pytorch.jni.JniUtils;
import java.awt.Color;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.tinker.config.ConfigError;
import org.tinker.runs.Checkpoint;
import org.tinker.runs.Namer;

/**
 * One self-contained HTML page about a grid: the comparison table (sortable by a click on a column), validation and
 * training loss curves of every row overlaid against n_train_samples (inline SVG; a row's seeds as their mean line in a
 * band from the lowest to the highest), the best run's sample text and attention map (a PNG inlined as a data: URI),
 * and the params. No network: the styles and the few lines of script are in the page; it opens from a copied folder.
 */
public final class Report {
    private Report() {}

    /** What the page says besides the table: the best run's sample and attention map (null when it could not be made). */
    public record BestRun(String timestamp, String label, String sample, String attentionPng, String note) {}

    /**
     * The best row's best finished run, loaded from {@code runs}: a sample (seed 0, the run's sample temperature, up to
     * 100 tokens) and the attention of its last attention layer, head 0, on the first 24 tokens of another sample. A model
     * whose architecture records no attention pattern gets a note instead of the picture.
     */
    public static BestRun bestRun(Comparison.Table table, Runs runs) {
        if (table.best() == null) return null;
        Comparison.RunResult pick = null;
        for (Comparison.RunResult r : table.best().runs())
            if (r.finished() && (pick == null || r.finalVal() < pick.finalVal())) pick = r;
        if (pick == null) return new BestRun(null, table.best().label(), null, null, "no finished run in the best row: no sample");
        String ts = pick.run().timestamp();
        // libtorch's grad mode is per thread, and on in a thread it has not seen (runner serve's request threads); the
        // engine turned it off only in the thread that loaded it
        boolean wasGrad = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try (LoadedRun run = runs.get(ts, Checkpoint.FINAL, false)) {
            Explorer ex = run.explorer();
            int maxLen = Math.min(100, run.modelParams().max_seq_len());
            double temp = run.trainParams().sample_temperature();
            Explorer.Sampling s = Explorer.Sampling.defaults().temperature(temp).seed(0);
            String sample = ex.generate("", s.maxLen(maxLen)).text();
            String png = null, note = null;
            try {
                String text = ex.generate("", s.maxLen(Math.min(24, maxLen))).text();
                Path tmp = Files.createTempFile("tinker-report-attention", ".png");
                try {
                    Plots.heatmap(Explore.lastLayerAttention(ex, text), tmp);
                    png = Base64.getEncoder().encodeToString(Files.readAllBytes(tmp));
                } finally {
                    Files.deleteIfExists(tmp);
                }
            } catch (RuntimeException | IOException e) { // an architecture that records no attention pattern
                note = "no attention map: " + ConfigError.firstLine(e);
            }
            return new BestRun(ts, table.best().label(), sample, png, note);
        } finally {
            JniUtils.setGradMode(wasGrad);
        }
    }

    /** Writes the page to {@code out} (folders made; written beside it, then renamed over it); returns {@code out}. */
    public static Path write(Comparison.Table table, BestRun best, String source, Path out) {
        String html = html(table, best, source);
        try {
            Path dir = out.toAbsolutePath().getParent();
            Files.createDirectories(dir);
            Path tmp = dir.resolve("." + out.getFileName() + ".tmp-" + ProcessHandle.current().pid());
            Files.writeString(tmp, html, StandardCharsets.UTF_8);
            Files.move(tmp, out.toAbsolutePath(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            return out;
        } catch (IOException e) {
            throw new ConfigError(out + ": cannot write the report (" + e.getMessage() + ")");
        }
    }

    /** The page. */
    public static String html(Comparison.Table t, BestRun best, String source) {
        return html(t, best, source, 0);
    }

    /** The page; with {@code refreshSeconds > 0} it reloads itself that often (runner serve). */
    public static String html(Comparison.Table t, BestRun best, String source, int refreshSeconds) {
        StringBuilder h = new StringBuilder();
        h.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
        if (refreshSeconds > 0) h.append("<meta http-equiv=\"refresh\" content=\"").append(refreshSeconds).append("\">\n");
        h.append("<title>").append(esc(t.title())).append("</title>\n");
        h.append("<style>\n").append(CSS.replace("%PARAMS%", Integer.toString(t.paramColumns().size()))).append("</style></head>\n<body>\n");
        h.append("<h1>").append(esc(t.title())).append("</h1>\n");
        h.append("<p class=\"source\">").append(t.rows().stream().mapToInt(r -> r.runs().size()).sum()).append(" runs from ")
                .append(esc(source)).append(" · written ").append(LocalDateTime.now().format(Namer.TIMESTAMP)).append(" by runner report</p>\n");
        String verdict = t.verdict();
        h.append("<p id=\"verdict\" class=\"verdict\">").append(verdict == null ? "no run has a validation loss yet" : esc(verdict)).append("</p>\n");

        // the table
        h.append("<h2>Runs</h2>\n<p class=\"hint\">Click a column to sort.").append(t.folded() ? " Seeds are folded: mean ± standard deviation over a row's runs." : "")
                .append(" vs_best: final val loss minus the lowest.</p>\n");
        h.append("<table id=\"compare\"><thead><tr>");
        for (String c : t.columns()) {
            boolean num = Comparison.METRICS.contains(c) && !c.equals("status") || isNumericColumn(t, c);
            h.append("<th data-col=\"").append(esc(c)).append("\" data-num=\"").append(num ? 1 : 0).append("\"")
                    .append(t.paramColumns().contains(c) ? " class=\"param\"" : "").append(">").append(esc(c)).append("</th>");
        }
        h.append("</tr></thead>\n<tbody>\n");
        for (Comparison.Row r : t.rows()) {
            h.append("<tr").append(r == t.best() ? " class=\"best\"" : "").append(" data-label=\"").append(esc(r.label())).append("\">");
            for (String c : t.columns()) {
                Object key = Comparison.Table.sortKey(r, c);
                String v = key instanceof Double d ? (d.isNaN() ? "" : Double.toString(d)) : key.toString();
                String text = c.equals("timestamps") ? String.join("<br>", r.timestamps().stream().map(Report::esc).toList()) : esc(t.cell(r, c));
                h.append("<td data-v=\"").append(esc(v)).append("\">").append(text).append("</td>");
            }
            h.append("</tr>\n");
        }
        h.append("</tbody></table>\n");

        // curves
        List<Comparison.Curve> val = new ArrayList<>(), train = new ArrayList<>();
        for (Comparison.Row r : t.rows()) {
            val.add(Comparison.curve(r.label(), r.runs(), Comparison.VAL));
            train.add(Comparison.curve(r.label(), r.runs(), Comparison.TRAIN));
        }
        h.append("<h2>Loss curves</h2>\n");
        if (t.folded()) h.append("<p class=\"hint\">A row's seeds: their mean, in a band from the lowest to the highest.</p>\n");
        h.append("<div class=\"charts\">\n");
        h.append(chart("val-curves", "validation loss", val));
        h.append(chart("train-curves", "training loss (per batch)", train));
        h.append("</div>\n");

        // best run
        h.append("<h2>Best run</h2>\n");
        if (best == null) h.append("<p>no run has a validation loss yet</p>\n");
        else {
            h.append("<p>").append(esc(best.label())).append(best.timestamp() == null ? "" : " — run " + esc(best.timestamp())).append("</p>\n");
            if (best.sample() != null)
                h.append("<p class=\"hint\">A sample (seed 0, the run's sample temperature):</p>\n<pre id=\"sample\">").append(esc(best.sample())).append("</pre>\n");
            if (best.attentionPng() != null)
                h.append("<img id=\"attention\" alt=\"attention map of the best run\" src=\"data:image/png;base64,").append(best.attentionPng()).append("\">\n");
            if (best.note() != null) h.append("<p class=\"hint\">").append(esc(best.note())).append("</p>\n");
        }

        // params
        h.append("<h2>Config</h2>\n").append(configTable(t)).append("\n");
        h.append("<script>\n").append(SCRIPT).append("</script>\n</body></html>\n");
        return h.toString();
    }

    private static boolean isNumericColumn(Comparison.Table t, String c) {
        if (!t.paramColumns().contains(c)) return false;
        for (Comparison.Row r : t.rows())
            if (!(Comparison.Table.sortKey(r, c) instanceof Double)) return false;
        return true;
    }

    /** The best run's params, every value a varying parameter takes in the grid beside it (highlighted). */
    static String configTable(Comparison.Table t) {
        Comparison.RunResult ref = null;
        if (t.best() != null) for (Comparison.RunResult r : t.best().runs()) if (!r.params().isEmpty()) ref = r;
        if (ref == null)
            for (Comparison.Row row : t.rows()) for (Comparison.RunResult r : row.runs()) if (ref == null && !r.params().isEmpty()) ref = r;
        if (ref == null) return "<p>no run saved its params yet</p>";
        Map<String, LinkedHashSet<String>> values = new LinkedHashMap<>();
        for (Comparison.Row row : t.rows())
            for (Comparison.RunResult r : row.runs())
                r.params().forEach((k, v) -> values.computeIfAbsent(k, x -> new LinkedHashSet<>()).add(v));
        StringBuilder h = new StringBuilder("<table id=\"config\"><thead><tr><th>param</th><th>best run</th><th>all values in these runs</th></tr></thead><tbody>\n");
        for (Map.Entry<String, String> e : ref.params().entrySet()) {
            LinkedHashSet<String> all = values.getOrDefault(e.getKey(), new LinkedHashSet<>());
            boolean varies = all.size() > 1;
            h.append("<tr").append(varies ? " class=\"varied\"" : "").append("><td>").append(esc(e.getKey())).append("</td><td>")
                    .append(esc(e.getValue())).append("</td><td>").append(varies ? esc(String.join(" | ", all)) : "").append("</td></tr>\n");
        }
        return h.append("</tbody></table>").toString();
    }

    static final int W = 600, H = 360, ML = 70, MR = 16, MT = 28, MB = 46;

    /** One chart as inline SVG: axes with ticks, one {@code path.curve} per row (and a {@code path.band} for seeds), a legend. */
    static String chart(String id, String title, List<Comparison.Curve> curves) {
        double x0 = Double.POSITIVE_INFINITY, x1 = Double.NEGATIVE_INFINITY, y0 = Double.POSITIVE_INFINITY, y1 = Double.NEGATIVE_INFINITY;
        boolean bySteps = false;
        for (Comparison.Curve c : curves) {
            bySteps |= c.bySteps();
            for (int i = 0; i < c.x().length; i++) {
                x0 = Math.min(x0, c.x()[i]);
                x1 = Math.max(x1, c.x()[i]);
                for (double[] ys : new double[][] {c.mean(), c.lo(), c.hi()})
                    if (ys != null && Double.isFinite(ys[i])) {
                        y0 = Math.min(y0, ys[i]);
                        y1 = Math.max(y1, ys[i]);
                    }
            }
        }
        StringBuilder s = new StringBuilder("<figure id=\"").append(id).append("\" class=\"chart\"><figcaption>").append(esc(title)).append("</figcaption>\n");
        if (!Double.isFinite(x0) || !Double.isFinite(y0)) return s.append("<p>no values</p></figure>\n").toString();
        double[] xt = Plots.niceTicks(x0, x1, 5), yt = Plots.niceTicks(y0, y1, 5);
        double ax0 = xt[0], ax1 = xt[xt.length - 1], ay0 = yt[0], ay1 = yt[yt.length - 1];
        int xd = Plots.decimalsFor(xt.length > 1 ? xt[1] - xt[0] : 1), yd = Plots.decimalsFor(yt.length > 1 ? yt[1] - yt[0] : 1);
        java.util.function.DoubleUnaryOperator px = v -> ML + (v - ax0) / (ax1 - ax0) * (W - ML - MR);
        java.util.function.DoubleUnaryOperator py = v -> MT + (ay1 - v) / (ay1 - ay0) * (H - MT - MB);
        s.append("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"").append(W).append("\" height=\"").append(H)
                .append("\" viewBox=\"0 0 ").append(W).append(' ').append(H).append("\" role=\"img\">\n");
        s.append("<g class=\"grid\">");
        for (double v : yt) {
            double y = py.applyAsDouble(v);
            s.append(String.format(Locale.ROOT, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/>", ML, W - MR, y, y));
            s.append(String.format(Locale.ROOT, "<text class=\"ytick\" x=\"%d\" y=\"%.1f\">%s</text>", ML - 6, y + 4, String.format(Locale.ROOT, "%,." + yd + "f", v)));
        }
        for (double v : xt) {
            double x = px.applyAsDouble(v);
            s.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\"/>", x, x, MT, H - MB));
            s.append(String.format(Locale.ROOT, "<text class=\"xtick\" x=\"%.1f\" y=\"%d\">%s</text>", x, H - MB + 16, String.format(Locale.ROOT, "%,." + xd + "f", v)));
        }
        s.append("</g>\n");
        s.append(String.format(Locale.ROOT, "<text class=\"axis\" x=\"%d\" y=\"%d\">%s</text>", (ML + W - MR) / 2, H - 8, bySteps ? "training steps" : "n_train_samples"));
        s.append(String.format(Locale.ROOT, "<text class=\"axis\" transform=\"translate(16 %d) rotate(-90)\">loss</text>\n", (MT + H - MB) / 2));
        for (int k = 0; k < curves.size(); k++) {
            Comparison.Curve c = curves.get(k);
            String col = hex(Plots.PALETTE.get(k % Plots.PALETTE.size()));
            s.append("<g class=\"series\" data-label=\"").append(esc(c.label())).append("\">");
            if (c.lo() != null && c.x().length > 0) {
                StringBuilder d = new StringBuilder();
                for (int i = 0; i < c.x().length; i++) d.append(i == 0 ? "M" : "L").append(pt(px, py, c.x()[i], c.hi()[i]));
                for (int i = c.x().length - 1; i >= 0; i--) d.append("L").append(pt(px, py, c.x()[i], c.lo()[i]));
                s.append("<path class=\"band\" fill=\"").append(col).append("\" d=\"").append(d).append("Z\"/>");
            }
            StringBuilder d = new StringBuilder();
            for (int i = 0; i < c.x().length; i++) if (Double.isFinite(c.mean()[i])) d.append(d.length() == 0 ? "M" : "L").append(pt(px, py, c.x()[i], c.mean()[i]));
            s.append("<path class=\"curve\" stroke=\"").append(col).append("\" d=\"").append(d).append("\"><title>").append(esc(c.label())).append("</title></path>");
            if (c.x().length <= 40)
                for (int i = 0; i < c.x().length; i++)
                    if (Double.isFinite(c.mean()[i]))
                        s.append("<circle fill=\"").append(col).append(String.format(Locale.ROOT, "\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\"/>",
                                px.applyAsDouble(c.x()[i]), py.applyAsDouble(c.mean()[i])));
            s.append("</g>\n");
        }
        s.append("</svg>\n<ul class=\"legend\">");
        for (int k = 0; k < curves.size(); k++)
            s.append("<li class=\"legend-item\"><span class=\"swatch\" style=\"background:").append(hex(Plots.PALETTE.get(k % Plots.PALETTE.size())))
                    .append("\"></span>").append(esc(curves.get(k).label())).append("</li>");
        return s.append("</ul></figure>\n").toString();
    }

    private static String pt(java.util.function.DoubleUnaryOperator px, java.util.function.DoubleUnaryOperator py, double x, double y) {
        return String.format(Locale.ROOT, "%.1f,%.1f", px.applyAsDouble(x), py.applyAsDouble(y));
    }

    private static String hex(Color c) {
        return String.format("#%02x%02x%02x", c.getRed(), c.getGreen(), c.getBlue());
    }

    static String esc(String s) {
        if (s == null) return "";
        StringBuilder b = new StringBuilder(s.length());
        for (char c : s.toCharArray())
            switch (c) {
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '&' -> b.append("&amp;");
                case '"' -> b.append("&quot;");
                case '\'' -> b.append("&#39;");
                default -> b.append(c < 0x20 && c != '\n' && c != '\t' ? '?' : c);
            }
        return b.toString();
    }

    private static final String CSS = """
            body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px 32px;color:#222;max-width:1320px}
            h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:3px}
            .source,.hint{color:#666;font-size:12.5px;margin:4px 0}
            .verdict{background:#eef7ee;border-left:4px solid #2ca02c;padding:8px 12px;font-size:15px}
            table{border-collapse:collapse;font-variant-numeric:tabular-nums}
            th,td{padding:4px 9px;border-bottom:1px solid #e4e4e4;text-align:right;white-space:nowrap}
            th{background:#f4f4f4;cursor:pointer;user-select:none;position:sticky;top:0}
            th.param,td:nth-child(-n+%PARAMS%){text-align:left}
            th.asc::after{content:" \\25B2"}th.desc::after{content:" \\25BC"}
            tr.best td{background:#e6f4e6;font-weight:600}
            #compare td:last-child,#compare th:last-child{text-align:left;font-size:12px;font-weight:400}
            #config td,#config th{text-align:left}#config tr.varied td{background:#fff6dd}
            .charts{display:flex;flex-wrap:wrap;gap:24px}.chart{margin:0}figcaption{font-weight:600;margin-bottom:4px}
            svg .grid line{stroke:#e8e8e8}svg text{font-size:11px;fill:#444}svg .ytick{text-anchor:end}svg .xtick{text-anchor:middle}
            svg .axis{font-size:12px;text-anchor:middle;fill:#222}svg .curve{fill:none;stroke-width:1.8}svg .band{opacity:.18;stroke:none}
            .legend{list-style:none;padding:0;margin:6px 0 0 60px;columns:2}.legend-item{font-size:12.5px;margin:2px 0}
            .swatch{display:inline-block;width:14px;height:4px;margin:0 6px 3px 0;vertical-align:middle}
            pre{background:#f7f7f7;padding:8px 12px;white-space:pre-wrap;max-width:900px}
            img#attention{max-width:100%;border:1px solid #ddd}
            """;

    /** Sorting the table by a click on a column: numbers as numbers, blanks last, a second click reverses. */
    private static final String SCRIPT = """
            (function(){
              var table=document.getElementById('compare');
              var heads=table.tHead.rows[0].cells;
              for(var i=0;i<heads.length;i++)(function(i){heads[i].addEventListener('click',function(){sortBy(i)});})(i);
              function sortBy(i){
                var th=heads[i],asc=!th.classList.contains('asc'),num=th.getAttribute('data-num')==='1';
                for(var k=0;k<heads.length;k++)heads[k].classList.remove('asc','desc');
                th.classList.add(asc?'asc':'desc');
                var body=table.tBodies[0],rows=Array.prototype.slice.call(body.rows);
                rows.sort(function(a,b){
                  var x=a.cells[i].getAttribute('data-v'),y=b.cells[i].getAttribute('data-v');
                  if(x===''||x==='-')return (y===''||y==='-')?0:1; if(y===''||y==='-')return -1;
                  var c=num?parseFloat(x)-parseFloat(y):x.localeCompare(y);
                  return asc?c:-c;});
                rows.forEach(function(r){body.appendChild(r)});
              }
              // report.html#sort=COL (or #sort=-COL): opens sorted, as after one (or two) clicks on COL
              var m=/^#sort=(-?)(.+)$/.exec(location.hash);
              if(m)for(var j=0;j<heads.length;j++)if(heads[j].getAttribute('data-col')===decodeURIComponent(m[2])){
                if(m[1])heads[j].classList.add('asc');
                sortBy(j);}
            })();
            """;
}
