package org.tinker.track;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import okhttp3.mockwebserver.Dispatcher;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.RecordedRequest;
import okhttp3.mockwebserver.SocketPolicy;

/**
 * A W&B server on loopback (OkHttp MockWebServer) that keeps what a real one keeps, per run: history lines by
 * offset (and how often each offset was written; {@code historyLineCount} in UpsertBucket's answer), output.log
 * and wandb-events.jsonl lines, the last summary line, uploaded files, completion; RewindRun truncates a run's
 * history after a {@code _step}; artifacts as the artifact mutations leave them (below). {@link #history}, {@link #writes}
 * and the fields below them are the first run's.
 * Failures can be switched on: a status for the next N requests (optionally with Retry-After), an outage, a hang.
 */
final class WandbFake implements AutoCloseable {
    record Req(long atNanos, String method, String path, String auth, Map<String, String> headers, String body) {
        JsonObject json() {
            return JsonParser.parseString(body).getAsJsonObject();
        }

        String op() {
            return path.equals("/graphql") ? json().get("operationName").getAsString() : null;
        }
    }

    final MockWebServer server = new MockWebServer();
    final List<Req> requests = new ArrayList<>();
    final TreeMap<Long, String> history = new TreeMap<>();
    final Map<Long, Integer> writes = new HashMap<>();
    final Map<String, TreeMap<Long, String>> histories = new HashMap<>();
    final Map<String, Map<Long, Integer>> writesOf = new HashMap<>();
    final Map<String, TreeMap<Long, String>> outputs = new HashMap<>(), events = new HashMap<>();
    final Map<String, Integer> exitcodes = new HashMap<>();
    String summary;
    Integer exitcode;
    boolean complete;
    final Set<String> uploaded = new LinkedHashSet<>();
    final Map<String, byte[]> files = new HashMap<>();
    final Map<String, JsonObject> upserts = new HashMap<>();
    final String entity = "alice";
    final List<String> rewinds = new ArrayList<>();
    /**
     * Artifact versions by id, in creation order: {@code input} (CreateArtifact's), {@code state}, {@code manifestDigest}.
     * Their files are in {@link #files} under {@code artifacts/{id of the version that first stored it}/{path}}, the
     * manifest under {@code artifacts/{id}/wandb_manifest.json}. A file a version of the same collection already stored
     * is not asked for again, a version with the digest of a committed one is that one (digest deduplication), and
     * committing a version moves its aliases to it.
     */
    final Map<String, JsonObject> artifacts = new java.util.LinkedHashMap<>();
    volatile int failStatus, failCount;
    volatile String retryAfter;
    volatile String failPathPrefix = "";
    volatile boolean down, hang, stopped;
    /** Answers injected before the normal ones, in order, on paths under failPathPrefix: {status, Retry-After or null}. */
    final java.util.Deque<String[]> inject = new java.util.ArrayDeque<>();

    WandbFake() throws IOException {
        server.setDispatcher(new Dispatcher() {
            @Override
            public MockResponse dispatch(RecordedRequest r) {
                return handle(r);
            }
        });
        server.start(java.net.InetAddress.getLoopbackAddress(), 0);
    }

    String base() {
        String u = server.url("/").toString();
        return u.substring(0, u.length() - 1);
    }

    /** The same server under another host name: a signed storage URL is never the base URL. */
    String storageBase() {
        String host = server.getHostName();
        String other = host.equals("localhost") ? "127.0.0.1" : "localhost";
        return "http://" + other + ":" + server.getPort();
    }

    WandbSettings settings(Path dir, WandbSettings.Mode mode) {
        return WandbSettings.fromEnv(Map.of("WANDB_API_KEY", "k".repeat(40), "WANDB_BASE_URL", base(), "WANDB_MODE",
                mode.name().toLowerCase(), "WANDB_DIR", dir.toString()), dir).withTiming(fast());
    }

    static WandbSettings.Timing fast() {
        return new WandbSettings.Timing(Duration.ofMillis(100), Duration.ofMillis(400), Duration.ofMillis(20), Duration.ofMillis(100),
                Duration.ofSeconds(3), Duration.ofSeconds(10), Duration.ofSeconds(3), Duration.ofSeconds(3));
    }

    synchronized List<Req> requests() {
        return new ArrayList<>(requests);
    }

    synchronized List<Req> requests(String pathPart) {
        return requests.stream().filter(q -> q.path.contains(pathPart)).toList();
    }

    synchronized List<Req> graphql(String op) {
        return requests.stream().filter(q -> op.equals(q.op())).toList();
    }

    synchronized List<JsonObject> streamBodies() {
        return requests.stream().filter(q -> q.path.endsWith("/file_stream")).map(Req::json).toList();
    }

    private MockResponse handle(RecordedRequest r) {
        byte[] raw = r.getBody().readByteArray();
        String body = new String(raw, java.nio.charset.StandardCharsets.UTF_8);
        Map<String, String> headers = new HashMap<>();
        for (String n : r.getHeaders().names()) headers.put(n.toLowerCase(), r.getHeader(n));
        synchronized (this) {
            requests.add(new Req(System.nanoTime(), r.getMethod(), r.getPath(), r.getHeader("Authorization"), headers, body));
        }
        if (hang) return new MockResponse().setSocketPolicy(SocketPolicy.NO_RESPONSE);
        if (down) return new MockResponse().setResponseCode(503).setBody("{\"error\":\"down\"}");
        synchronized (this) {
            if (!inject.isEmpty() && r.getPath().startsWith(failPathPrefix)) {
                String[] i = inject.poll();
                MockResponse m = new MockResponse().setResponseCode(Integer.parseInt(i[0])).setBody("{\"error\":\"injected\"}");
                if (i[1] != null) m.setHeader("Retry-After", i[1]);
                return m;
            }
            if (failCount > 0 && r.getPath().startsWith(failPathPrefix)) {
                failCount--;
                MockResponse m = new MockResponse().setResponseCode(failStatus).setBody("{\"error\":\"injected\"}");
                if (retryAfter != null) m.setHeader("Retry-After", retryAfter);
                return m;
            }
            try {
                if (r.getPath().equals("/graphql")) return json(graphql(JsonParser.parseString(body).getAsJsonObject()));
                if (r.getPath().endsWith("/file_stream")) {
                    String[] parts = r.getPath().split("/"); // /files/{entity}/{project}/{run}/file_stream
                    return json(fileStream(parts[4], JsonParser.parseString(body).getAsJsonObject()));
                }
                if (r.getMethod().equals("PUT") && r.getPath().startsWith("/upload/")) {
                    String md5 = r.getHeader("Content-MD5"); // as a storage bucket checks a signed URL's Content-MD5
                    if (md5 != null && !md5.equals(Artifacts.md5(raw))) return new MockResponse().setResponseCode(400);
                    files.put(r.getPath().substring("/upload/".length()), raw);
                    return new MockResponse().setResponseCode(200);
                }
            } catch (RuntimeException e) {
                return new MockResponse().setResponseCode(400).setBody("{\"error\":\"" + e + "\"}");
            }
        }
        return new MockResponse().setResponseCode(404);
    }

    private static MockResponse json(String s) {
        return new MockResponse().setResponseCode(200).setHeader("Content-Type", "application/json").setBody(s);
    }

    private String graphql(JsonObject q) {
        String op = q.get("operationName").getAsString();
        JsonObject v = q.getAsJsonObject("variables");
        switch (op) {
            case "UpsertBucket" -> {
                String name = v.get("name").getAsString();
                boolean inserted = !upserts.containsKey(name);
                if (!inserted) { // an update: what was set before stays unless given again
                    JsonObject merged = upserts.get(name).deepCopy();
                    v.entrySet().forEach(e -> { if (!e.getValue().isJsonNull()) merged.add(e.getKey(), e.getValue()); });
                    v = merged;
                }
                upserts.put(name, v);
                TreeMap<Long, String> history = historyOf(name);
                return "{\"data\":{\"upsertBucket\":{\"bucket\":{\"id\":\"storage-" + name + "\",\"name\":\"" + name
                        + "\",\"displayName\":null,\"description\":null,\"config\":\"{}\",\"sweepName\":null,\"project\":{\"id\":\"p1\",\"name\":\""
                        + v.get("project").getAsString() + "\",\"entity\":{\"id\":\"e1\",\"name\":\"" + entity + "\"}},\"historyLineCount\":"
                        + history.size() + "},\"inserted\":" + inserted + "}}}";
            }
            case "RewindRun" -> {
                String name = v.get("runName").getAsString();
                if (!upserts.containsKey(name)) return "{\"data\":{\"rewindRun\":null}}";
                TreeMap<Long, String> history = historyOf(name);
                double at = v.get("metricValue").getAsDouble();
                history.entrySet().removeIf(e -> JsonParser.parseString(e.getValue()).getAsJsonObject().get("_step").getAsDouble() > at);
                writesOf(name).keySet().removeIf(off -> off >= history.size());
                JsonObject run = new JsonObject();
                run.addProperty("id", "storage-" + name);
                run.addProperty("name", name);
                run.addProperty("historyLineCount", history.size());
                run.addProperty("config", upserts.get(name).get("config").getAsString());
                JsonObject project = JsonParser.parseString("{\"name\":\"" + upserts.get(name).get("project").getAsString()
                        + "\",\"entity\":{\"name\":\"" + entity + "\"}}").getAsJsonObject();
                run.add("project", project);
                rewinds.add(name + "@" + at);
                return "{\"data\":{\"rewindRun\":{\"rewoundRun\":" + run + "}}}";
            }
            case "RunResumeStatus" -> {
                String name = v.get("name").getAsString();
                if (!upserts.containsKey(name)) return "{\"data\":{\"model\":{\"id\":\"p1\",\"name\":\"x\",\"entity\":{\"id\":\"e1\",\"name\":\"alice\"},\"bucket\":null}}}";
                TreeMap<Long, String> history = historyOf(name);
                JsonArray tail = new JsonArray();
                history.tailMap(Math.max(0, history.size() - 10L)).values().forEach(tail::add);
                JsonObject b = new JsonObject();
                b.addProperty("id", "storage-" + name);
                b.addProperty("name", name);
                b.addProperty("historyLineCount", history.size());
                b.addProperty("historyTail", tail.toString());
                b.addProperty("summaryMetrics", summary == null ? "{}" : summary);
                b.addProperty("wandbConfig", "{\"t\":{}}");
                b.addProperty("config", upserts.get(name).get("config").getAsString());
                b.addProperty("logLineCount", outputs.getOrDefault(name, new TreeMap<>()).size());
                b.addProperty("eventsLineCount", events.getOrDefault(name, new TreeMap<>()).size());
                JsonObject model = new JsonObject();
                model.add("bucket", b);
                JsonObject data = new JsonObject();
                data.add("model", model);
                JsonObject o = new JsonObject();
                o.add("data", data);
                return o.toString();
            }
            case "CreateRunFiles" -> {
                JsonArray fs = new JsonArray();
                for (JsonElement f : v.getAsJsonArray("files")) {
                    JsonObject o = new JsonObject();
                    o.addProperty("name", f.getAsString());
                    o.addProperty("uploadUrl", storageBase() + "/upload/" + f.getAsString());
                    fs.add(o);
                }
                return "{\"data\":{\"createRunFiles\":{\"runID\":\"r1\",\"uploadHeaders\":[\"X-Test: yes\"],\"files\":" + fs + "}}}";
            }
            case "CreateArtifact" -> {
                JsonObject in = v.getAsJsonObject("input");
                String collection = in.get("artifactCollectionName").getAsString();
                JsonObject art = versions(collection).stream().filter(a -> a.get("state").getAsString().equals("COMMITTED")
                        && a.getAsJsonObject("input").get("digest").equals(in.get("digest"))).findFirst().orElse(null);
                String latest = versions(collection).stream().filter(a -> a.get("state").getAsString().equals("COMMITTED"))
                        .reduce((x, y) -> y).map(a -> "{\"id\":\"" + a.get("id").getAsString() + "\"}").orElse("null");
                if (art == null) {
                    art = new JsonObject();
                    art.addProperty("id", "artifact-" + (artifacts.size() + 1));
                    art.add("input", in);
                    art.addProperty("state", "PENDING");
                    art.add("aliases", new JsonArray());
                    artifacts.put(art.get("id").getAsString(), art);
                }
                return "{\"data\":{\"createArtifact\":{\"artifact\":{\"id\":\"" + art.get("id").getAsString() + "\",\"state\":\""
                        + art.get("state").getAsString() + "\",\"artifactSequence\":{\"latestArtifact\":" + latest + "}}}}}";
            }
            case "CreateArtifactManifest" -> {
                String id = v.get("artifactID").getAsString();
                artifacts.get(id).add("manifestDigest", v.get("digest"));
                String file = v.get("includeUpload").getAsBoolean() ? ",\"uploadUrl\":\"" + storageBase() + "/upload/artifacts/" + id
                        + "/wandb_manifest.json\",\"uploadHeaders\":[]" : "";
                return "{\"data\":{\"createArtifactManifest\":{\"artifactManifest\":{\"id\":\"manifest-" + id + "\",\"file\":{\"id\":\"f-"
                        + id + "\"" + file + "}}}}}";
            }
            case "CreateArtifactFiles" -> {
                JsonArray edges = new JsonArray();
                for (JsonElement f : v.getAsJsonObject("input").getAsJsonArray("artifactFiles")) {
                    JsonObject spec = f.getAsJsonObject();
                    String id = spec.get("artifactID").getAsString(), name = spec.get("name").getAsString(), md5 = spec.get("md5").getAsString();
                    String collection = artifacts.get(id).getAsJsonObject("input").get("artifactCollectionName").getAsString();
                    String birth = versions(collection).stream().map(a -> a.get("id").getAsString())
                            .filter(b -> files.containsKey("artifacts/" + b + "/" + name) && Artifacts.md5(files.get("artifacts/" + b + "/" + name)).equals(md5))
                            .findFirst().orElse(id);
                    JsonObject node = new JsonObject();
                    node.addProperty("storagePath", "artifacts/" + birth + "/" + name);
                    node.addProperty("uploadUrl", birth.equals(id) ? storageBase() + "/upload/artifacts/" + id + "/" + name : null);
                    JsonArray headers = new JsonArray();
                    headers.add("Content-MD5:" + md5);
                    node.add("uploadHeaders", headers);
                    node.add("artifact", JsonParser.parseString("{\"id\":\"" + birth + "\"}"));
                    JsonObject edge = new JsonObject();
                    edge.add("node", node);
                    edges.add(edge);
                }
                return "{\"data\":{\"createArtifactFiles\":{\"files\":{\"edges\":" + WandbHttp.GSON.toJson(edges) + "}}}}";
            }
            case "CommitArtifact" -> {
                JsonObject art = artifacts.get(v.get("artifactID").getAsString());
                art.addProperty("state", "COMMITTED");
                String collection = art.getAsJsonObject("input").get("artifactCollectionName").getAsString();
                for (JsonElement al : art.getAsJsonObject("input").getAsJsonArray("aliases")) {
                    for (JsonObject other : versions(collection)) other.getAsJsonArray("aliases").remove(al.getAsJsonObject().get("alias"));
                    art.getAsJsonArray("aliases").add(al.getAsJsonObject().get("alias"));
                }
                return "{\"data\":{\"commitArtifact\":{\"artifact\":{\"id\":\"" + art.get("id").getAsString() + "\",\"digest\":"
                        + art.getAsJsonObject("input").get("digest") + "}}}}";
            }
            default -> {
                return "{\"errors\":[{\"message\":\"unknown operation " + op + "\"}]}";
            }
        }
    }

    /** The versions of an artifact collection, oldest first. */
    synchronized List<JsonObject> versions(String collection) {
        return artifacts.values().stream().filter(a -> a.getAsJsonObject("input").get("artifactCollectionName").getAsString().equals(collection))
                .toList();
    }

    /** An artifact version's uploaded wandb_manifest.json. */
    synchronized JsonObject manifest(String artifactId) {
        return JsonParser.parseString(new String(files.get("artifacts/" + artifactId + "/wandb_manifest.json"),
                java.nio.charset.StandardCharsets.UTF_8)).getAsJsonObject();
    }

    synchronized TreeMap<Long, String> historyOf(String run) {
        if (histories.isEmpty()) histories.put(run, history);
        return histories.computeIfAbsent(run, k -> new TreeMap<>());
    }

    synchronized Map<Long, Integer> writesOf(String run) {
        if (writesOf.isEmpty()) writesOf.put(run, writes);
        return writesOf.computeIfAbsent(run, k -> new HashMap<>());
    }

    private String fileStream(String run, JsonObject b) {
        JsonObject files = b.has("files") ? b.getAsJsonObject("files") : new JsonObject();
        TreeMap<Long, String> history = historyOf(run);
        Map<Long, Integer> writes = writesOf(run);
        for (String f : List.of("output.log", "wandb-events.jsonl")) if (files.has(f)) {
            TreeMap<Long, String> lines = (f.equals("output.log") ? outputs : events).computeIfAbsent(run, k -> new TreeMap<>());
            long off = files.getAsJsonObject(f).get("offset").getAsLong();
            for (JsonElement l : files.getAsJsonObject(f).getAsJsonArray("content")) lines.put(off++, l.getAsString());
        }
        if (files.has("wandb-history.jsonl")) {
            JsonObject h = files.getAsJsonObject("wandb-history.jsonl");
            long off = h.get("offset").getAsLong();
            for (JsonElement l : h.getAsJsonArray("content")) {
                history.put(off, l.getAsString());
                writes.merge(off, 1, Integer::sum);
                off++;
            }
        }
        if (files.has("wandb-summary.json")) summary = files.getAsJsonObject("wandb-summary.json").getAsJsonArray("content").get(0).getAsString();
        if (b.has("uploaded")) b.getAsJsonArray("uploaded").forEach(e -> uploaded.add(e.getAsString()));
        if (b.has("complete") && b.get("complete").getAsBoolean()) {
            if (histories.get(run) == history) {
                complete = true;
                exitcode = b.get("exitcode").getAsInt();
            }
            exitcodes.put(run, b.get("exitcode").getAsInt());
        }
        return stopped ? "{\"stopped\":true}" : "{}";
    }

    /** Every history row of the first run as JSON, in offset order; fails on gaps. */
    synchronized List<JsonObject> rows() {
        return rows(history);
    }

    /** A run's history rows, in offset order; fails on gaps. */
    synchronized List<JsonObject> rows(String run) {
        return rows(historyOf(run));
    }

    private static List<JsonObject> rows(TreeMap<Long, String> history) {
        List<JsonObject> out = new ArrayList<>();
        long expect = 0;
        for (Map.Entry<Long, String> e : history.entrySet()) {
            if (e.getKey() != expect) throw new AssertionError("history gap at offset " + expect + ", next is " + e.getKey());
            out.add(JsonParser.parseString(e.getValue()).getAsJsonObject());
            expect++;
        }
        return out;
    }

    @Override
    public void close() throws IOException {
        hang = false;
        server.shutdown();
    }
}
