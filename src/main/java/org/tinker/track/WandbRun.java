package org.tinker.track;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.tinker.config.ConfigError;

/**
 * One W&B run. Rows go to the run's spool on the calling thread (a JSON line appended to a file); a
 * background thread sends them: UpsertBucket, then file_stream POSTs at most one per batch interval, a
 * heartbeat when idle, files, and {@code complete}/{@code exitcode} at {@link #finish}. Nothing here throws
 * into training: W&B trouble prints one warning and the run goes on offline (its spool can be sent later
 * with {@code runner wandb-sync}).
 */
public final class WandbRun {
    /** Thrown into training (by {@link WandbListener}) when the run was stopped from the W&B UI. */
    public static final class Stopped extends RuntimeException {
        public Stopped(String m) {
            super(m);
        }
    }

    /**
     * What a run is started with.
     *
     * @param project W&B project (WANDB_PROJECT, when set, takes precedence)
     * @param displayName the run's name in the UI; null lets the server choose (WANDB_NAME takes precedence)
     * @param config the flattened config
     * @param previousSpool the spool of an earlier process of the same run (resume), or null
     * @param group the run's group (a grid launch; WANDB_RUN_GROUP takes precedence), or null
     * @param jobType the run's job type ("train")
     * @param tags tags (WANDB_TAGS are added)
     * @param rewindTo for a resumed run: rewind it to this {@code _step} (the checkpoint's last row), so that
     *        the rows the interrupted process logged after its checkpoint are replaced, not logged twice; or null
     */
    public record Init(String project, String displayName, Map<String, Object> config, Path previousSpool, String group, String jobType,
                       List<String> tags, Long rewindTo) {
        public Init(String project, String displayName, Map<String, Object> config, Path previousSpool) {
            this(project, displayName, config, previousSpool, null, "train", List.of(), null);
        }
    }

    private static final DateTimeFormatter DIR_TIME = DateTimeFormatter.ofPattern("yyyyMMdd_HHmmss");

    private final WandbSettings settings;
    private final PrintStream out;
    private final Spool spool;
    private final String id;
    private final boolean online;
    private final WandbHttp http;
    private final Sender sender;
    private final Thread thread;
    private final CountDownLatch started = new CountDownLatch(1);
    private final Object lock = new Object();
    private final long t0 = System.nanoTime();
    private final double runtimeOffset;
    private long step;
    private final Set<String> carryKeys = new LinkedHashSet<>();
    private final Map<String, JsonElement> carried = new LinkedHashMap<>();
    private volatile boolean finishing, aborted, offlineNow;
    private volatile long finishDeadline = Long.MAX_VALUE;
    private boolean finished, warned, urlPrinted;
    private Thread hook;
    /** {@code wandb/wandb-resume.json}: the run WANDB_RESUME=auto resumes; removed when the run finishes cleanly. */
    static final String RESUME_FILE = "wandb-resume.json";
    private Path resumeFile;

    private WandbRun(WandbSettings s, PrintStream out, Spool spool, long startStep, double runtimeOffset) {
        this.settings = s;
        this.out = out;
        this.spool = spool;
        this.id = spool == null ? null : spool.runId();
        this.step = startStep;
        this.runtimeOffset = runtimeOffset;
        this.online = spool != null && s.mode() == WandbSettings.Mode.ONLINE;
        this.http = online ? new WandbHttp(s.baseUrl(), s.apiKey(), s.timing()) : null;
        this.sender = online ? new Sender(http, spool, this::stopping) : null;
        this.thread = online ? new Thread(this::loop, "wandb-sender-" + id) : null;
        if (thread != null) thread.setDaemon(true);
    }

    /** A run that does nothing (mode disabled: no request, no file). */
    public static WandbRun disabled() {
        return new WandbRun(null, null, null, 0, 0);
    }

    /**
     * Starts a run: resolves resume, writes the spool, and (online) starts sending; waits at most the
     * init wait for the server before returning, so a slow server never holds training up for long.
     *
     * @throws ConfigError only for a resume the user asked for that cannot be (WANDB_RESUME=must/never)
     */
    public static WandbRun start(WandbSettings s, Init init, PrintStream out) {
        if (s.mode() == WandbSettings.Mode.DISABLED) return disabled();
        if (s.keyMissing()) out.println(s.missingKeyHint());
        Path resumeFile = s.dir().resolve("wandb").resolve(RESUME_FILE);
        if ("auto".equals(s.resume()) && s.runId() == null) {
            // as the official client: resume the run that the last process in this folder did not finish, else a new one
            String last = null;
            try {
                if (Files.isRegularFile(resumeFile)) last = JsonParser.parseString(Files.readString(resumeFile)).getAsJsonObject().get("run_id").getAsString();
            } catch (IOException | RuntimeException e) {
                out.println("W&B: " + resumeFile + " is unreadable (" + e.getMessage() + "); starting a new run");
            }
            s = last != null ? s.withRun(last, "allow") : s.withRun(newId(), null);
        }
        String id = s.runId() != null ? s.runId() : newId();
        String project = s.project() != null ? s.project() : init.project();
        long offset = 0, startStep = 0, outputOffset = 0, eventsOffset = 0;
        double runtime = 0;
        JsonObject summary = new JsonObject();
        Map<String, JsonElement> serverConfig = new LinkedHashMap<>();
        List<String> serverTags = new ArrayList<>();
        String storageId = null, serverNotes = null;
        // local knowledge of earlier processes of this run
        if (init.previousSpool() != null) {
            try {
                Spool prev = Spool.open(init.previousSpool());
                prev.close();
                offset = (prev.offset0() != null ? prev.offset0() : prev.offsetMin()) + prev.size();
                JsonObject sum = prev.summary();
                summary = sum;
                if (sum.has("_step")) startStep = sum.get("_step").getAsLong() + 1;
                else startStep = prev.run.get("start_step").getAsLong();
                if (sum.has("_runtime")) runtime = sum.get("_runtime").getAsDouble();
            } catch (IOException | RuntimeException e) {
                out.println("W&B: cannot read the earlier spool " + init.previousSpool() + " (" + e.getMessage() + "); continuing");
            }
        }
        String entity = s.entity();
        if (s.resume() != null && s.mode() == WandbSettings.Mode.ONLINE) {
            WandbHttp http = new WandbHttp(s.baseUrl(), s.apiKey(), s.timing());
            long deadline = System.nanoTime() + s.timing().initWait().toNanos();
            JsonObject bucket = null;
            boolean known = false;
            try {
                bucket = Sender.resumeStatus(http, project, entity, id, () -> System.nanoTime() > deadline);
                known = true;
            } catch (WandbHttp.Failure f) {
                out.println("W&B: cannot ask the server about run " + id + " (" + f.getMessage() + "); resuming from local records");
            }
            if (known && bucket == null && s.resume().equals("must"))
                throw new ConfigError("WANDB_RESUME=must: run " + id + " does not exist in project " + project);
            if (known && bucket != null && s.resume().equals("never"))
                throw new ConfigError("WANDB_RESUME=never: run " + id + " already exists in project " + project
                        + " (unset WANDB_RUN_ID or choose another id)");
            if (bucket != null) {
                offset = Math.max(offset, longOr(bucket, "historyLineCount", 0));
                outputOffset = longOr(bucket, "logLineCount", 0);
                if (bucket.has("id") && !bucket.get("id").isJsonNull()) storageId = bucket.get("id").getAsString(); // sent on the upsert
                if (bucket.has("notes") && !bucket.get("notes").isJsonNull()) serverNotes = bucket.get("notes").getAsString();
                if (bucket.has("tags") && bucket.get("tags").isJsonArray()) bucket.getAsJsonArray("tags").forEach(t -> serverTags.add(t.getAsString()));
                eventsOffset = longOr(bucket, "eventsLineCount", 0);
                JsonElement tail = bucket.get("historyTail");
                try {
                    if (tail != null && tail.isJsonPrimitive()) {
                        JsonArray rows = JsonParser.parseString(tail.getAsString()).getAsJsonArray();
                        if (!rows.isEmpty()) {
                            JsonObject last = JsonParser.parseString(rows.get(rows.size() - 1).getAsString()).getAsJsonObject();
                            if (last.has("_step")) startStep = Math.max(startStep, last.get("_step").getAsLong() + 1);
                            if (last.has("_runtime")) runtime = Math.max(runtime, last.get("_runtime").getAsDouble());
                        }
                    }
                    JsonElement cfg = bucket.get("config");
                    if (cfg != null && cfg.isJsonPrimitive()) // the server's config, merged under this process's
                        for (Map.Entry<String, JsonElement> e : JsonParser.parseString(cfg.getAsString()).getAsJsonObject().entrySet())
                            if (!e.getKey().equals("_wandb") && e.getValue().isJsonObject() && e.getValue().getAsJsonObject().has("value"))
                                serverConfig.put(e.getKey(), e.getValue().getAsJsonObject().get("value"));
                    JsonElement sm = bucket.get("summaryMetrics");
                    if (sm != null && sm.isJsonPrimitive()) {
                        JsonObject server = JsonParser.parseString(sm.getAsString()).getAsJsonObject();
                        for (Map.Entry<String, JsonElement> e : server.entrySet()) if (!summary.has(e.getKey())) summary.add(e.getKey(), e.getValue());
                    }
                } catch (RuntimeException e) {
                    out.println("W&B: the server's record of run " + id + " is unreadable (" + e.getMessage() + "); continuing");
                }
                if (offset > 0 && startStep == 0) startStep = offset;
            }
        }
        summary.remove("_wandb");
        JsonObject run = new JsonObject();
        run.addProperty("base_url", s.baseUrl());
        run.addProperty("mode", s.mode().name().toLowerCase());
        JsonObject vars = variables(s, id, project, init, serverConfig, serverTags, serverNotes);
        run.add("variables", vars);
        if (storageId != null) run.addProperty("storage_id", storageId);
        if (init.rewindTo() != null && s.resume() != null) {
            // rewind (the official resume_from): the server drops the rows after the checkpoint's step, this process logs them again
            JsonObject bp = new JsonObject();
            bp.addProperty("run", id);
            bp.addProperty("metric", "_step");
            bp.addProperty("value", (double) init.rewindTo());
            run.add("branch_point", bp);
            startStep = init.rewindTo() + 1;
            offset = 0; // the rewind's answer says where the rows go
        }
        run.addProperty("history_offset_min", offset);
        run.addProperty("output_offset", outputOffset);
        run.addProperty("events_offset", eventsOffset);
        run.addProperty("resumed", s.resume() != null && (offset > 0 || startStep > 0));
        run.addProperty("start_step", startStep);
        run.addProperty("runtime_offset", runtime);
        run.addProperty("start_time", System.currentTimeMillis() / 1000.0);
        run.add("summary", summary);
        String kind = s.mode() == WandbSettings.Mode.ONLINE ? "run" : "offline-run";
        Path root = s.dir().resolve("wandb");
        Path dir = root.resolve(kind + "-" + LocalDateTime.now().format(DIR_TIME) + "-" + id);
        for (int k = 2; Files.exists(dir); k++) dir = root.resolve(kind + "-" + LocalDateTime.now().format(DIR_TIME) + "-" + id + "-" + k);
        Spool spool;
        try {
            spool = Spool.create(dir, run);
        } catch (IOException e) {
            out.println("W&B: cannot write the spool " + dir + " (" + e.getMessage() + "); this run is not tracked");
            return disabled();
        }
        WandbRun r = new WandbRun(s, out, spool, startStep, runtime);
        if ("auto".equals(s.resume()) || Files.isRegularFile(resumeFile)) {
            try {
                JsonObject o = new JsonObject();
                o.addProperty("run_id", id);
                Spool.writeAtomically(resumeFile, WandbHttp.GSON.toJson(o));
                r.resumeFile = resumeFile;
            } catch (IOException e) {
                out.println("W&B: cannot write " + resumeFile + " (" + e.getMessage() + ")");
            }
        }
        RunFiles.write(spool);
        r.begin();
        return r;
    }

    private static JsonObject variables(WandbSettings s, String id, String project, Init init, Map<String, JsonElement> serverConfig,
                                        List<String> serverTags, String serverNotes) {
        Map<String, JsonElement> config = new LinkedHashMap<>(serverConfig);
        init.config().forEach((k, v) -> config.put(k, WandbHttp.GSON.toJsonTree(v)));
        JsonObject v = new JsonObject();
        v.addProperty("name", id);
        v.addProperty("project", project);
        v.addProperty("entity", s.entity());
        v.addProperty("displayName", s.name() != null ? s.name() : init.displayName());
        v.addProperty("notes", s.notes() != null ? s.notes() : serverNotes);
        Set<String> tags = new LinkedHashSet<>(serverTags);
        tags.addAll(init.tags());
        tags.addAll(s.tags());
        if (!tags.isEmpty()) v.add("tags", WandbHttp.GSON.toJsonTree(tags));
        v.addProperty("groupName", s.group() != null ? s.group() : init.group());
        v.addProperty("config", WandbRecords.configJson(config));
        v.addProperty("jobType", init.jobType() != null ? init.jobType() : "train");
        v.addProperty("host", host());
        v.addProperty("program", "tinker");
        return v;
    }

    /** System metrics every {@link #STATS_EVERY_MS} (StatsRecords; wandb-events.jsonl). */
    static final long STATS_EVERY_MS = 15_000;
    private ScheduledExecutorService stats;

    private void begin() {
        stats = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "wandb-stats-" + id);
            t.setDaemon(true);
            return t;
        });
        stats.scheduleAtFixedRate(() -> {
            try {
                spool.stats(RunFiles.systemMetrics(), runtimeOffset + (System.nanoTime() - t0) / 1e9);
            } catch (IOException | RuntimeException e) {
                spool.debug("system metrics: " + e);
            }
        }, STATS_EVERY_MS, STATS_EVERY_MS, TimeUnit.MILLISECONDS);
        if (online) {
            thread.start();
            try {
                started.await(settings.timing().initWait().toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            synchronized (lock) {
                if (sender.upserted()) printUrl();
                else if (!offlineNow) out.println("W&B: run " + id + ": the server at " + settings.baseUrl()
                        + " has not answered yet; rows are kept in " + spool.dir + " and sent when it does");
            }
        } else {
            out.println("W&B: offline run " + id + " → " + spool.dir + " (send it later with: runner wandb-sync " + spool.dir + ")");
        }
        hook = new Thread(() -> finish(255), "wandb-finish-" + id);
        try {
            Runtime.getRuntime().addShutdownHook(hook);
        } catch (IllegalStateException ignored) {
            hook = null; // already shutting down
        }
    }

    private void printUrl() {
        if (urlPrinted) return;
        urlPrinted = true;
        out.println("W&B: " + url() + "  (spool " + spool.dir + ")");
    }

    // ------------------------------------------------------------------ API

    public boolean enabled() {
        return spool != null;
    }

    /** The run id (the last part of its URL); null when disabled. */
    public String id() {
        return id;
    }

    /** The project, as the server named it once it answered. */
    public String project() {
        return spool == null ? null : spool.project() != null ? spool.project() : spool.run.getAsJsonObject("variables").get("project").getAsString();
    }

    /** How long {@link #finish} keeps sending what is unsent. */
    Duration finishWait() {
        return settings.timing().finishWaitOrDefault();
    }

    /** The run's local folder (package-private, for the system-metrics sampler's tests). */
    Spool spool() {
        return spool;
    }

    public Path spoolDir() {
        return spool == null ? null : spool.dir;
    }

    /** The run's web page once the server has told its entity; else null. */
    public String url() {
        return spool == null || spool.entity() == null ? null : settings.runUrl(spool.entity(), spool.project(), id);
    }

    /** The server asked this run to stop ("stopped": true, the UI's stop button). */
    public boolean stopRequested() {
        return sender != null && sender.stopRequested();
    }

    /** Every later row without these keys gets their last logged value (e.g. n_train_samples as x-axis). */
    public void carry(String... keys) {
        synchronized (lock) {
            carryKeys.addAll(List.of(keys));
        }
    }

    /** The next row's {@code _step}. */
    public long step() {
        synchronized (lock) {
            return step;
        }
    }

    /** Logs one history row: numbers, strings, booleans, nested maps, JsonElements. */
    public void log(Map<String, ?> values) {
        log(values, -1);
    }

    /**
     * Logs one history row at {@code _step = max(atStep, next step)}: the training loop's step numbers (which may
     * skip) keep a resumed run's rows where a rewind to its checkpoint's step expects them.
     */
    public void log(Map<String, ?> values, long atStep) {
        if (spool == null) return;
        synchronized (lock) {
            if (finished) return;
            step = Math.max(step, atStep);
            JsonObject row = new JsonObject();
            values.forEach((k, v) -> row.add(k, v instanceof JsonElement j ? j : WandbHttp.GSON.toJsonTree(v)));
            for (String k : carryKeys) {
                if (row.has(k)) carried.put(k, row.get(k));
                else if (carried.containsKey(k)) row.add(k, carried.get(k));
            }
            row.addProperty("_step", step);
            row.addProperty("_runtime", runtimeOffset + (System.nanoTime() - t0) / 1e9);
            row.addProperty("_timestamp", System.currentTimeMillis() / 1000.0);
            try {
                spool.append(row);
                step++;
            } catch (IOException e) {
                warn("cannot append to " + spool.dir + " (" + e.getMessage() + "); later rows are not tracked");
                finished = true;
            }
        }
    }

    /** Sets a summary value without a history row (e.g. best_val_loss). */
    public void summary(String key, Object value) {
        if (spool == null) return;
        spool.setSummary(key, value instanceof JsonElement j ? j : WandbHttp.GSON.toJsonTree(value));
    }

    /** A line of the run's console (output.log: the run page's Logs tab). */
    public void output(String line) {
        if (spool == null) return;
        try {
            spool.output(line, false);
        } catch (IOException e) {
            warn("cannot record a console line in " + spool.dir + ": " + e.getMessage());
        }
    }

    /**
     * Logs a PNG (e.g. a saved metric plot) as an image in its own history row under {@code key}: the file
     * is copied into the spool as {@code media/images/{key}_{step}_{sha256[:20]}.png}, uploaded, and the row
     * holds an {@code image-file} value pointing at it. Returns false (with a warning) when the file is not
     * a readable PNG.
     */
    public boolean logImage(String key, Path png) {
        if (spool == null) return false;
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(png);
        } catch (IOException e) {
            warn("cannot read image " + png + " (" + e.getMessage() + ")");
            return false;
        }
        if (bytes.length < 24 || (bytes[0] & 0xff) != 0x89 || bytes[1] != 'P' || bytes[2] != 'N' || bytes[3] != 'G'
                || bytes[12] != 'I' || bytes[13] != 'H' || bytes[14] != 'D' || bytes[15] != 'R') {
            warn(png + " is not a PNG; not logged");
            return false;
        }
        String sha;
        try {
            sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        synchronized (lock) {
            if (finished) return false;
            String rel = "media/images/" + key.replaceAll("[^A-Za-z0-9_.-]", "_") + "_" + step + "_" + sha.substring(0, 20) + ".png";
            try {
                spool.addFile(rel, png);
            } catch (IOException e) {
                warn("cannot copy " + png + " into " + spool.dir + " (" + e.getMessage() + ")");
                return false;
            }
            JsonObject img = new JsonObject();
            img.addProperty("_type", "image-file");
            img.addProperty("path", rel);
            img.addProperty("sha256", sha);
            img.addProperty("size", bytes.length);
            img.addProperty("format", "png");
            img.addProperty("width", be32(bytes, 16));
            img.addProperty("height", be32(bytes, 20));
            log(Map.of(key, img));
        }
        return true;
    }

    /**
     * Logs the files under {@code folder} as a new version of artifact {@code name} (e.g. a checkpoint as type
     * {@code model}), produced by this run, with these aliases: the files are hashed and staged (hard links) in the
     * run folder on the calling thread, recorded in the transaction log (so {@code wandb sync} uploads an offline run's
     * artifacts too), and uploaded by the sender. Returns false (with a warning) when the folder cannot be read.
     */
    public boolean logArtifact(String name, String type, Path folder, List<String> aliases, JsonObject metadata) {
        if (spool == null) return false;
        synchronized (lock) {
            if (finished) return false;
            try {
                spool.addArtifact(Artifacts.stage(spool.dir, name, type, folder, aliases, metadata));
            } catch (IOException e) {
                warn("cannot log " + folder + " as artifact " + name + " (" + e.getMessage() + ")");
                return false;
            }
        }
        return true;
    }

    /**
     * Ends the run: 0 = Finished, anything else = Failed (a killed process, with neither, shows Crashed).
     * Waits at most the finish wait for unsent rows; what is left stays in the spool for wandb-sync.
     */
    public void finish(int exitCode) {
        if (spool == null) return;
        if (finishing && hook != null && Thread.currentThread() == hook) { // Ctrl-C while finish() waits for the server
            aborted = true;
            out.println("W&B: interrupted while sending; " + pending() + " left in " + spool.dir + " (send with: runner wandb-sync "
                    + spool.dir + ", or wandb sync " + spool.dir + ")");
            return;
        }
        synchronized (lock) {
            if (finished && exitCodeWritten()) return;
            finished = true;
        }
        if (stats != null) stats.shutdownNow();
        double runtime = runtimeOffset + (System.nanoTime() - t0) / 1e9;
        try {
            // as the official client at its end: a last system-metrics sample (a short run has one at least) and the
            // summary as a run file beside the one file_stream keeps
            spool.stats(RunFiles.systemMetrics(), runtime);
            spool.writeFile(Spool.SUMMARY, spool.summaryLine());
            spool.setExit(exitCode, runtime);
        } catch (IOException e) {
            warn("cannot write the run's end to " + spool.dir + " (" + e.getMessage() + ")");
        }
        if (online && thread.isAlive()) {
            // at Ctrl-C or SIGTERM (the shutdown hook) a second signal cannot cut the wait short: wait 30 s at most there
            long waitNs = finishWait().toNanos();
            if (Thread.currentThread() == hook) waitNs = Math.min(waitNs, 30_000_000_000L);
            finishDeadline = System.nanoTime() + waitNs;
            finishing = true;
            synchronized (lock) {
                lock.notifyAll();
            }
            try {
                // as the official client: keep retrying until delivered, saying every few seconds what is still to go
                long progressMs = Math.min(5000, Math.max(500, settings.timing().batchInterval().toMillis() * 10));
                long end = finishDeadline + 1_000_000_000L;
                for (long wait; thread.isAlive() && (wait = (end - System.nanoTime()) / 1_000_000) > 0; ) {
                    thread.join(Math.min(progressMs, wait));
                    if (thread.isAlive() && !aborted) out.println("W&B: finishing: sending " + pending() + " (up to "
                            + Math.max(0, (finishDeadline - System.nanoTime()) / 1_000_000_000L) + " s more; Ctrl-C leaves the rest in "
                            + spool.dir + " for runner wandb-sync or wandb sync)");
                }
                if (thread.isAlive()) {
                    aborted = true;
                    http.cancel();
                    thread.join(2000);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        try {
            spool.saveSummary();
        } catch (IOException e) {
            warn("cannot write " + spool.file(Spool.SUMMARY) + " (" + e.getMessage() + ")");
        }
        spool.close();
        report();
        if (exitCode == 0 && resumeFile != null) {
            try {
                Files.deleteIfExists(resumeFile);
            } catch (IOException ignored) {
                // a later WANDB_RESUME=auto would resume this finished run: harmless
            }
        }
        if (hook != null && Thread.currentThread() != hook) {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException ignored) {
                // shutting down: the hook runs and finds the run finished
            }
        }
    }

    /** What is still unsent, in words ("17 rows, 1 file and the run's end"). */
    private String pending() {
        long rows = spool.size() - spool.acked();
        int files = spool.pendingFiles().size(), artifacts = spool.pendingArtifacts().size();
        return rows + " rows, " + files + (files == 1 ? " file" : " files") + (artifacts == 0 ? "" : ", " + artifacts
                + (artifacts == 1 ? " artifact" : " artifacts")) + (spool.completeAcked() ? "" : " and the run's end");
    }

    private boolean exitCodeWritten() {
        return spool.exitCode() != null;
    }

    private void report() {
        long total = spool.size();
        if (!online) {
            out.println("W&B: offline run " + id + ": " + total + " rows in " + spool.dir + "; nothing sent (runner wandb-sync " + spool.dir + ")");
            return;
        }
        String where = url() != null ? url() : settings.baseUrl();
        for (String r : spool.refusedArtifacts()) out.println("W&B: the server refused artifact " + r);
        if (spool.synced()) out.println("W&B: sent " + sender.rowsSent() + " rows to " + where + "; nothing unsynced");
        else out.println("W&B: sent " + sender.rowsSent() + " rows to " + where + "; still unsynced: " + pending()
                + " (send with: runner wandb-sync " + spool.dir + ", or wandb sync " + spool.dir + ")");
    }

    /** All rows, files and the end acknowledged by the server. */
    public boolean synced() {
        return spool == null || (online && spool.synced());
    }

    // ------------------------------------------------------------------ sender thread

    private boolean stopping() {
        return aborted || (finishing && System.nanoTime() > finishDeadline);
    }

    private void loop() {
        WandbSettings.Timing t = settings.timing();
        try {
            sender.upsert();
            synchronized (lock) {
                if (started.getCount() == 0) printUrl(); // answered after start-up stopped waiting
            }
            started.countDown();
            long lastPost = System.nanoTime() - t.batchInterval().toNanos();
            while (true) {
                if (finishing) {
                    while (!spool.synced()) {
                        sender.upload();
                        sender.post(true);
                    }
                    return;
                }
                long now = System.nanoTime();
                if (now - lastPost >= t.batchInterval().toNanos() && sender.hasWork()) {
                    sender.upload();
                    sender.post(false);
                    spool.saveSummary();
                    lastPost = System.nanoTime();
                } else if (now - lastPost >= t.heartbeat().toNanos()) {
                    sender.heartbeat();
                    lastPost = System.nanoTime();
                } else {
                    long waitNs = Math.min(lastPost + t.batchInterval().toNanos(), lastPost + t.heartbeat().toNanos()) - now;
                    synchronized (lock) {
                        if (!finishing) lock.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(waitNs)));
                    }
                }
            }
        } catch (WandbHttp.Failure f) {
            if (f.fatal) {
                offlineNow = true;
                warn(f.getMessage() + "; continuing offline (the rows stay in " + spool.dir + "; send them with: runner wandb-sync "
                        + spool.dir + ")");
            }
        } catch (IOException | RuntimeException e) {
            offlineNow = true;
            warn("sending stopped (" + e + "); continuing offline (runner wandb-sync " + spool.dir + " sends the rest)");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            started.countDown();
        }
    }

    private void warn(String m) {
        synchronized (this) {
            if (warned) return;
            warned = true;
        }
        out.println("W&B: " + m);
    }

    // ------------------------------------------------------------------ helpers

    private static final SecureRandom RNG = new SecureRandom();

    /** 8 characters of [a-z0-9], as the official client's run ids. */
    public static String newId() {
        return newId(8);
    }

    /** {@code n} characters of [a-z0-9] (run ids 8; artifact client ids 128). */
    static String newId(int n) {
        String alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < n; i++) b.append(alphabet.charAt(RNG.nextInt(alphabet.length())));
        return b.toString();
    }

    private static String host() {
        String h = System.getenv("HOSTNAME");
        if (h != null && !h.isBlank()) return h;
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return "localhost";
        }
    }

    private static long longOr(JsonObject o, String k, long d) {
        JsonElement e = o.get(k);
        return e == null || e.isJsonNull() ? d : e.getAsLong();
    }

    private static int be32(byte[] b, int at) {
        return ((b[at] & 0xff) << 24) | ((b[at + 1] & 0xff) << 16) | ((b[at + 2] & 0xff) << 8) | (b[at + 3] & 0xff);
    }
}
