package org.tinker.cli;

import static org.junit.jupiter.api.Assertions.*;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tinker.explore.Comparison;
import org.tinker.explore.Explore;
import org.tinker.explore.Plots;
import org.tinker.explore.Runs;
import org.tinker.runs.Checkpoint;
import org.tinker.runs.RunStore;
import org.tinker.runs.TrainStats;

/**
 * A 2 × 2 grid (learning rate × seed) trained on 200 lines of PTB, then looked at as a user would: `runner list`,
 * `runner compare` (its numbers checked cell by cell against each run's own train_stats.json), and `runner report`,
 * whose page is opened in headless Chromium and checked through the DOM it renders.
 */
class CompareCommandsTest {
    static final String GRID = """
            [DataParams]
            dataset_name = "ptb"
            debug_crop = 200
            [TrainParams]
            batch_size = 8
            epochs = 1
            max_steps = 6
            val_check_epoch_frac = 2
            lr = [0.001, 0.01]
            lr_warm_steps = 1
            random_seed = [0, 1]
            max_sample_tokens = 0
            [ModelParams]
            n_layers = 1
            n_heads = 2
            dim = 16
            max_seq_len = 32
            tokenizer_source_name = "word"
            """;

    @TempDir
    static Path dir;
    static Path saved;
    /** timestamp → (lr, seed), from each run's saved params. */
    static final Map<String, String[]> POINTS = new LinkedHashMap<>();

    @BeforeAll
    static void trainTheGrid() throws Exception {
        Path configs = Files.createDirectories(dir.resolve("configs"));
        Files.writeString(configs.resolve("cmp.txt"), GRID);
        saved = dir.resolve("saved");
        MainTest.Outcome t = MainTest.run("--config=cmp", "--configs-dir=" + configs, "--saved-models=" + saved, "--no-wandb", "--save");
        assertEquals(0, t.code(), t.err());
        for (RunStore.Run r : new RunStore(saved).list()) {
            String params = Files.readString(r.dir().resolve("final/train_params.json"));
            POINTS.put(r.timestamp(), new String[] {field(params, "lr"), field(params, "random_seed")});
        }
        assertEquals(4, POINTS.size(), "four runs saved");
    }

    static String field(String json, String key) {
        return JsonParser.parseString(json).getAsJsonObject().get(key).getAsString();
    }

    static TrainStats stats(String ts) {
        return Checkpoint.readStats(new RunStore(saved).find(ts).dir().resolve("final").resolve(Checkpoint.STATS_FILE));
    }

    @Test
    void gridPointsAreSavedAndListedByWhatVaries() {
        for (RunStore.Run r : new RunStore(saved).list()) {
            String[] p = POINTS.get(r.timestamp());
            assertEquals("lr=" + p[0] + "_random_seed=" + p[1], r.runName(), "the save folder names the point");
            assertEquals(saved.resolve("cmp/ptb/" + r.runName() + "/" + r.timestamp()), r.dir());
        }
        MainTest.Outcome l = MainTest.run("list", "--saved-models=" + saved);
        assertEquals(0, l.code(), l.err());
        for (Map.Entry<String, String[]> e : POINTS.entrySet())
            assertTrue(l.out().matches("(?s).*\\n" + e.getKey() + " +cmp +ptb +lr=" + Pattern.quote(e.getValue()[0]) + " random_seed="
                    + e.getValue()[1] + " .*"), l.out());
        MainTest.Outcome s = MainTest.run("grid-status", "--config=cmp", "--configs-dir=" + dir.resolve("configs"), "--saved-models=" + saved, "--check");
        assertEquals(0, s.code(), "grid-status finds the named runs: " + s.out());
    }

    /** Mean and sample standard deviation of two values. */
    static double[] meanSd(double a, double b) {
        double m = (a + b) / 2;
        return new double[] {m, Math.sqrt((a - m) * (a - m) + (b - m) * (b - m))};
    }

    static double best(TrainStats s) {
        return s.get("stat/val_loss:main").stream().mapToDouble(TrainStats.Point::value).min().orElseThrow();
    }

    @Test
    void compareFoldsSeedsAndEveryCellIsTheRunsOwnStatistics() {
        MainTest.Outcome o = MainTest.run("compare", "--config=cmp", "--saved-models=" + saved, "--json");
        assertEquals(0, o.code(), o.err());
        JsonObject table = JsonParser.parseString(o.out()).getAsJsonObject();
        assertTrue(table.get("folded_seeds").getAsBoolean());
        JsonArray rows = table.getAsJsonArray("rows");
        assertEquals(2, rows.size(), "one row per learning rate, its two seeds folded");
        List<String> cols = new ArrayList<>();
        table.getAsJsonArray("columns").forEach(c -> cols.add(c.getAsString()));
        assertEquals(List.of("lr", "seeds", "final_val_loss", "vs_best", "best_val_loss", "test_loss", "val_ppl", "steps", "tokens_per_s",
                "wall_s", "status", "timestamps"), cols);
        double lowest = Double.POSITIVE_INFINITY;
        String bestLabel = null;
        for (JsonElement e : rows) {
            JsonObject row = e.getAsJsonObject();
            String lr = row.getAsJsonObject("params").get("lr").getAsString();
            List<String> ts = new ArrayList<>();
            row.getAsJsonArray("timestamps").forEach(t -> ts.add(t.getAsString()));
            assertEquals(2, ts.size());
            for (String t : ts) assertEquals(lr, POINTS.get(t)[0], "a row holds the runs of its learning rate");
            assertEquals("0,1", row.getAsJsonObject("params").get("seeds").getAsString());
            TrainStats a = stats(ts.get(0)), b = stats(ts.get(1));
            JsonObject m = row.getAsJsonObject("metrics");
            check(m, "final_val_loss", meanSd(a.last("stat/val_loss:main"), b.last("stat/val_loss:main")));
            check(m, "best_val_loss", meanSd(best(a), best(b)));
            check(m, "test_loss", meanSd(a.last("stat/test_loss:main"), b.last("stat/test_loss:main")));
            check(m, "val_ppl", meanSd(Math.exp(a.last("stat/val_loss:main")), Math.exp(b.last("stat/val_loss:main"))));
            check(m, "steps", new double[] {6, 0});
            check(m, "tokens_per_s", meanSd(a.last("train_tokens_per_s"), b.last("train_tokens_per_s")));
            check(m, "wall_s", meanSd(a.last("wall_time"), b.last("wall_time")));
            assertTrue(a.last("wall_time") > 0 && a.last("train_tokens_per_s") > 0, "the run recorded its speed");
            assertEquals("done", row.get("status").getAsString());
            double f = m.getAsJsonObject("final_val_loss").get("mean").getAsDouble();
            if (f < lowest) {
                lowest = f;
                bestLabel = row.get("label").getAsString();
            }
        }
        assertEquals(bestLabel, table.get("best").getAsString());
        for (JsonElement e : rows) {
            JsonObject m = e.getAsJsonObject().getAsJsonObject("metrics");
            assertEquals(m.getAsJsonObject("final_val_loss").get("mean").getAsDouble() - lowest, m.getAsJsonObject("vs_best").get("mean").getAsDouble(), 1e-12);
        }

        // the text table marks the best row and says by how much it won; --sort orders rows
        MainTest.Outcome text = MainTest.run("compare", "--config=cmp", "--saved-models=" + saved, "--sort=-final_val_loss");
        assertEquals(0, text.code(), text.err());
        List<String> lines = text.out().lines().toList();
        assertTrue(lines.get(3).startsWith("* "), "the best row comes last when sorted by descending loss:\n" + text.out());
        assertTrue(lines.get(4).startsWith("best: " + bestLabel + " — final val loss "), text.out());
        assertTrue(lines.get(4).contains("below the runner-up"), text.out());
        MainTest.Outcome bad = MainTest.run("compare", "--config=cmp", "--saved-models=" + saved, "--sort=loss");
        assertEquals(2, bad.code());
        assertTrue(bad.err().startsWith("error: --sort=loss: expected one of lr, seeds, final_val_loss, "), bad.err());
    }

    static void check(JsonObject metrics, String name, double[] meanSd) {
        JsonObject m = metrics.getAsJsonObject(name);
        assertEquals(meanSd[0], m.get("mean").getAsDouble(), 1e-9 * Math.max(1, Math.abs(meanSd[0])), name);
        assertEquals(meanSd[1], m.has("sd") ? m.get("sd").getAsDouble() : 0, 1e-9 * Math.max(1, Math.abs(meanSd[0])), name + " sd");
        assertEquals(2, m.get("n").getAsInt(), name);
    }

    @Test
    void compareByTimestampsShowsOneRowPerRunAndCsvHasTheRawNumbers() {
        // the two seed-0 runs: only lr varies, nothing to fold
        List<String> seed0 = POINTS.entrySet().stream().filter(e -> e.getValue()[1].equals("0")).map(Map.Entry::getKey).toList();
        MainTest.Outcome o = MainTest.run("compare", "--timestamps=" + String.join(",", seed0), "--saved-models=" + saved, "--csv");
        assertEquals(0, o.code(), o.err());
        List<String> lines = o.out().lines().toList();
        assertEquals("lr,final_val_loss,vs_best,best_val_loss,test_loss,val_ppl,steps,tokens_per_s,wall_s,status,timestamps", lines.get(0));
        assertEquals(3, lines.size());
        for (String line : lines.subList(1, 3)) {
            String[] c = line.split(",");
            TrainStats s = stats(c[10]);
            assertEquals(POINTS.get(c[10])[0], c[0]);
            assertEquals(s.last("stat/val_loss:main"), Double.parseDouble(c[1]), 0);
            assertEquals(best(s), Double.parseDouble(c[3]), 0);
            assertEquals(s.last("stat/test_loss:main"), Double.parseDouble(c[4]), 0);
            assertEquals(Math.exp(s.last("stat/val_loss:main")), Double.parseDouble(c[5]), 1e-12);
            assertEquals(s.last("n_opt_steps"), Double.parseDouble(c[6]), 0);
            assertEquals(s.last("train_tokens_per_s"), Double.parseDouble(c[7]), 0);
            assertEquals(s.last("wall_time"), Double.parseDouble(c[8]), 0);
            assertEquals("done", c[9]);
        }
    }

    @Test
    void plotMetricsLabelsRowsByWhatVariesAndDrawsSeedsAsABand() {
        Runs runs = new Runs(saved, Path.of("."), ai.djl.Device.cpu());
        List<Comparison.RunResult> all = Comparison.ofTimestamps(runs.store(), new ArrayList<>(POINTS.keySet()));
        List<Plots.Series> lines = Explore.metricSeries(all, List.of("stat/val_loss:main"));
        assertEquals(List.of("lr=0.001 (2 seeds)", "lr=0.01 (2 seeds)"), lines.stream().map(Plots.Series::name).sorted().toList());
        for (Plots.Series s : lines) {
            String lr = s.name().substring(3, s.name().indexOf(' '));
            List<String> ts = POINTS.entrySet().stream().filter(e -> e.getValue()[0].equals(lr)).map(Map.Entry::getKey).toList();
            List<TrainStats.Point> a = stats(ts.get(0)).get("stat/val_loss:main"), b = stats(ts.get(1)).get("stat/val_loss:main");
            assertEquals(a.size(), s.x().length, "both seeds validated at the same n_train_samples");
            for (int i = 0; i < a.size(); i++) {
                assertEquals(a.get(i).nTrainSamples(), s.x()[i], 0);
                assertEquals((a.get(i).value() + b.get(i).value()) / 2, s.y()[i], 1e-12, "the line is the seeds' mean");
                assertEquals(Math.min(a.get(i).value(), b.get(i).value()), s.lo()[i], 0, "the band spans the seeds");
                assertEquals(Math.max(a.get(i).value(), b.get(i).value()), s.hi()[i], 0);
            }
        }
        MainTest.Outcome o = MainTest.run("plot-metrics", "--timestamp=" + String.join(",", POINTS.keySet()), "--saved-models=" + saved,
                "--out-dir=" + dir.resolve("plots"), "--out=val");
        assertEquals(0, o.code(), o.err());
        assertTrue(Files.isRegularFile(dir.resolve("plots/metrics/val.png")), o.out());
    }

    @Test
    void theReportPageRendersInABrowserWithTheTableCurvesAndLegend() throws Exception {
        Path page = dir.resolve("report/cmp.html");
        MainTest.Outcome o = MainTest.run("report", "--config=cmp", "--saved-models=" + saved, "--out=" + page);
        assertEquals(0, o.code(), o.err());
        assertTrue(o.out().startsWith("wrote " + page), o.out());
        String html = Files.readString(page);
        assertFalse(html.matches("(?s).*(src|href)=\"(https?:)?//.*"), "nothing fetched from the network");
        assertTrue(html.contains("src=\"data:image/png;base64,"), "the attention map is inlined");

        // the page as Chromium renders it, sorted in the page by its own script (#sort=COL runs the column's sort)
        String dom = chromiumDom(page, "#sort=-final_val_loss");
        List<String> labels = new ArrayList<>();
        Matcher rows = Pattern.compile("<tr( class=\"best\")? data-label=\"([^\"]+)\">").matcher(section(dom, "<table id=\"compare\">", "</table>"));
        List<Boolean> bestFlags = new ArrayList<>();
        while (rows.find()) {
            labels.add(rows.group(2));
            bestFlags.add(rows.group(1) != null);
        }
        assertEquals(List.of("lr=0.001 (2 seeds)", "lr=0.01 (2 seeds)").stream().sorted().toList(), labels.stream().sorted().toList(), dom);
        assertEquals(List.of(false, true), bestFlags, "sorted by descending final val loss in the page: the best row last");
        assertEquals(12, count(section(dom, "<table id=\"compare\">", "</thead>"), "<th "), "one header per column");
        for (String chart : List.of("val-curves", "train-curves")) {
            String fig = section(dom, "<figure id=\"" + chart + "\"", "</figure>");
            assertEquals(2, count(fig, "class=\"curve\""), chart + ": one curve per row");
            assertEquals(2, count(fig, "class=\"band\""), chart + ": the seeds of each row as a band");
            List<String> legend = new ArrayList<>();
            Matcher li = Pattern.compile("<li class=\"legend-item\"><span[^>]*></span>([^<]+)</li>").matcher(fig);
            while (li.find()) legend.add(li.group(1));
            assertEquals(labels.stream().sorted().toList(), legend.stream().sorted().toList(), chart + ": legend by varied values");
        }
        assertTrue(section(dom, "<p id=\"verdict\"", "</p>").contains("best: " + labels.get(1)), "the page says which point won");
    }

    @Test
    void serveShowsThePageOnLoopbackRebuiltAtEveryLoad() throws Exception {
        CompareCommands.Serve serve = new CompareCommands.Serve();
        serve.config = "cmp";
        serve.savedModels = saved;
        serve.port = 0;
        serve.refresh = 5;
        com.sun.net.httpserver.HttpServer server = serve.start();
        try {
            assertTrue(server.getAddress().getAddress().isLoopbackAddress(), "localhost only");
            java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
            java.net.URI uri = java.net.URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/");
            java.net.http.HttpResponse<String> r = http.send(java.net.http.HttpRequest.newBuilder(uri).build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode(), r.body());
            assertTrue(r.body().contains("<meta http-equiv=\"refresh\" content=\"5\">"), "the page reloads itself");
            assertEquals(2, count(section(r.body(), "<table id=\"compare\">", "</table>"), "<tr data-label=") + count(r.body(), "<tr class=\"best\""));
            // a run that ends meanwhile shows at the next load: here, one run's final checkpoint goes away (as while training)
            String victim = POINTS.keySet().iterator().next();
            Path fin = new RunStore(saved).find(victim).dir().resolve("final"), aside = dir.resolve("aside-final");
            Files.move(fin, aside);
            try {
                String again = http.send(java.net.http.HttpRequest.newBuilder(uri).build(), java.net.http.HttpResponse.BodyHandlers.ofString()).body();
                assertTrue(again.contains(">1/2 done<"), "the row of the run still training says so");
            } finally {
                Files.move(aside, fin);
            }
        } finally {
            server.stop(0);
        }
    }

    static String section(String s, String from, String to) {
        int a = s.indexOf(from);
        assertTrue(a >= 0, "no " + from + " in the page");
        int b = s.indexOf(to, a);
        return s.substring(a, b < 0 ? s.length() : b + to.length());
    }

    static int count(String s, String what) {
        int n = 0;
        for (int i = s.indexOf(what); i >= 0; i = s.indexOf(what, i + 1)) n++;
        return n;
    }

    /** Debian's chromium, headless, as root: the DOM after the page's script ran. Skips loudly when it is not installed. */
    static String chromiumDom(Path page, String fragment) throws Exception {
        String exe = null;
        for (String c : List.of("chromium", "chromium-browser", "google-chrome"))
            for (String d : System.getenv().getOrDefault("PATH", "").split(":"))
                if (exe == null && Files.isExecutable(Path.of(d, c))) exe = Path.of(d, c).toString();
        if (exe == null) System.err.println("SKIPPED: chromium is not installed (apt-get install -y chromium): the report page is not checked in a browser");
        Assumptions.assumeTrue(exe != null, "chromium is not installed (apt-get install -y chromium)");
        Path profile = Files.createTempDirectory(dir, "chromium-profile");
        Process p = new ProcessBuilder(exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--user-data-dir=" + profile, "--dump-dom", page.toUri() + fragment)
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "chromium did not finish within 60 s");
        assertEquals(0, p.exitValue(), "chromium failed");
        return new String(out, java.nio.charset.StandardCharsets.UTF_8);
    }
}
