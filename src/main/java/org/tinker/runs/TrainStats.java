package org.tinker.runs;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code train_stats}: every statistic logged during training, as {@code name → [(s, n, c, v), ...]} in
 * logging order, where s = training steps so far, n = samples trained on so far, c = values logged so far
 * (across all names), v = the value. This is the reference's seed-era 4-tuple; {@link #fromJson} also reads
 * the initial commit's {@code (n, v, c)} and HEAD's {@code (s, v)} tuples.
 */
public final class TrainStats implements StatsListener {
    /** One logged value. n is -1 when the file it came from did not record it. */
    public record Point(long step, long nTrainSamples, long counter, double value) {}

    private final LinkedHashMap<String, List<Point>> stats = new LinkedHashMap<>();

    @Override
    public synchronized void onStat(String name, double value, Counters at) {
        stats.computeIfAbsent(name, k -> new ArrayList<>()).add(new Point(at.statSyncer(), at.nTrainSamples(), at.statCounter(), value));
    }

    public synchronized List<Point> get(String name) {
        return stats.getOrDefault(name, List.of());
    }

    public synchronized List<String> names() {
        return new ArrayList<>(stats.keySet());
    }

    /** The last value logged under the name, or NaN. */
    public synchronized double last(String name) {
        List<Point> p = stats.get(name);
        return p == null || p.isEmpty() ? Double.NaN : p.get(p.size() - 1).value();
    }

    /** Takes over the statistics of a resumed run. */
    public synchronized void replaceWith(TrainStats other) {
        stats.clear();
        other.stats.forEach((k, v) -> stats.put(k, new ArrayList<>(v)));
    }

    public synchronized Map<String, List<Point>> asMap() {
        return new LinkedHashMap<>(stats);
    }

    public synchronized JsonObject toJson() {
        JsonObject o = new JsonObject();
        stats.forEach((name, points) -> {
            JsonArray a = new JsonArray();
            for (Point p : points) {
                JsonArray t = new JsonArray();
                t.add(p.step());
                t.add(p.nTrainSamples());
                t.add(p.counter());
                if (Double.isFinite(p.value())) t.add(p.value());
                else t.add(Double.toString(p.value()));
                a.add(t);
            }
            o.add(name, a);
        });
        return o;
    }

    /** Reads any of the three tuple layouts the reference has written. */
    public static TrainStats fromJson(String json) {
        TrainStats ts = new TrainStats();
        JsonObject o = JsonParser.parseString(json).getAsJsonObject();
        for (Map.Entry<String, JsonElement> e : o.entrySet()) {
            if (!e.getValue().isJsonArray()) continue; // HEAD's scalar total_train_samples
            List<Point> pts = new ArrayList<>();
            for (JsonElement el : e.getValue().getAsJsonArray()) {
                JsonArray t = el.getAsJsonArray();
                Point p = switch (t.size()) {
                    case 4 -> new Point(t.get(0).getAsLong(), t.get(1).getAsLong(), t.get(2).getAsLong(), num(t.get(3)));
                    case 3 -> new Point(-1, t.get(0).getAsLong(), t.get(2).getAsLong(), num(t.get(1)));
                    case 2 -> new Point(t.get(0).getAsLong(), -1, -1, num(t.get(1)));
                    default -> throw new IllegalArgumentException("train_stats entry of " + t.size() + " values under " + e.getKey());
                };
                pts.add(p);
            }
            ts.stats.put(e.getKey(), pts);
        }
        return ts;
    }

    private static double num(JsonElement el) {
        if (el.isJsonPrimitive() && el.getAsJsonPrimitive().isString()) return Double.parseDouble(el.getAsString());
        return el.isJsonNull() ? Double.NaN : el.getAsDouble();
    }
}
