package org.tinker.runs;

import com.google.gson.JsonElement;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.tinker.config.Params;
import org.tinker.config.PyLiteral;
import org.tinker.config.RunSpec;

/**
 * Where each point of a grid stands among the saved runs: {@code done} (a finished run with exactly this
 * point's params), {@code unfinished} (a run of this point that has no {@code final/}: it failed, was
 * killed, or is still running) or {@code missing}. A run belongs to a point when its saved params JSON
 * ({@code model_params.json}, {@code data_params.json}, {@code train_params.json} of its newest checkpoint)
 * equals the point's params; a run that died before its first checkpoint is matched by the {@code config:}
 * line of its {@code log.txt}, which lists the same params.
 */
public final class GridState {
    private GridState() {}

    public enum State { DONE, UNFINISHED, MISSING }

    /** A grid point's state; {@code run} is the newest matching run (the finished one for DONE), or null. */
    public record Point(RunSpec spec, State state, RunStore.Run run, double valLoss) {
        public String stateName() {
            return state.name().toLowerCase();
        }
    }

    /** The state of every point, in grid order. */
    public static List<Point> of(List<RunSpec> points, Path savedModels) {
        List<Point> out = new ArrayList<>();
        for (RunSpec p : points) out.add(of(p, savedModels));
        return out;
    }

    public static Point of(RunSpec point, Path savedModels) {
        RunStore.Run finished = null, unfinished = null;
        for (RunStore.Run r : candidates(point, savedModels)) {
            if (!matches(point, r)) continue;
            if (r.finished()) finished = r; // candidates are oldest first: keep the newest
            else unfinished = r;
        }
        if (finished != null) {
            double v = Double.NaN;
            Path stats = finished.dir().resolve(Checkpoint.FINAL).resolve(Checkpoint.STATS_FILE);
            if (Files.isRegularFile(stats)) {
                try {
                    v = Checkpoint.readStats(stats).last("stat/val_loss:main");
                } catch (RuntimeException e) {
                    v = Double.NaN;
                }
            }
            return new Point(point, State.DONE, finished, v);
        }
        if (unfinished != null) return new Point(point, State.UNFINISHED, unfinished, Double.NaN);
        return new Point(point, State.MISSING, null, Double.NaN);
    }

    /** The newest saved run of this point, finished or not; null when there is none. */
    public static RunStore.Run newest(RunSpec point, Path savedModels) {
        RunStore.Run last = null;
        for (RunStore.Run r : candidates(point, savedModels)) if (matches(point, r)) last = r;
        return last;
    }

    /** The run folders a point would be saved in: {@code {config}/{task}/{run_name?}/{timestamp}}, oldest first. */
    static List<RunStore.Run> candidates(RunSpec point, Path savedModels) {
        Path parent = savedModels.resolve(Namer.saveFolderName(point, "x")).getParent();
        List<RunStore.Run> out = new ArrayList<>();
        if (!Files.isDirectory(parent)) return out;
        String runName = Namer.runName(point);
        try (Stream<Path> s = Files.list(parent)) {
            s.filter(d -> Files.isDirectory(d) && RunStore.TIMESTAMP.matcher(d.getFileName().toString()).matches())
                    .forEach(d -> out.add(new RunStore.Run(d.getFileName().toString(), point.configName(), point.dp().dataset_name(),
                            runName, d)));
        } catch (IOException e) {
            return out;
        }
        // timestamps sort by time, and "-2" suffixes after the bare second
        out.sort(Comparator.comparing((RunStore.Run r) -> r.timestamp().length() > 20 ? r.timestamp().substring(0, 20) : r.timestamp())
                .thenComparingInt(r -> r.timestamp().length() > 21 ? Integer.parseInt(r.timestamp().substring(21)) : 1));
        return out;
    }

    /** Whether a saved run was trained with exactly this point's params. */
    static boolean matches(RunSpec point, RunStore.Run run) {
        List<String> cks = run.checkpoints();
        if (!cks.isEmpty()) {
            Path ck = run.dir().resolve(cks.get(cks.size() - 1));
            return sameJson(ck.resolve("data_params.json"), Params.toJson(point.dp()))
                    && sameJson(ck.resolve("train_params.json"), Params.toJson(point.tp()))
                    && sameJson(ck.resolve("model_params.json"), Params.toJson(point.mp()));
        }
        Path log = run.dir().resolve("log.txt");
        if (!Files.isRegularFile(log)) return false;
        try (Stream<String> lines = Files.lines(log)) {
            String want = configLine(point);
            return lines.anyMatch(want::equals);
        } catch (IOException | java.io.UncheckedIOException e) {
            return false;
        }
    }

    private static boolean sameJson(Path file, String expected) {
        if (!Files.isRegularFile(file)) return false;
        try {
            JsonElement saved = JsonParser.parseString(Files.readString(file));
            return saved.equals(JsonParser.parseString(expected));
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** The {@code config: ...} line a run prints (and logs) at its start. */
    static String configLine(RunSpec spec) {
        List<String> parts = new ArrayList<>();
        spec.flat().forEach((k, v) -> parts.add(k + "=" + PyLiteral.show(v)));
        return "config: " + String.join(" ", parts);
    }
}
