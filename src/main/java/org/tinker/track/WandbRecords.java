package org.tinker.track;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.protobuf.DynamicMessage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * tinker's run description ({@link Spool#run}: the UpsertBucket variables and the start) and rows as W&amp;B
 * {@code Record}s, and back: what goes into {@code run-{id}.wandb} and what {@code wandb-sync} reads out of it.
 */
final class WandbRecords {
    private WandbRecords() {}

    /** The x-axis every statistic is plotted against by default. */
    static final String STEP_METRIC = "n_train_samples";

    /** The UpsertBucket {@code config} value: {@code {key: {value: v}}} plus {@code _wandb} (telemetry, metric definitions). */
    static String configJson(Map<String, JsonElement> config) {
        JsonObject c = new JsonObject();
        config.forEach((k, v) -> {
            JsonObject w = new JsonObject();
            w.add("value", v);
            c.add(k, w);
        });
        JsonObject wandb = new JsonObject(), inner = new JsonObject();
        inner.add("t", new JsonObject());
        inner.add("m", metricsConfig());
        wandb.add("value", inner);
        c.add("_wandb", wandb);
        return WandbHttp.GSON.toJson(c);
    }

    /**
     * Metric definitions as the official client keeps them in {@code _wandb.m} (MetricRecord fields by number):
     * {@code n_train_samples}, and every metric ({@code *}) stepped by it (step_metric_index 1, one-based).
     */
    static JsonArray metricsConfig() {
        return metricsConfig(List.of());
    }

    /**
     * The definitions above and, for each logged key, its own one stepped by n_train_samples (step_metric_index 1,
     * options step_sync and defined): the official client expands a glob into these as keys first appear and sends
     * only them, and the run page takes each chart's x-axis from them.
     */
    static JsonArray metricsConfig(java.util.Collection<String> keys) {
        JsonArray m = new JsonArray();
        JsonObject step = new JsonObject();
        step.addProperty("1", STEP_METRIC);
        step.add("6", defined());
        m.add(step);
        JsonObject all = new JsonObject();
        all.addProperty("2", "*");
        all.addProperty("5", 1);
        all.add("6", defined());
        m.add(all);
        for (String k : keys) {
            JsonObject d = new JsonObject();
            d.addProperty("1", k);
            d.addProperty("5", 1);
            JsonArray o = new JsonArray();
            o.add(1); // MetricOptions.step_sync
            o.add(3); // MetricOptions.defined
            d.add("6", o);
            m.add(d);
        }
        return m;
    }

    private static JsonArray defined() {
        JsonArray a = new JsonArray();
        a.add(3); // MetricOptions.defined
        return a;
    }

    /** The same definitions as MetricRecords (the official sync rebuilds {@code _wandb.m} from them). */
    static List<WandbProto.Msg> metricRecords() {
        return List.of(
                WandbProto.msg("MetricRecord").set("name", STEP_METRIC).set("options", WandbProto.msg("MetricOptions").set("defined", true)),
                WandbProto.msg("MetricRecord").set("glob_name", "*").set("step_metric", STEP_METRIC)
                        .set("options", WandbProto.msg("MetricOptions").set("defined", true)));
    }

    static WandbProto.Msg runRecord(JsonObject run) {
        JsonObject v = run.getAsJsonObject("variables");
        WandbProto.Msg r = WandbProto.msg("RunRecord").set("run_id", str(v, "name")).set("entity", str(v, "entity"))
                .set("project", str(v, "project")).set("display_name", str(v, "displayName")).set("notes", str(v, "notes"))
                .set("run_group", str(v, "groupName")).set("job_type", str(v, "jobType")).set("host", str(v, "host"))
                .set("starting_step", run.get("start_step").getAsLong()).set("runtime", (int) run.get("runtime_offset").getAsDouble())
                .set("start_time", WandbProto.timestamp((long) (run.get("start_time").getAsDouble() * 1000)))
                .set("resumed", run.has("resumed") && run.get("resumed").getAsBoolean())
                .set("storage_id", run.has("storage_id") ? run.get("storage_id").getAsString() : null);
        if (v.has("tags") && v.get("tags").isJsonArray()) for (JsonElement t : v.getAsJsonArray("tags")) r.add("tags", t.getAsString());
        if (str(v, "commit") != null) r.set("git", WandbProto.msg("GitRepoRecord").set("commit", str(v, "commit")).set("remote_url", str(v, "repo")));
        WandbProto.Msg config = WandbProto.msg("ConfigRecord");
        JsonObject c = JsonParser.parseString(v.get("config").getAsString()).getAsJsonObject();
        for (Map.Entry<String, JsonElement> e : c.entrySet()) {
            if (e.getKey().equals("_wandb")) continue;
            config.add("update", WandbProto.item("ConfigItem", e.getKey(), WandbHttp.GSON.toJson(e.getValue().getAsJsonObject().get("value"))));
        }
        r.set("config", config);
        if (run.has("summary") && run.getAsJsonObject("summary").size() > 0) r.set("summary", summary(run.getAsJsonObject("summary")));
        if (run.has("branch_point")) {
            JsonObject b = run.getAsJsonObject("branch_point");
            r.set("branch_point", WandbProto.msg("BranchPoint").set("run", str(b, "run")).set("metric", str(b, "metric"))
                    .set("value", b.get("value").getAsDouble()));
        }
        return r;
    }

    static WandbProto.Msg history(JsonObject row) {
        WandbProto.Msg h = WandbProto.msg("HistoryRecord");
        for (Map.Entry<String, JsonElement> e : row.entrySet()) h.add("item", WandbProto.item("HistoryItem", e.getKey(), WandbHttp.GSON.toJson(e.getValue())));
        JsonElement step = row.get("_step");
        if (step != null) h.set("step", WandbProto.msg("HistoryStep").set("num", step.getAsLong()));
        return h;
    }

    static WandbProto.Msg summary(JsonObject summary) {
        WandbProto.Msg s = WandbProto.msg("SummaryRecord");
        for (Map.Entry<String, JsonElement> e : summary.entrySet()) {
            if (e.getKey().equals("_wandb")) continue;
            s.add("update", WandbProto.item("SummaryItem", e.getKey(), WandbHttp.GSON.toJson(e.getValue())));
        }
        return s;
    }

    /**
     * An {@link Artifacts} description as the official client's ArtifactRecord of a run's output (not user-created,
     * finalized, not used after commit), so that {@code wandb sync} uploads it too.
     */
    static WandbProto.Msg artifact(JsonObject a, JsonObject run) {
        JsonObject v = run.getAsJsonObject("variables");
        WandbProto.Msg m = WandbProto.msg("ArtifactManifest").set("version", 1).set("storage_policy", Artifacts.STORAGE_POLICY)
                .add("storage_policy_config", WandbProto.msg("StoragePolicyConfigItem").set("key", "storageLayout")
                        .set("value_json", WandbHttp.GSON.toJson(Artifacts.STORAGE_LAYOUT)));
        for (JsonElement e : a.getAsJsonArray("contents")) {
            JsonObject c = e.getAsJsonObject();
            m.add("contents", WandbProto.msg("ArtifactManifestEntry").set("path", str(c, "path")).set("digest", str(c, "digest"))
                    .set("size", c.get("size").getAsLong()).set("local_path", str(c, "local_path")));
        }
        WandbProto.Msg r = WandbProto.msg("ArtifactRecord").set("run_id", str(v, "name")).set("project", str(v, "project"))
                .set("entity", str(v, "entity")).set("type", str(a, "type")).set("name", str(a, "name")).set("digest", str(a, "digest"))
                .set("metadata", str(a, "metadata")).set("manifest", m).set("finalize", true).set("client_id", str(a, "client_id"))
                .set("sequence_client_id", str(a, "sequence_client_id"));
        for (JsonElement al : a.getAsJsonArray("aliases")) r.add("aliases", al.getAsString());
        return r;
    }

    /** The inverse of {@link #artifact}. */
    static JsonObject artifactJson(DynamicMessage r) {
        JsonObject a = new JsonObject();
        for (String k : List.of("client_id", "sequence_client_id", "type", "name", "digest")) a.addProperty(k, WandbProto.str(r, k));
        if (!WandbProto.str(r, "metadata").isEmpty()) a.addProperty("metadata", WandbProto.str(r, "metadata"));
        a.add("aliases", WandbHttp.GSON.toJsonTree(WandbProto.<String>list(r, "aliases")));
        JsonArray contents = new JsonArray();
        for (DynamicMessage e : WandbProto.<DynamicMessage>list(WandbProto.sub(r, "manifest"), "contents")) {
            JsonObject c = new JsonObject();
            for (String k : List.of("path", "digest", "local_path")) c.addProperty(k, WandbProto.str(e, k));
            c.addProperty("size", WandbProto.num(e, "size"));
            contents.add(c);
        }
        a.add("contents", contents);
        return a;
    }

    /** Reads a transaction log back into a (read-only) spool; the first run record describes the run. */
    static Spool read(Path dir, Path file) throws IOException {
        JsonObject run = null;
        List<JsonObject> rows = new ArrayList<>();
        JsonObject summary = new JsonObject();
        Set<String> files = new LinkedHashSet<>();
        List<String> output = new ArrayList<>(), events = new ArrayList<>();
        List<JsonObject> artifacts = new ArrayList<>();
        Integer exit = null;
        double startTime = 0;
        for (byte[] bytes : TransactionLog.read(file)) {
            DynamicMessage rec = WandbProto.parse(bytes);
            String kind = WandbProto.kind(rec);
            if (kind == null) continue; // a record type tinker does not read
            DynamicMessage m = WandbProto.sub(rec, kind);
            switch (kind) {
                case "run" -> {
                    if (run == null) {
                        run = runJson(m);
                        startTime = run.get("start_time").getAsDouble();
                    }
                }
                case "history" -> {
                    JsonObject row = new JsonObject();
                    for (DynamicMessage it : WandbProto.<DynamicMessage>list(m, "item")) row.add(key(it), value(it));
                    rows.add(row);
                }
                case "summary" -> {
                    for (DynamicMessage it : WandbProto.<DynamicMessage>list(m, "update")) summary.add(key(it), value(it));
                    for (DynamicMessage it : WandbProto.<DynamicMessage>list(m, "remove")) summary.remove(key(it));
                }
                case "files" -> {
                    for (DynamicMessage f : WandbProto.<DynamicMessage>list(m, "files")) files.add(WandbProto.str(f, "path"));
                }
                case "output_raw" -> {
                    String l = WandbProto.str(m, "line");
                    output.add(l.endsWith("\n") ? l.substring(0, l.length() - 1) : l);
                }
                case "stats" -> {
                    JsonObject line = new JsonObject();
                    for (DynamicMessage it : WandbProto.<DynamicMessage>list(m, "item")) line.add("system." + WandbProto.str(it, "key"), value(it));
                    DynamicMessage ts = WandbProto.sub(m, "timestamp");
                    double t = WandbProto.num(ts, "seconds") + WandbProto.num(ts, "nanos") / 1e9;
                    line.addProperty("_timestamp", t);
                    line.addProperty("_runtime", Math.max(0, t - startTime));
                    events.add(WandbHttp.GSON.toJson(line));
                }
                case "artifact" -> artifacts.add(artifactJson(m));
                case "exit" -> exit = (int) WandbProto.num(m, "exit_code");
                default -> { } // header, metric (fixed definitions), final
            }
        }
        if (run == null) throw new IOException(file + ": no run record");
        return Spool.rebuilt(dir, run, rows, summary, new ArrayList<>(files), output, events, artifacts, exit);
    }

    /** The run description from a RunRecord (the inverse of {@link #runRecord}). */
    static JsonObject runJson(DynamicMessage r) {
        JsonObject v = new JsonObject();
        v.addProperty("name", WandbProto.str(r, "run_id"));
        v.addProperty("project", WandbProto.str(r, "project"));
        v.addProperty("entity", blankNull(WandbProto.str(r, "entity")));
        v.addProperty("displayName", blankNull(WandbProto.str(r, "display_name")));
        v.addProperty("notes", blankNull(WandbProto.str(r, "notes")));
        List<String> tags = WandbProto.list(r, "tags");
        if (!tags.isEmpty()) v.add("tags", WandbHttp.GSON.toJsonTree(tags));
        v.addProperty("groupName", blankNull(WandbProto.str(r, "run_group")));
        Map<String, JsonElement> config = new java.util.LinkedHashMap<>();
        if (WandbProto.has(r, "config"))
            for (DynamicMessage it : WandbProto.<DynamicMessage>list(WandbProto.sub(r, "config"), "update")) config.put(key(it), value(it));
        v.addProperty("config", configJson(config));
        v.addProperty("jobType", blankNull(WandbProto.str(r, "job_type")));
        v.addProperty("host", blankNull(WandbProto.str(r, "host")));
        v.addProperty("program", "tinker");
        if (WandbProto.has(r, "git")) {
            v.addProperty("commit", blankNull(WandbProto.str(WandbProto.sub(r, "git"), "commit")));
            v.addProperty("repo", blankNull(WandbProto.str(WandbProto.sub(r, "git"), "remote_url")));
        }
        JsonObject run = new JsonObject();
        run.add("variables", v);
        run.addProperty("start_step", WandbProto.num(r, "starting_step"));
        run.addProperty("runtime_offset", (double) WandbProto.num(r, "runtime"));
        DynamicMessage ts = WandbProto.sub(r, "start_time");
        run.addProperty("start_time", WandbProto.num(ts, "seconds") + WandbProto.num(ts, "nanos") / 1e9);
        run.addProperty("resumed", WandbProto.bool(r, "resumed"));
        if (!WandbProto.str(r, "storage_id").isEmpty()) run.addProperty("storage_id", WandbProto.str(r, "storage_id"));
        JsonObject summary = new JsonObject();
        if (WandbProto.has(r, "summary"))
            for (DynamicMessage it : WandbProto.<DynamicMessage>list(WandbProto.sub(r, "summary"), "update")) summary.add(key(it), value(it));
        run.add("summary", summary);
        if (WandbProto.has(r, "branch_point")) {
            DynamicMessage b = WandbProto.sub(r, "branch_point");
            JsonObject bp = new JsonObject();
            bp.addProperty("run", WandbProto.str(b, "run"));
            bp.addProperty("metric", WandbProto.str(b, "metric"));
            bp.addProperty("value", WandbProto.dbl(b, "value"));
            run.add("branch_point", bp);
        }
        return run;
    }

    /** An item's key; a nested key (the official client's nested paths) is joined with dots. */
    private static String key(DynamicMessage item) {
        List<String> nested = WandbProto.list(item, "nested_key");
        return nested.isEmpty() ? WandbProto.str(item, "key") : String.join(".", nested);
    }

    private static JsonElement value(DynamicMessage item) {
        String j = WandbProto.str(item, "value_json");
        try {
            return j.isEmpty() ? JsonNull.INSTANCE : JsonParser.parseString(j);
        } catch (RuntimeException e) {
            return JsonNull.INSTANCE;
        }
    }

    private static String str(JsonObject o, String k) {
        JsonElement e = o.get(k);
        return e == null || e.isJsonNull() ? null : e.getAsString();
    }

    private static String blankNull(String s) {
        return s == null || s.isEmpty() ? null : s;
    }
}
