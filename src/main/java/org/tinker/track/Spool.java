package org.tinker.track;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * A run's local record, written before anything is sent, and the source both the online sender and
 * {@code wandb-sync} send from:
 * <pre>
 *   run.json              base URL, the UpsertBucket variables, first history offset and step
 *   wandb-history.jsonl   one line per history row, exactly as POSTed
 *   wandb-summary.json    the full summary line
 *   files/...             run files (media/images/*.png), run-relative paths
 *   exit.json             {"exitcode": N} once the run has ended
 *   sync-state.json       what the server acknowledged: rows, files, completion, entity/project
 * </pre>
 * History lines are kept in memory too; the spool is thread-safe (training thread appends, sender reads).
 */
final class Spool {
    static final String RUN = "run.json", HISTORY = "wandb-history.jsonl", SUMMARY = "wandb-summary.json", EXIT = "exit.json",
            STATE = "sync-state.json", FILES = "files";

    final Path dir;
    final JsonObject run;
    private final List<String> lines = new ArrayList<>();
    private final BufferedWriter history;
    private JsonObject summary;
    private final Set<String> files = new LinkedHashSet<>();
    private Integer exitCode;
    /** Acknowledged: rows of this spool, files announced, complete, and where the run lives on the server. */
    private long acked;
    private final Set<String> uploaded = new LinkedHashSet<>();
    private boolean completeAcked;
    private String entity, project, storageId;

    private Spool(Path dir, JsonObject run, boolean append) throws IOException {
        this.dir = dir;
        this.run = run;
        this.summary = run.has("summary") ? run.getAsJsonObject("summary").deepCopy() : new JsonObject();
        history = Files.newBufferedWriter(dir.resolve(HISTORY), StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE);
    }

    /** A new spool folder with its run.json. */
    static Spool create(Path dir, JsonObject run) throws IOException {
        Files.createDirectories(dir.resolve(FILES));
        writeAtomically(dir.resolve(RUN), WandbHttp.GSON.toJson(run));
        Spool s = new Spool(dir, run, false);
        s.saveState();
        return s;
    }

    /** Reads a spool written earlier (by this or another process). */
    static Spool open(Path dir) throws IOException {
        if (!Files.isRegularFile(dir.resolve(RUN))) throw new IOException(dir + ": not a W&B spool folder (no " + RUN + ")");
        JsonObject run = JsonParser.parseString(Files.readString(dir.resolve(RUN))).getAsJsonObject();
        List<String> old = Files.isRegularFile(dir.resolve(HISTORY)) ? Files.readAllLines(dir.resolve(HISTORY), StandardCharsets.UTF_8)
                : List.of();
        Spool s = new Spool(dir, run, true);
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
        if (Files.isRegularFile(dir.resolve(EXIT)))
            s.exitCode = JsonParser.parseString(Files.readString(dir.resolve(EXIT))).getAsJsonObject().get("exitcode").getAsInt();
        if (Files.isRegularFile(dir.resolve(STATE))) {
            JsonObject st = JsonParser.parseString(Files.readString(dir.resolve(STATE))).getAsJsonObject();
            s.acked = Math.min(st.get("history_acked").getAsLong(), s.lines.size());
            st.getAsJsonArray("uploaded").forEach(e -> s.uploaded.add(e.getAsString()));
            s.completeAcked = st.get("complete_acked").getAsBoolean();
            s.entity = str(st, "entity");
            s.project = str(st, "project");
            s.storageId = str(st, "storage_id");
        }
        return s;
    }

    String runId() {
        return run.getAsJsonObject("variables").get("name").getAsString();
    }

    long offset0() {
        return run.get("history_offset").getAsLong();
    }

    /** Appends a history row (the summary takes its values). Called on the training thread. */
    synchronized void append(JsonObject row) throws IOException {
        String line = WandbHttp.GSON.toJson(row);
        for (Map.Entry<String, JsonElement> e : row.entrySet()) summary.add(e.getKey(), e.getValue());
        lines.add(line);
        history.write(line);
        history.write('\n');
        history.flush();
    }

    synchronized void setSummary(String key, JsonElement value) {
        summary.add(key, value);
    }

    /** Copies a file into files/ under a run-relative path. */
    synchronized void addFile(String relPath, Path source) throws IOException {
        Path to = dir.resolve(FILES).resolve(relPath);
        Files.createDirectories(to.getParent());
        Files.copy(source, to, StandardCopyOption.REPLACE_EXISTING);
        files.add(relPath);
    }

    synchronized void setExit(int code) throws IOException {
        exitCode = code;
        JsonObject o = new JsonObject();
        o.addProperty("exitcode", code);
        writeAtomically(dir.resolve(EXIT), WandbHttp.GSON.toJson(o));
    }

    synchronized Integer exitCode() {
        return exitCode;
    }

    synchronized int size() {
        return lines.size();
    }

    synchronized List<String> lines(long from, int max, long maxBytes) {
        List<String> out = new ArrayList<>();
        long bytes = 0;
        for (long i = from; i < lines.size() && out.size() < max; i++) {
            String l = lines.get((int) i);
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

    /** Writes wandb-summary.json (the sender does, not the training thread). */
    void saveSummary() throws IOException {
        writeAtomically(dir.resolve(SUMMARY), summaryLine());
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
    synchronized void ack(long historyAcked, List<String> announced, boolean complete) throws IOException {
        acked = Math.max(acked, historyAcked);
        uploaded.addAll(announced);
        completeAcked |= complete;
        saveState();
    }

    /** Everything there is has been acknowledged (the run's completion too when it has ended). */
    synchronized boolean synced() {
        return acked == lines.size() && uploaded.containsAll(files) && (exitCode == null || completeAcked);
    }

    synchronized void saveState() throws IOException {
        JsonObject st = new JsonObject();
        st.addProperty("history_acked", acked);
        st.addProperty("history_lines", lines.size());
        JsonArray up = new JsonArray();
        uploaded.forEach(up::add);
        st.add("uploaded", up);
        st.addProperty("complete_acked", completeAcked);
        st.addProperty("entity", entity);
        st.addProperty("project", project);
        st.addProperty("storage_id", storageId);
        writeAtomically(dir.resolve(STATE), WandbHttp.GSON.toJson(st));
    }

    void close() {
        try {
            synchronized (this) {
                history.close();
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
