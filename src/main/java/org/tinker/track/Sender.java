package org.tinker.track;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import okhttp3.RequestBody;

/**
 * Sends a {@link Spool} to the server: UpsertBucket, file_stream POSTs with explicit offsets from what the
 * server has acknowledged, CreateRunFiles + PUT + {@code uploaded}, logged artifacts (CreateArtifact ...
 * CommitArtifact), and {@code complete}. Shared by the online sender thread and {@code wandb-sync}, so both
 * speak exactly the same protocol.
 */
final class Sender {
    static final String UPSERT_BUCKET = """
            mutation UpsertBucket(
                $id: String, $name: String, $project: String, $entity: String, $groupName: String,
                $description: String, $displayName: String, $notes: String, $commit: String,
                $config: JSONString, $host: String, $debug: Boolean, $program: String, $repo: String,
                $jobType: String, $state: String, $sweep: String, $tags: [String!], $summaryMetrics: JSONString,
            ) {
                upsertBucket(input: {
                    id: $id, name: $name, groupName: $groupName, modelName: $project, entityName: $entity,
                    description: $description, displayName: $displayName, notes: $notes, config: $config,
                    commit: $commit, host: $host, debug: $debug, jobProgram: $program, jobRepo: $repo,
                    jobType: $jobType, state: $state, sweep: $sweep, tags: $tags, summaryMetrics: $summaryMetrics,
                }) {
                    bucket {
                        id name displayName description config sweepName
                        project { id name entity { id name } }
                        historyLineCount
                    }
                    inserted
                }
            }""";

    static final String RUN_RESUME_STATUS = """
            query RunResumeStatus($project: String, $entity: String, $name: String!) {
              model(name: $project, entityName: $entity) { id name entity { id name }
                bucket(name: $name, missingOk: true) { id name summaryMetrics displayName logLineCount
                  historyLineCount eventsLineCount historyTail eventsTail config tags notes wandbConfig(keys: ["t"]) } } }""";

    static final String CREATE_RUN_FILES = """
            mutation CreateRunFiles($entity: String!, $project: String!, $run: String!, $files: [String!]!) {
              createRunFiles(input: {entityName: $entity, projectName: $project, runName: $run, files: $files}) {
                runID uploadHeaders files { name uploadUrl } } }""";

    // artifacts, in the order of wandb-core's ArtifactSaver (core/pkg/artifacts/saver.go), the variables as wandb 0.30.0 sends them
    static final String CREATE_ARTIFACT = """
            mutation CreateArtifact($input: CreateArtifactInput!) {
              createArtifact(input: $input) { artifact { id state artifactSequence { latestArtifact { id } } } } }""";

    static final String CREATE_ARTIFACT_MANIFEST = """
            mutation CreateArtifactManifest($artifactID: ID!, $baseArtifactID: ID, $name: String!, $digest: String!,
                $entityName: String!, $projectName: String!, $runName: String!, $manifestType: ArtifactManifestType!,
                $includeUpload: Boolean!) {
              createArtifactManifest(input: {artifactID: $artifactID, baseArtifactID: $baseArtifactID, name: $name, digest: $digest,
                  entityName: $entityName, projectName: $projectName, runName: $runName, type: $manifestType}) {
                artifactManifest { id file { id uploadUrl @include(if: $includeUpload) uploadHeaders @include(if: $includeUpload) } } } }""";

    static final String CREATE_ARTIFACT_FILES = """
            mutation CreateArtifactFiles($input: CreateArtifactFilesInput!) {
              createArtifactFiles(input: $input) {
                files { edges { node { storagePath uploadUrl uploadHeaders artifact { id } } } } } }""";

    static final String COMMIT_ARTIFACT = """
            mutation CommitArtifact($artifactID: ID!) { commitArtifact(input: {artifactID: $artifactID}) { artifact { id digest } } }""";

    static final int MAX_LINES = 1000;
    static final long MAX_BYTES = 5L << 20;
    /** Longer history lines are dropped by the official client; so are they here (the spool keeps them). */
    static final long MAX_LINE_BYTES = (10L << 20) - (100L << 10);

    final WandbHttp http;
    final Spool spool;
    private final BooleanSupplier stop;
    private final List<String> announce = new ArrayList<>();
    private String summaryAcked;
    /** The logged keys that have their own metric definition in the config sent (see defineMetrics). */
    private final java.util.Set<String> metricKeys = new java.util.LinkedHashSet<>();
    private volatile boolean stopRequested;
    private long rowsSent;

    Sender(WandbHttp http, Spool spool, BooleanSupplier stop) {
        this.http = http;
        this.spool = spool;
        this.stop = stop;
    }

    boolean stopRequested() {
        return stopRequested;
    }

    long rowsSent() {
        return rowsSent;
    }

    boolean upserted() {
        return spool.entity() != null;
    }

    /** UpsertBucket with the spool's variables; entity and project come from the answer. */
    void upsert() throws WandbHttp.Failure, IOException {
        Long rewound = spool.offset0() == null && spool.run.has("branch_point") ? rewind() : null;
        Map<String, Object> vars = new LinkedHashMap<>();
        String storage = spool.storageId() != null ? spool.storageId() : spool.run.has("storage_id") ? spool.run.get("storage_id").getAsString() : null;
        if (storage != null) vars.put("id", storage); // as the official client on resume
        for (Map.Entry<String, JsonElement> e : spool.run.getAsJsonObject("variables").entrySet())
            vars.put(e.getKey(), e.getValue());
        JsonObject data = http.graphql("UpsertBucket", UPSERT_BUCKET, vars, WandbHttp.Policy.UPSERT, stop);
        JsonObject bucket = obj(obj(data, "upsertBucket"), "bucket");
        if (bucket == null) throw new WandbHttp.Failure("UpsertBucket: the answer has no bucket", 200, true);
        JsonObject project = obj(bucket, "project");
        String projectName = project != null && project.has("name") ? project.get("name").getAsString()
                : spool.run.getAsJsonObject("variables").get("project").getAsString();
        JsonObject entity = project == null ? null : obj(project, "entity");
        String entityName = entity != null && entity.has("name") ? entity.get("name").getAsString() : null;
        if (entityName == null) {
            JsonElement e = spool.run.getAsJsonObject("variables").get("entity");
            if (e == null || e.isJsonNull()) throw new WandbHttp.Failure("UpsertBucket: the answer names no entity", 200, true);
            entityName = e.getAsString();
        }
        String id = bucket.has("id") && !bucket.get("id").isJsonNull() ? bucket.get("id").getAsString() : null;
        spool.setServerRun(entityName, projectName, id);
        // as the official client: this folder's rows go after the rows the run already has (its first upsert fixes that)
        JsonElement count = bucket.get("historyLineCount");
        long lines = count != null && count.isJsonPrimitive() ? count.getAsLong() : 0;
        spool.setOffset0(rewound != null ? rewound : Math.max(lines, spool.offsetMin()));
    }

    static final String REWIND_RUN = """
            mutation RewindRun($runName: String!, $entity: String, $project: String, $metricName: String!, $metricValue: Float!) {
              rewindRun(input: {runName: $runName, entityName: $entity, projectName: $project, metricName: $metricName,
                  metricValue: $metricValue}) {
                rewoundRun { id name displayName description config sweepName project { id name entity { id name } } historyLineCount } } }""";

    /**
     * RewindRun to the run record's branch point (a resumed run's checkpoint step): the server drops the rows after
     * it; returns where this folder's rows go, or null when the server does not have the run (nothing to rewind).
     */
    private Long rewind() throws WandbHttp.Failure {
        JsonObject bp = spool.run.getAsJsonObject("branch_point");
        JsonObject v = spool.run.getAsJsonObject("variables");
        Map<String, Object> vars = new LinkedHashMap<>();
        vars.put("runName", spool.runId());
        vars.put("entity", v.get("entity"));
        vars.put("project", v.get("project"));
        vars.put("metricName", bp.get("metric").getAsString());
        vars.put("metricValue", bp.get("value").getAsDouble());
        JsonObject run;
        try {
            run = obj(obj(http.graphql("RewindRun", REWIND_RUN, vars, WandbHttp.Policy.GRAPHQL, stop), "rewindRun"), "rewoundRun");
        } catch (WandbHttp.Failure f) {
            if (f.status != 200) throw f;
            spool.debug("RewindRun refused (" + f.getMessage() + "); the rows go after the run's rows");
            return null; // a GraphQL error (the run does not exist there): nothing to rewind
        }
        if (run == null) return null;
        JsonElement n = run.get("historyLineCount");
        return n != null && n.isJsonPrimitive() ? n.getAsLong() : 0L;
    }

    /** The run's state on the server for resuming it; null when the run does not exist there. */
    static JsonObject resumeStatus(WandbHttp http, String project, String entity, String runId, BooleanSupplier stop)
            throws WandbHttp.Failure {
        Map<String, Object> vars = new LinkedHashMap<>();
        vars.put("project", project);
        vars.put("entity", entity);
        vars.put("name", runId);
        JsonObject data = http.graphql("RunResumeStatus", RUN_RESUME_STATUS, vars, WandbHttp.Policy.GRAPHQL, stop);
        JsonObject bucket = obj(obj(data, "model"), "bucket");
        if (bucket == null) return null;
        JsonElement wc = bucket.get("wandbConfig");
        JsonObject w = null;
        if (wc != null && wc.isJsonPrimitive()) w = JsonParser.parseString(wc.getAsString()).getAsJsonObject();
        else if (wc != null && wc.isJsonObject()) w = wc.getAsJsonObject();
        return w != null && w.has("t") ? bucket : null;
    }

    /** Rows, files or a changed summary wait to be sent. */
    boolean hasWork() {
        return spool.acked() < spool.size() || spool.outputAcked() < spool.outputSize() || spool.eventsAcked() < spool.eventsSize()
                || !spool.pendingFiles().isEmpty() || !announce.isEmpty() || !spool.pendingArtifacts().isEmpty()
                || (spool.size() > 0 && !spool.summaryLine().equals(summaryAcked));
    }

    /**
     * One file_stream POST: the unacknowledged rows (up to 1000 lines / 5 MB) from their offset, the summary
     * if it changed, the files uploaded since, and {@code complete} when asked and nothing else remains.
     * The body is rebuilt on every retry, so rows logged while backing off join it.
     *
     * @return true when {@code complete} went out and was acknowledged
     */
    boolean post(boolean complete) throws WandbHttp.Failure, IOException {
        final long[] sentTo = new long[3];
        final String[] sentSummary = new String[1];
        final List<String> sentFiles = new ArrayList<>();
        final boolean[] sentComplete = new boolean[1];
        final List<List<String>> sentRows = new ArrayList<>(List.of(List.of()));
        String resp = http.fileStream(spool.entity(), spool.project(), spool.runId(), () -> {
            long from = spool.acked();
            List<String> lines = spool.lines(from, MAX_LINES, MAX_BYTES);
            sentRows.set(0, lines);
            JsonObject body = new JsonObject();
            JsonObject files = new JsonObject();
            if (!lines.isEmpty()) {
                JsonObject h = new JsonObject();
                h.addProperty("offset", spool.offset0() + from);
                JsonArray c = new JsonArray();
                for (String l : lines) c.add(l.length() > MAX_LINE_BYTES ? "{}" : l);
                h.add("content", c);
                files.add(Spool.HISTORY, h);
            }
            long outFrom = spool.outputAcked(), evFrom = spool.eventsAcked();
            List<String> out = spool.outputLines(outFrom, MAX_LINES, MAX_BYTES), events = spool.eventLines(evFrom, MAX_LINES, MAX_BYTES);
            if (!out.isEmpty()) files.add(Spool.OUTPUT, chunk(offset(Spool.OUTPUT) + outFrom, out));
            if (!events.isEmpty()) files.add(Spool.EVENTS, chunk(offset(Spool.EVENTS) + evFrom, events));
            sentTo[1] = outFrom + out.size();
            sentTo[2] = evFrom + events.size();
            String summary = spool.summaryLine();
            if (spool.size() > 0 && !summary.equals(summaryAcked)) {
                JsonObject s = new JsonObject();
                s.addProperty("offset", 0);
                JsonArray c = new JsonArray();
                c.add(summary);
                s.add("content", c);
                files.add(Spool.SUMMARY, s);
            }
            if (files.size() > 0) body.add("files", files);
            sentFiles.clear();
            sentFiles.addAll(announce);
            if (!announce.isEmpty()) {
                JsonArray up = new JsonArray();
                announce.forEach(up::add);
                body.add("uploaded", up);
            }
            sentTo[0] = from + lines.size();
            sentSummary[0] = files.has(Spool.SUMMARY) ? summary : summaryAcked;
            sentComplete[0] = complete && sentTo[0] == spool.size() && sentTo[1] == spool.outputSize() && sentTo[2] == spool.eventsSize()
                    && spool.pendingFiles().isEmpty() && spool.pendingArtifacts().isEmpty() && spool.exitCode() != null;
            if (sentComplete[0]) {
                body.addProperty("complete", true);
                body.addProperty("exitcode", spool.exitCode());
            }
            return WandbHttp.GSON.toJson(body);
        }, stop);
        java.util.Set<String> newKeys = newMetricKeys(sentRows.get(0));
        rowsSent += sentTo[0] - spool.acked();
        summaryAcked = sentSummary[0];
        announce.removeAll(sentFiles);
        spool.ack(sentTo[0], sentTo[1], sentTo[2], sentFiles, sentComplete[0]);
        readStopped(resp);
        if (!newKeys.isEmpty()) defineMetrics(newKeys);
        return sentComplete[0];
    }

    /** The keys of these rows that have no metric definition yet (not _step and the like, not the step metric). */
    private java.util.Set<String> newMetricKeys(List<String> rows) {
        java.util.Set<String> out = new java.util.LinkedHashSet<>();
        for (String row : rows) {
            JsonElement e;
            try {
                e = JsonParser.parseString(row);
            } catch (RuntimeException bad) {
                continue;
            }
            if (!e.isJsonObject()) continue;
            for (String k : e.getAsJsonObject().keySet())
                if (!k.startsWith("_") && !k.equals(WandbRecords.STEP_METRIC) && !metricKeys.contains(k)) out.add(k);
        }
        return out;
    }

    /**
     * Sends the config again with a definition for each new key (UpsertBucket of name, project, entity and config), as
     * the official client does when a glob definition meets a new key.
     */
    private void defineMetrics(java.util.Set<String> keys) throws WandbHttp.Failure {
        metricKeys.addAll(keys);
        JsonObject v = spool.run.getAsJsonObject("variables");
        JsonObject config = JsonParser.parseString(v.get("config").getAsString()).getAsJsonObject();
        JsonObject wandb = config.has("_wandb") ? config.getAsJsonObject("_wandb") : new JsonObject();
        JsonObject inner = wandb.has("value") ? wandb.getAsJsonObject("value") : new JsonObject();
        inner.add("m", WandbRecords.metricsConfig(metricKeys));
        wandb.add("value", inner);
        config.add("_wandb", wandb);
        Map<String, Object> vars = new LinkedHashMap<>();
        if (spool.storageId() != null) vars.put("id", spool.storageId());
        vars.put("name", spool.runId());
        vars.put("project", spool.project());
        vars.put("entity", spool.entity());
        vars.put("config", WandbHttp.GSON.toJson(config));
        http.graphql("UpsertBucket", UPSERT_BUCKET, vars, WandbHttp.Policy.UPSERT, stop);
    }

    /** Where a streamed file's line 0 of this folder goes: after what the run had when it was resumed. */
    private long offset(String file) {
        JsonElement o = spool.run.get(file.equals(Spool.OUTPUT) ? "output_offset" : "events_offset");
        return o == null || o.isJsonNull() ? 0 : o.getAsLong();
    }

    private static JsonObject chunk(long offset, List<String> lines) {
        JsonObject o = new JsonObject();
        o.addProperty("offset", offset);
        JsonArray c = new JsonArray();
        lines.forEach(c::add);
        o.add("content", c);
        return o;
    }

    /** An empty POST: the server keeps the run "running". */
    void heartbeat() throws WandbHttp.Failure {
        readStopped(http.fileStream(spool.entity(), spool.project(), spool.runId(), () -> "{}", stop));
    }

    private void readStopped(String resp) {
        try {
            JsonElement e = JsonParser.parseString(resp);
            if (e.isJsonObject() && e.getAsJsonObject().has("stopped") && e.getAsJsonObject().get("stopped").getAsBoolean())
                stopRequested = true;
        } catch (RuntimeException ignored) {
            // an answer that is not JSON says nothing about stopping
        }
    }

    /** Run files, then artifacts: what goes before the rows of a file_stream POST. */
    void upload() throws WandbHttp.Failure, IOException {
        uploadFiles();
        uploadArtifacts();
    }

    /** CreateRunFiles for the files not yet uploaded, then a PUT of each to its signed URL. */
    private void uploadFiles() throws WandbHttp.Failure, IOException {
        List<String> pending = spool.pendingFiles();
        pending.removeAll(announce);
        if (pending.isEmpty()) return;
        Map<String, Object> vars = new LinkedHashMap<>();
        vars.put("entity", spool.entity());
        vars.put("project", spool.project());
        vars.put("run", spool.runId());
        vars.put("files", pending);
        JsonObject crf = obj(http.graphql("CreateRunFiles", CREATE_RUN_FILES, vars, WandbHttp.Policy.GRAPHQL, stop), "createRunFiles");
        if (crf == null || crf.get("runID") == null || crf.get("runID").isJsonNull())
            throw new WandbHttp.Failure("CreateRunFiles: the run does not exist or access is denied", 200, true);
        Map<String, String> headers = headers(crf.get("uploadHeaders"));
        for (JsonElement f : crf.getAsJsonArray("files")) {
            String name = f.getAsJsonObject().get("name").getAsString();
            String url = f.getAsJsonObject().get("uploadUrl").getAsString();
            if (!pending.contains(name)) continue;
            http.upload(url, RequestBody.create(Files.readAllBytes(spool.file(name)), null), headers, stop); // the file may change later
            announce.add(name);
        }
    }

    /**
     * Saves each logged artifact the server has not committed, as wandb-core does: CreateArtifact (the run as its
     * producer, the aliases, digest deduplication: an unchanged version is answered COMMITTED and not sent again),
     * CreateArtifactManifest, CreateArtifactFiles and a PUT of every file the server asks for, the manifest file
     * (CreateArtifactManifest with its digest, then a PUT), CommitArtifact. The server refusing an artifact is noted
     * and the run goes on; the staged files of a committed one are removed.
     */
    private void uploadArtifacts() throws WandbHttp.Failure, IOException {
        for (JsonObject a : spool.pendingArtifacts()) {
            String outcome;
            try {
                outcome = saveArtifact(a);
            } catch (WandbHttp.Failure f) {
                if (!f.fatal) throw f; // retries used up or stopping: try again later
                outcome = "refused: " + f.getMessage();
                spool.debug("artifact " + a.get("name").getAsString() + " " + outcome);
            }
            spool.artifactDone(a, outcome);
            if (outcome.equals("committed")) Artifacts.unstage(spool.dir, a);
        }
    }

    private String saveArtifact(JsonObject a) throws WandbHttp.Failure {
        String name = a.get("name").getAsString();
        Map<String, Object> input = new LinkedHashMap<>();
        input.put("entityName", spool.entity());
        input.put("projectName", spool.project());
        input.put("artifactTypeName", a.get("type").getAsString());
        input.put("artifactCollectionName", name);
        input.put("runName", spool.runId()); // this run is the artifact's producer
        input.put("digest", a.get("digest").getAsString());
        input.put("digestAlgorithm", "MANIFEST_MD5");
        List<Map<String, String>> aliases = new ArrayList<>();
        for (JsonElement al : a.getAsJsonArray("aliases")) aliases.add(Map.of("artifactCollectionName", name, "alias", al.getAsString()));
        input.put("aliases", aliases);
        if (a.has("metadata")) input.put("metadata", a.get("metadata").getAsString());
        input.put("enableDigestDeduplication", true);
        input.put("clientID", a.get("client_id").getAsString());
        input.put("sequenceClientID", a.get("sequence_client_id").getAsString());
        JsonObject created = obj(obj(http.graphql("CreateArtifact", CREATE_ARTIFACT, Map.of("input", input), WandbHttp.Policy.GRAPHQL, stop),
                "createArtifact"), "artifact");
        if (created == null) throw new WandbHttp.Failure("CreateArtifact: the answer has no artifact", 200, true);
        String id = created.get("id").getAsString(), state = created.get("state").getAsString();
        if (state.equals("COMMITTED")) return "committed"; // the same content as an existing version
        if (!state.equals("PENDING") && !state.equals("DELETED")) throw new WandbHttp.Failure("CreateArtifact: state " + state, 200, true);
        JsonObject latest = obj(obj(created, "artifactSequence"), "latestArtifact");
        String base = latest != null ? latest.get("id").getAsString() : null;
        String manifestId = createManifest(id, base, "", false).get("id").getAsString();
        JsonArray contents = a.getAsJsonArray("contents");
        List<Map<String, Object>> specs = new ArrayList<>();
        for (JsonElement e : contents) {
            Map<String, Object> spec = new LinkedHashMap<>();
            spec.put("artifactID", id);
            spec.put("name", Artifacts.path(e));
            spec.put("md5", e.getAsJsonObject().get("digest").getAsString());
            spec.put("artifactManifestID", manifestId);
            specs.add(spec);
        }
        Map<String, Object> filesInput = new LinkedHashMap<>();
        filesInput.put("artifactFiles", specs);
        filesInput.put("storageLayout", Artifacts.STORAGE_LAYOUT);
        JsonObject files = obj(obj(http.graphql("CreateArtifactFiles", CREATE_ARTIFACT_FILES, Map.of("input", filesInput), WandbHttp.Policy.GRAPHQL, stop),
                "createArtifactFiles"), "files");
        JsonArray edges = files == null ? new JsonArray() : files.getAsJsonArray("edges");
        if (edges.size() != contents.size())
            throw new WandbHttp.Failure("CreateArtifactFiles: " + edges.size() + " upload URLs for " + contents.size() + " files", 200, true);
        Map<String, String> birth = new LinkedHashMap<>();
        for (int i = 0; i < edges.size(); i++) {
            JsonObject node = obj(edges.get(i).getAsJsonObject(), "node");
            JsonObject entry = contents.get(i).getAsJsonObject();
            birth.put(entry.get("path").getAsString(), obj(node, "artifact").get("id").getAsString());
            JsonElement url = node.get("uploadUrl");
            if (url == null || url.isJsonNull()) continue; // the server has this file already
            Path local = Artifacts.staged(spool.dir, a, entry.get("path").getAsString()); // where the folder is now: it may have moved
            if (!Files.isRegularFile(local)) throw new WandbHttp.Failure(local + ": the staged file is gone", 0, true);
            http.upload(url.getAsString(), RequestBody.create(local.toFile(), null), headers(node.get("uploadHeaders")), stop);
        }
        byte[] manifest = Artifacts.manifestJson(a, birth);
        JsonObject file = obj(createManifest(id, base, Artifacts.md5(manifest), true), "file");
        if (file == null || file.get("uploadUrl") == null || file.get("uploadUrl").isJsonNull())
            throw new WandbHttp.Failure("CreateArtifactManifest: no upload URL for the manifest", 200, true);
        http.upload(file.get("uploadUrl").getAsString(), RequestBody.create(manifest, null), headers(file.get("uploadHeaders")), stop);
        Map<String, Object> commit = new LinkedHashMap<>();
        commit.put("artifactID", id);
        http.graphql("CommitArtifact", COMMIT_ARTIFACT, commit, WandbHttp.Policy.GRAPHQL, stop);
        return "committed";
    }

    /** CreateArtifactManifest (a full manifest, {@code wandb_manifest.json}): first without a digest, then with the uploaded one's. */
    private JsonObject createManifest(String artifactId, String baseId, String digest, boolean includeUpload) throws WandbHttp.Failure {
        Map<String, Object> vars = new LinkedHashMap<>();
        vars.put("artifactID", artifactId);
        vars.put("baseArtifactID", baseId);
        vars.put("name", "wandb_manifest.json");
        vars.put("digest", digest);
        vars.put("entityName", spool.entity());
        vars.put("projectName", spool.project());
        vars.put("runName", spool.runId());
        vars.put("manifestType", "FULL");
        vars.put("includeUpload", includeUpload);
        JsonObject m = obj(obj(http.graphql("CreateArtifactManifest", CREATE_ARTIFACT_MANIFEST, vars, WandbHttp.Policy.GRAPHQL, stop),
                "createArtifactManifest"), "artifactManifest");
        if (m == null) throw new WandbHttp.Failure("CreateArtifactManifest: the answer has no manifest", 200, true);
        return m;
    }

    /** Signed-URL headers as the server lists them: {@code "Name: value"} strings. */
    private static Map<String, String> headers(JsonElement list) {
        Map<String, String> headers = new LinkedHashMap<>();
        if (list != null && list.isJsonArray()) for (JsonElement h : list.getAsJsonArray()) {
            String s = h.getAsString();
            int i = s.indexOf(':');
            if (i > 0) headers.put(s.substring(0, i), s.substring(i + 1).trim());
        }
        return headers;
    }

    private static JsonObject obj(JsonObject o, String k) {
        if (o == null) return null;
        JsonElement e = o.get(k);
        return e != null && e.isJsonObject() ? e.getAsJsonObject() : null;
    }
}
