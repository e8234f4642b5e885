package org.tinker.track;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * A run's local record, laid out as the official client lays out a run folder, written before anything is
 * sent, and the source both the online sender and {@code wandb-sync} (and the official {@code wandb sync}) send from:
 * <pre>
 *   run-{id}.wandb        the transaction log: Record protobufs (header, run, metric, history, files, output, stats,
 *                         summary, artifact, exit, final) in W&amp;B's LevelDB-style block format ({@link TransactionLog})
 *   files/...             run files, run-relative paths: media/images/*.png, wandb-metadata.json, requirements.txt,
 *                         config.yaml, output.log, wandb-summary.json
 *   artifacts/...         the files of logged artifacts, staged until uploaded ({@link Artifacts})
 *   logs/debug.log        what tinker's W&amp;B client said
 *   sync-state.json       tinker's own: what the server acknowledged (rows, files, completion), where the run lives
 *                         there, and the history offset the server gave this folder's first row
 * </pre>
 * Folders of older tinker versions ({@code run.json} + {@code wandb-history.jsonl}, no {@code .wandb}) are still
 * read, for {@code wandb-sync}. History lines are kept in memory too; the spool is thread-safe (training thread
 * appends, sender reads).
 */
final class Spool {
    static final String SUMMARY = "wandb-summary.json", HISTORY = "wandb-history.jsonl", EVENTS = "wandb-events.jsonl",
            OUTPUT = "output.log", STATE = "sync-state.json", FILES = "files", LOGS = "logs", SYNCED_SUFFIX = ".synced";
    /** The layout of older tinker versions. */
    static final String LEGACY_RUN = "run.json", LEGACY_EXIT = "exit.json";

    final Path dir;
    /** base_url, mode, variables (the UpsertBucket variables), start_step, runtime_offset, start_time, summary, history_offset_min. */
    final JsonObject run;
    private final List<String> lines = new ArrayList<>();
    private final TransactionLog.Writer log;
    private JsonObject summary;
    private final Set<String> files = new LinkedHashSet<>();
    private final List<String> output = new ArrayList<>();
    private final List<String> events = new ArrayList<>();
    private final List<JsonObject> artifacts = new ArrayList<>();
    private Integer exitCode;
    private String summaryWritten;
    /** Acknowledged: rows of this spool, files announced, complete, and where the run lives on the server. */
    private long acked, outputAcked, eventsAcked;
    private final Set<String> uploaded = new LinkedHashSet<>();
    /** Artifact client id → "committed" or "refused: why" (a refused one is not sent again). */
    private final Map<String, String> artifactsDone = new LinkedHashMap<>();
    private boolean completeAcked;
    private String entity, project, storageId;
    /** The server's history offset of this spool's first row; null until the first UpsertBucket answered. */
    private Long offset0;

    private Spool(Path dir, JsonObject run, TransactionLog.Writer log) {
        this.dir = dir;
        this.run = run;
        this.log = log;
        this.summary = run.has("summary") ? run.getAsJsonObject("summary").deepCopy() : new JsonObject();
    }

    /** The transaction log's name: {@code run-{id}.wandb}. */
    static String logName(String runId) {
        return "run-" + runId + ".wandb";
    }

    /** The run's transaction log in a folder; null when there is none. */
    static Path logFile(Path dir) {
        if (!Files.isDirectory(dir)) return null;
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().matches("run-.+\\.wandb") && Files.isRegularFile(p)).sorted().findFirst().orElse(null);
        } catch (IOException e) {
            return null;
        }
    }

    /** A spool folder: one with a transaction log, or one of an older tinker version. */
    static boolean isSpool(Path dir) {
        return logFile(dir) != null || Files.isRegularFile(dir.resolve(LEGACY_RUN));
    }

    /** A new spool folder: writes the transaction log's header, run and metric records, and the run's files. */
    static Spool create(Path dir, JsonObject run) throws IOException {
        Files.createDirectories(dir.resolve(FILES));
        Files.createDirectories(dir.resolve(LOGS));
        String id = run.getAsJsonObject("variables").get("name").getAsString();
        TransactionLog.Writer w = new TransactionLog.Writer(dir.resolve(logName(id)));
        Spool s = new Spool(dir, run, w);
        w.write(WandbProto.record("header", WandbProto.msg("HeaderRecord").set("version_info",
                WandbProto.msg("VersionInfo").set("producer", WandbHttp.USER_AGENT))));
        w.write(WandbProto.record("run", WandbRecords.runRecord(run)));
        for (WandbProto.Msg m : WandbRecords.metricRecords()) w.write(WandbProto.record("metric", m));
        s.saveState();
        linkLatest(dir);
        return s;
    }

    /** {@code wandb/latest-run} → this folder (a relative symbolic link, as the official client makes). */
    private static void linkLatest(Path dir) {
        Path link = dir.getParent().resolve("latest-run");
        Path tmp = dir.getParent().resolve(".latest-run." + dir.getFileName());
        try {
            Files.deleteIfExists(tmp);
            Files.createSymbolicLink(tmp, dir.getFileName());
            Files.move(tmp, link, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // no link then
            }
        }
    }

    /** Reads a spool written earlier (by this or another process, or by an older tinker). */
    static Spool open(Path dir) throws IOException {
        Path file = logFile(dir);
        Spool s;
        if (file != null) s = WandbRecords.read(dir, file);
        else if (Files.isRegularFile(dir.resolve(LEGACY_RUN))) s = openLegacy(dir);
        else throw new IOException(dir + ": not a W&B run folder (no run-<id>.wandb)");
        s.readState();
        return s;
    }

    /** A spool rebuilt from records (read by {@link WandbRecords#read}); writes nothing. */
    static Spool rebuilt(Path dir, JsonObject run, List<JsonObject> rows, JsonObject summary, List<String> files, List<String> output,
                         List<String> events, List<JsonObject> artifacts, Integer exitCode) {
        Spool s = new Spool(dir, run, null);
        for (JsonObject row : rows) {
            s.lines.add(WandbHttp.GSON.toJson(row));
            for (Map.Entry<String, JsonElement> e : row.entrySet()) s.summary.add(e.getKey(), e.getValue());
        }
        for (Map.Entry<String, JsonElement> e : summary.entrySet()) s.summary.add(e.getKey(), e.getValue());
        s.files.addAll(files);
        s.output.addAll(output);
        s.events.addAll(events);
        s.artifacts.addAll(artifacts);
        s.exitCode = exitCode;
        return s;
    }

    private static Spool openLegacy(Path dir) throws IOException {
        JsonObject run = JsonParser.parseString(Files.readString(dir.resolve(LEGACY_RUN))).getAsJsonObject();
        List<String> old = Files.isRegularFile(dir.resolve(HISTORY)) ? Files.readAllLines(dir.resolve(HISTORY), StandardCharsets.UTF_8)
                : List.of();
        Spool s = new Spool(dir, run, null);
        for (String l : old) {
            if (l.isBlank()) continue;
            JsonObject row;
            try {
                row = JsonParser.parseString(l).getAsJsonObject();
            } catch (RuntimeException e) {
                break; // a torn last line from a killed process
            }
            s.lines.add(l);
            for (Map.Entry<String, JsonElement> e : row.entrySet()) s.summary.add(e.getKey(), e.getValue());
        }
        Path sum = dir.resolve(SUMMARY);
        if (Files.isRegularFile(sum)) {
            try {
                JsonObject o = JsonParser.parseString(Files.readString(sum)).getAsJsonObject();
                for (Map.Entry<String, JsonElement> e : o.entrySet()) if (!s.summary.has(e.getKey()) || e.getKey().equals("_wandb"))
                    s.summary.add(e.getKey(), e.getValue());
            } catch (RuntimeException ignored) {
                // rebuilt from the history above
            }
        }
        try (Stream<Path> f = Files.walk(dir.resolve(FILES))) {
            f.filter(Files::isRegularFile).sorted().forEach(p -> s.files.add(dir.resolve(FILES).relativize(p).toString().replace('\\', '/')));
        } catch (IOException ignored) {
            // no files
        }
        if (Files.isRegularFile(dir.resolve(LEGACY_EXIT)))
            s.exitCode = JsonParser.parseString(Files.readString(dir.resolve(LEGACY_EXIT))).getAsJsonObject().get("exitcode").getAsInt();
        if (run.has("history_offset")) s.offset0 = run.get("history_offset").getAsLong(); // explicit in the old layout
        return s;
    }

    private void readState() throws IOException {
        if (!Files.isRegularFile(dir.resolve(STATE))) return;
        JsonObject st = JsonParser.parseString(Files.readString(dir.resolve(STATE))).getAsJsonObject();
        acked = Math.min(st.get("history_acked").getAsLong(), lines.size());
        if (st.has("output_acked")) outputAcked = Math.min(st.get("output_acked").getAsLong(), output.size());
        if (st.has("events_acked")) eventsAcked = Math.min(st.get("events_acked").getAsLong(), events.size());
        st.getAsJsonArray("uploaded").forEach(e -> uploaded.add(e.getAsString()));
        if (st.has("artifacts")) st.getAsJsonObject("artifacts").entrySet().forEach(e -> artifactsDone.put(e.getKey(), e.getValue().getAsString()));
        completeAcked = st.get("complete_acked").getAsBoolean();
        entity = str(st, "entity");
        project = str(st, "project");
        storageId = str(st, "storage_id");
        if (st.has("history_offset") && !st.get("history_offset").isJsonNull()) offset0 = st.get("history_offset").getAsLong();
        if (st.has("history_offset_min") && !st.get("history_offset_min").isJsonNull())
            run.addProperty("history_offset_min", st.get("history_offset_min").getAsLong());
        for (String k : List.of("output_offset", "events_offset")) if (st.has(k)) run.add(k, st.get(k));
    }

    String runId() {
        return run.getAsJsonObject("variables").get("name").getAsString();
    }

    /** The server's history offset of this spool's first row; null until the first UpsertBucket. */
    synchronized Long offset0() {
        return offset0;
    }

    /** Least offset for this spool's first row: after the rows of earlier spools of the same run known here. */
    long offsetMin() {
        return run.has("history_offset_min") ? run.get("history_offset_min").getAsLong() : 0;
    }

    /** Fixes the first row's offset (once: later upserts, and later syncs, keep it, so rows are never sent twice). */
    synchronized void setOffset0(long offset) throws IOException {
        if (offset0 == null) {
            offset0 = offset;
            saveState();
        }
    }

    /** Appends a history row (the summary takes its values). Called on the training thread. */
    synchronized void append(JsonObject row) throws IOException {
        String line = WandbHttp.GSON.toJson(row);
        log.write(WandbProto.record("history", WandbRecords.history(row)));
        for (Map.Entry<String, JsonElement> e : row.entrySet()) summary.add(e.getKey(), e.getValue());
        lines.add(line);
    }

    synchronized void setSummary(String key, JsonElement value) {
        summary.add(key, value);
    }

    /** Copies a file into files/ under a run-relative path and records it (uploaded now: a FilesRecord, policy NOW). */
    synchronized void addFile(String relPath, Path source) throws IOException {
        Path to = dir.resolve(FILES).resolve(relPath);
        Files.createDirectories(to.getParent());
        Files.copy(source, to, StandardCopyOption.REPLACE_EXISTING);
        recordFile(relPath, relPath.startsWith("media/") ? 2 : 0);
    }

    /** Writes a run file (metadata, requirements, config) into files/ and records it. */
    synchronized void writeFile(String relPath, String text) throws IOException {
        Path to = dir.resolve(FILES).resolve(relPath);
        Files.createDirectories(to.getParent());
        writeAtomically(to, text);
        recordFile(relPath, 1);
    }

    private void recordFile(String relPath, int type) throws IOException {
        if (log != null) log.write(WandbProto.record("files", WandbProto.msg("FilesRecord").add("files",
                WandbProto.msg("FilesItem").set("path", relPath).set("policy", 0).set("type", type))));
        files.add(relPath);
        uploaded.remove(relPath); // a changed file goes again
    }

    /** A logged artifact ({@link Artifacts#stage}): an ArtifactRecord, and sent by either sender. */
    synchronized void addArtifact(JsonObject artifact) throws IOException {
        log.write(WandbProto.record("artifact", WandbRecords.artifact(artifact, run)));
        artifacts.add(artifact);
    }

    /** The artifacts neither committed nor refused by the server. */
    synchronized List<JsonObject> pendingArtifacts() {
        return artifacts.stream().filter(a -> !artifactsDone.containsKey(a.get("client_id").getAsString())).toList();
    }

    /** The server's last word on an artifact: "committed", or "refused: why". */
    synchronized void artifactDone(JsonObject artifact, String outcome) throws IOException {
        artifactsDone.put(artifact.get("client_id").getAsString(), outcome);
        saveState();
    }

    /** "name: why" for each artifact the server refused. */
    synchronized List<String> refusedArtifacts() {
        List<String> out = new ArrayList<>();
        for (JsonObject a : artifacts) {
            String o = artifactsDone.get(a.get("client_id").getAsString());
            if (o != null && o.startsWith("refused")) out.add(a.get("name").getAsString() + ": " + o.substring("refused: ".length()));
        }
        return out;
    }

    /** A line of the run's console output (OutputRawRecord; output.log). */
    synchronized void output(String line, boolean stderr) throws IOException {
        if (log == null || exitCode != null) return; // nothing after the exit record
        long now = System.currentTimeMillis();
        log.write(WandbProto.record("output_raw", WandbProto.msg("OutputRawRecord").set("output_type", stderr ? 0 : 1)
                .set("timestamp", WandbProto.timestamp(now)).set("line", line + "\n")));
        output.add(line);
        Files.writeString(dir.resolve(FILES).resolve(OUTPUT), line + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                StandardOpenOption.APPEND);
    }

    /** One sample of system metrics (StatsRecord; a wandb-events.jsonl line with _timestamp and _runtime). */
    synchronized void stats(Map<String, Double> values, double runtime) throws IOException {
        if (log == null || exitCode != null) return; // nothing after the exit record
        long now = System.currentTimeMillis();
        WandbProto.Msg m = WandbProto.msg("StatsRecord").set("stats_type", 0).set("timestamp", WandbProto.timestamp(now));
        JsonObject line = new JsonObject();
        values.forEach((k, v) -> {
            m.add("item", WandbProto.item("StatsItem", k, WandbHttp.GSON.toJson(v)));
            line.addProperty("system." + k, v);
        });
        line.addProperty("_timestamp", now / 1000.0);
        line.addProperty("_runtime", runtime);
        log.write(WandbProto.record("stats", m));
        events.add(WandbHttp.GSON.toJson(line));
    }

    /** The run's end: the full summary (SummaryRecord), then the exit (RunExitRecord) and FinalRecord. */
    synchronized void setExit(int code, double runtime) throws IOException {
        exitCode = code;
        writeSummaryRecord();
        log.write(WandbProto.record("exit", WandbProto.msg("RunExitRecord").set("exit_code", code).set("runtime", (int) runtime)));
        log.write(WandbProto.record("final", WandbProto.msg("FinalRecord")));
    }

    /** A SummaryRecord with every key whose value changed since the last one. */
    synchronized void writeSummaryRecord() throws IOException {
        if (log == null) return;
        String now = WandbHttp.GSON.toJson(summary);
        if (now.equals(summaryWritten)) return;
        log.write(WandbProto.record("summary", WandbRecords.summary(summary)));
        summaryWritten = now;
    }

    synchronized Integer exitCode() {
        return exitCode;
    }

    synchronized int size() {
        return lines.size();
    }

    synchronized List<String> lines(long from, int max, long maxBytes) {
        return slice(lines, from, max, maxBytes);
    }

    synchronized List<String> outputLines(long from, int max, long maxBytes) {
        return slice(output, from, max, maxBytes);
    }

    synchronized List<String> eventLines(long from, int max, long maxBytes) {
        return slice(events, from, max, maxBytes);
    }

    synchronized int outputSize() {
        return output.size();
    }

    synchronized int eventsSize() {
        return events.size();
    }

    private static List<String> slice(List<String> all, long from, int max, long maxBytes) {
        List<String> out = new ArrayList<>();
        long bytes = 0;
        for (long i = from; i < all.size() && out.size() < max; i++) {
            String l = all.get((int) i);
            if (!out.isEmpty() && bytes + l.length() > maxBytes) break;
            bytes += l.length();
            out.add(l);
        }
        return out;
    }

    /** The summary line, with _wandb.runtime = whole seconds. */
    synchronized String summaryLine() {
        JsonObject s = summary.deepCopy();
        JsonObject w = new JsonObject();
        JsonElement rt = s.get("_runtime");
        w.addProperty("runtime", rt != null && rt.isJsonPrimitive() ? (long) rt.getAsDouble() : 0L);
        s.add("_wandb", w);
        return WandbHttp.GSON.toJson(s);
    }

    synchronized JsonObject summary() {
        return summary.deepCopy();
    }

    /** Writes files/wandb-summary.json (the sender does, not the training thread) and a SummaryRecord when it changed. */
    void saveSummary() throws IOException {
        writeAtomically(dir.resolve(FILES).resolve(SUMMARY), summaryLine());
        synchronized (this) {
            if (exitCode == null) writeSummaryRecord();
        }
    }

    synchronized List<String> pendingFiles() {
        List<String> p = new ArrayList<>(files);
        p.removeAll(uploaded);
        return p;
    }

    Path file(String rel) {
        return dir.resolve(FILES).resolve(rel);
    }

    synchronized long acked() {
        return acked;
    }

    synchronized long outputAcked() {
        return outputAcked;
    }

    synchronized long eventsAcked() {
        return eventsAcked;
    }

    synchronized Set<String> uploaded() {
        return new LinkedHashSet<>(uploaded);
    }

    synchronized boolean completeAcked() {
        return completeAcked;
    }

    synchronized String entity() {
        return entity;
    }

    synchronized String project() {
        return project;
    }

    synchronized String storageId() {
        return storageId;
    }

    synchronized void setServerRun(String entity, String project, String storageId) throws IOException {
        this.entity = entity;
        this.project = project;
        this.storageId = storageId;
        saveState();
    }

    /** Records what one file_stream POST got acknowledged. */
    synchronized void ack(long historyAcked, long outputTo, long eventsTo, List<String> announced, boolean complete) throws IOException {
        acked = Math.max(acked, historyAcked);
        outputAcked = Math.max(outputAcked, outputTo);
        eventsAcked = Math.max(eventsAcked, eventsTo);
        uploaded.addAll(announced);
        completeAcked |= complete;
        saveState();
        if (synced() && exitCode != null && log == null) markSynced();
    }

    /** {@code run-{id}.wandb.synced}, the official client's mark of a synced run (so {@code wandb sync} skips it). */
    private void markSynced() {
        Path f = logFile(dir);
        if (f == null) return;
        try {
            Files.writeString(f.resolveSibling(f.getFileName() + SYNCED_SUFFIX), "");
        } catch (IOException ignored) {
            // only a hint for the official CLI
        }
    }

    /** Everything there is has been acknowledged (the run's completion too when it has ended). */
    synchronized boolean synced() {
        return acked == lines.size() && outputAcked == output.size() && eventsAcked == events.size() && uploaded.containsAll(files)
                && pendingArtifacts().isEmpty() && (exitCode == null || completeAcked);
    }

    synchronized void saveState() throws IOException {
        JsonObject st = new JsonObject();
        st.addProperty("history_acked", acked);
        st.addProperty("history_lines", lines.size());
        st.addProperty("output_acked", outputAcked);
        st.addProperty("events_acked", eventsAcked);
        JsonArray up = new JsonArray();
        uploaded.forEach(up::add);
        st.add("uploaded", up);
        st.add("artifacts", WandbHttp.GSON.toJsonTree(artifactsDone));
        st.addProperty("complete_acked", completeAcked);
        st.addProperty("entity", entity);
        st.addProperty("project", project);
        st.addProperty("storage_id", storageId);
        st.addProperty("history_offset", offset0);
        st.addProperty("history_offset_min", offsetMin());
        for (String k : List.of("output_offset", "events_offset")) if (run.has(k)) st.add(k, run.get(k));
        writeAtomically(dir.resolve(STATE), WandbHttp.GSON.toJson(st));
    }

    /** A line for logs/debug.log. */
    void debug(String line) {
        try {
            Files.writeString(dir.resolve(LOGS).resolve("debug.log"), java.time.Instant.now() + " " + line + "\n", StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException ignored) {
            // a log line is never worth failing for
        }
    }

    void close() {
        try {
            synchronized (this) {
                if (log != null) log.close();
            }
        } catch (IOException ignored) {
            // nothing more to write
        }
    }

    static void writeAtomically(Path file, String text) throws IOException {
        Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
        Files.writeString(tmp, text, StandardCharsets.UTF_8);
        try {
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static String str(JsonObject o, String k) {
        JsonElement e = o.get(k);
        return e == null || e.isJsonNull() ? null : e.getAsString();
    }
}
