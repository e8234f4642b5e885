package org.tinker.cli;

import ai.djl.Device;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import org.tinker.config.ConfigError;
import org.tinker.explore.Comparison;
import org.tinker.explore.Report;
import org.tinker.explore.Runs;
import org.tinker.runs.RunStore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code runner compare} and {@code runner report}: the runs of a grid launch (or any runs by timestamp) side by side,
 * as a table in the terminal, CSV or JSON, or as one self-contained HTML page (see {@link Comparison}, {@link Report}).
 */
final class CompareCommands {
    private CompareCommands() {}

    /** Which runs: a config's latest launch, one launch of it, or timestamps. */
    abstract static class Selection implements Callable<Integer> {
        @Option(names = "--config", paramLabel = "NAME", description = "the runs of `runner --config=NAME`'s latest launch (with the earlier runs of points it skipped)")
        String config;
        @Option(names = "--launch", paramLabel = "TS", description = "that launch of --config instead of the latest (see the launch in compare's title)")
        String launch;
        @Option(names = "--timestamps", split = ",", paramLabel = "T1,T2...", description = "these runs instead of a launch")
        List<String> timestamps;
        @Option(names = "--sort", paramLabel = "COL", description = "sort rows by a column (a parameter, final_val_loss, best_val_loss, test_loss, val_ppl, steps, tokens_per_s, wall_s, status, ...); -COL descending")
        String sort;
        @Option(names = "--saved-models", paramLabel = "DIR", description = "where the runs are (default: saved-models; a folder copied off a cluster works)")
        Path savedModels = Path.of("saved-models");

        /** The launch the rows came from (the newest among them), or null. */
        String launchShown;

        List<Comparison.RunResult> runs() {
            if ((config == null) == (timestamps == null || timestamps.isEmpty()))
                throw new ConfigError("expected exactly one of --config=NAME (a grid launch) or --timestamps=T1,T2,... (see runner list)");
            if (launch != null && config == null) throw new ConfigError("--launch=" + launch + ": goes with --config=NAME");
            if (launch != null && !RunStore.TIMESTAMP.matcher(launch).matches())
                throw new ConfigError("--launch=" + launch + ": expected a launch's timestamp, e.g. 2026-11-23--13-40-01");
            RunStore store = new RunStore(savedModels);
            if (timestamps != null) return Comparison.ofTimestamps(store, timestamps);
            List<Comparison.RunResult> runs = Comparison.ofLaunch(store, config, launch);
            TreeSet<String> launches = new TreeSet<>();
            for (Comparison.RunResult r : runs) if (r.origin() != null) launches.add(r.origin().launch());
            launchShown = launches.isEmpty() ? null : launches.last();
            return runs;
        }

        Comparison.Table table() {
            List<Comparison.RunResult> runs = runs();
            TreeSet<String> tasks = new TreeSet<>();
            for (Comparison.RunResult r : runs) tasks.add(r.run().task());
            String title = config == null ? runs.size() + (runs.size() == 1 ? " run" : " runs") + " on " + String.join(", ", tasks)
                    : config + " on " + String.join(", ", tasks) + (launchShown != null ? ", launch " + launchShown
                    : " (runs saved before launches were recorded)");
            return Comparison.table(title, runs).sorted(sort);
        }
    }

    @Command(name = "compare", mixinStandardHelpOptions = true, description = {"The runs of a grid side by side: the parameters that vary, then final and best val loss,",
            "test loss, perplexity, steps, tokens/s, wall time and status. Seeds fold into mean ± sd when random_seed is an axis.",
            "The best row (lowest final val loss) is marked *."})
    static final class Compare extends Selection {
        @Option(names = "--csv", description = "CSV instead of a table (numbers unformatted; COL_sd beside each folded metric)") boolean csv;
        @Option(names = "--json", description = "JSON instead of a table") boolean json;

        @Override
        public Integer call() {
            if (csv && json) throw new ConfigError("--csv and --json: give one");
            Comparison.Table t = table();
            System.out.print(csv ? t.csv() : json ? t.json() : t.text());
            return 0;
        }
    }

    @Command(name = "report", mixinStandardHelpOptions = true, description = {"Write one self-contained HTML page about a grid (no network needed to view it): the comparison",
            "table (sortable), val and train loss curves of every run, the best run's sample and attention map, the params.",
            "Default file: {saved-models}/{config}/reports/{config}-{launch}.html, or {saved-models}/reports/runs-{newest}.html."})
    static final class ReportCmd extends Selection {
        @Option(names = "--out", paramLabel = "FILE", description = "where to write the page") Path out;

        @Override
        public Integer call() {
            Comparison.Table t = table();
            Path file = out;
            if (file == null) {
                String newest = t.rows().stream().flatMap(r -> r.timestamps().stream()).max(String::compareTo).orElse("none");
                file = config != null ? savedModels.resolve(config).resolve("reports").resolve(config + "-" + (launchShown != null ? launchShown : newest) + ".html")
                        : savedModels.resolve("reports").resolve("runs-" + newest + ".html");
            }
            Report.BestRun best = Report.bestRun(t, new Runs(savedModels, Path.of("."), Device.cpu()));
            Report.write(t, best, savedModels.toString(), file);
            System.out.println("wrote " + file);
            String verdict = t.verdict();
            if (verdict != null) System.out.println(verdict);
            return 0;
        }
    }

    @Command(name = "serve", mixinStandardHelpOptions = true, description = {"Serve the report page of a grid on localhost, rebuilt from the run folders at every load;",
            "the page reloads itself every --refresh seconds: watch a grid while it trains (its runs show what their last checkpoint holds)."})
    static final class Serve extends Selection {
        @Option(names = "--port", paramLabel = "N", description = "port on 127.0.0.1 (default 8022; 0 = any free one)") int port = 8022;
        @Option(names = "--refresh", paramLabel = "S", description = "seconds between reloads of the page (default 15)") int refresh = 15;

        private Report.BestRun best;

        @Override
        public Integer call() throws InterruptedException {
            HttpServer server = start();
            System.out.println("serving the report of " + (config != null ? config : "these runs") + " at http://127.0.0.1:" + server.getAddress().getPort()
                    + "/ (Ctrl-C to stop)");
            Thread.currentThread().join(); // until Ctrl-C
            return 0;
        }

        /** Starts the server on the loopback interface only; every request rebuilds the page. */
        HttpServer start() {
            if (refresh < 1) throw new ConfigError("--refresh=" + refresh + ": expected seconds, 1 or more");
            if (port < 0 || port > 65535) throw new ConfigError("--port=" + port + ": expected 0..65535");
            runs(); // a wrong selection is reported now, not on the first load
            HttpServer server;
            try {
                server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 0);
            } catch (IOException e) {
                throw new ConfigError("--port=" + port + ": cannot listen on 127.0.0.1 (" + e.getMessage() + ")");
            }
            server.createContext("/", exchange -> {
                byte[] body;
                int code = 200;
                try {
                    body = page().getBytes(StandardCharsets.UTF_8);
                } catch (RuntimeException e) { // runs changing under us: say so, the next reload tries again
                    code = 500;
                    body = ("cannot build the page: " + ConfigError.firstLine(e) + "\n").getBytes(StandardCharsets.UTF_8);
                }
                exchange.getResponseHeaders().set("Content-Type", code == 200 ? "text/html; charset=utf-8" : "text/plain; charset=utf-8");
                exchange.sendResponseHeaders(code, body.length);
                try (var os = exchange.getResponseBody()) {
                    os.write(body);
                }
            });
            server.start();
            return server;
        }

        /** The page as it stands; the best run's sample is made again only when another run becomes the best. */
        synchronized String page() {
            Comparison.Table t = table();
            String bestTs = t.best() == null ? null : t.best().runs().stream().filter(Comparison.RunResult::finished)
                    .min(java.util.Comparator.comparingDouble(Comparison.RunResult::finalVal)).map(r -> r.run().timestamp()).orElse(null);
            if (best == null || !java.util.Objects.equals(best.timestamp(), bestTs))
                best = Report.bestRun(t, new Runs(savedModels, Path.of("."), Device.cpu()));
            return Report.html(t, best, savedModels.toString(), refresh);
        }
    }
}
