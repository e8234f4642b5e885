package org.tinker.track;

import static org.junit.jupiter.api.Assertions.*;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The requests a run sends, byte for byte where it matters, against a W&B server on loopback. */
class WandbProtocolTest {
    static final String KEY = "k".repeat(40);
    static final String AUTH = "Basic " + Base64.getEncoder().encodeToString(("api:" + KEY).getBytes(StandardCharsets.UTF_8));

    /** The UpsertBucket text of the protocol notes (§1.1), which the official client sends. */
    static final String UPSERT_FROM_DOC = """
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

    static ByteArrayOutputStream buf = new ByteArrayOutputStream();

    static PrintStream out() {
        buf = new ByteArrayOutputStream();
        return new PrintStream(buf, true, StandardCharsets.UTF_8);
    }

    static Map<String, Object> config() {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("dp.dataset_name", "ptb");
        c.put("tp.lr", 0.003);
        c.put("mp.dim", 64);
        c.put("tp.no_wandb", false);
        return c;
    }

    static Map<String, Object> row(double loss, long n) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("stat/train_batch_loss:main", loss);
        m.put("n_train_samples", (double) n);
        return m;
    }

    @Test
    void upsertThenHistoryWithOffsetsAcrossBatchesSummaryAndFinish(@TempDir Path dir) throws Exception {
        try (WandbFake fake = new WandbFake()) {
            WandbSettings s = fake.settings(dir, WandbSettings.Mode.ONLINE).withRun("abc12345", null);
            WandbRun run = WandbRun.start(s, new WandbRun.Init("base-test-ptb", "lr-0.003", config(), null), out());
            assertTrue(buf.toString().contains("W&B: " + fake.base() + "/alice/base-test-ptb/runs/abc12345"), buf.toString());
            // UpsertBucket: exact query text and variables
            WandbFake.Req up = fake.graphql("UpsertBucket").get(0);
            assertEquals(UPSERT_FROM_DOC, up.json().get("query").getAsString());
            assertEquals(AUTH, up.auth());
            assertTrue(up.headers().get("content-type").startsWith("application/json"));
            JsonObject v = up.json().getAsJsonObject("variables");
            assertEquals("abc12345", v.get("name").getAsString());
            assertEquals("base-test-ptb", v.get("project").getAsString());
            assertTrue(v.get("entity").isJsonNull());
            assertEquals("lr-0.003", v.get("displayName").getAsString());
            assertEquals("train", v.get("jobType").getAsString());
            assertFalse(v.has("id"), "no storage id on the first upsert");
            assertEquals(JsonParser.parseString("{\"dp.dataset_name\":{\"value\":\"ptb\"},\"tp.lr\":{\"value\":0.003},\"mp.dim\":{\"value\":64},"
                    + "\"tp.no_wandb\":{\"value\":false},\"_wandb\":{\"value\":{\"t\":{},"
                    // metric definitions (MetricRecord fields by number): n_train_samples, and every metric (*) stepped by it
                    + "\"m\":[{\"1\":\"n_train_samples\",\"6\":[3]},{\"2\":\"*\",\"5\":1,\"6\":[3]}]}}}"),
                    JsonParser.parseString(v.get("config").getAsString()));

            for (int i = 0; i < 3; i++) run.log(row(1.0 - i * 0.1, 8L * i));
            waitFor(() -> fake.history.size() == 3);
            Thread.sleep(150);
            for (int i = 3; i < 5; i++) run.log(row(1.0 - i * 0.1, 8L * i));
            run.finish(0);
            assertTrue(buf.toString().contains("W&B: sent 5 rows to " + fake.base() + "/alice/base-test-ptb/runs/abc12345; nothing unsynced"),
                    buf.toString());
            // each logged key gets its own definition stepped by n_train_samples, sent with the config once it is logged
            List<WandbFake.Req> ups = fake.graphql("UpsertBucket");
            JsonObject lastConfig = JsonParser.parseString(ups.get(ups.size() - 1).json().getAsJsonObject("variables").get("config").getAsString())
                    .getAsJsonObject();
            assertEquals(JsonParser.parseString("[{\"1\":\"n_train_samples\",\"6\":[3]},{\"2\":\"*\",\"5\":1,\"6\":[3]},"
                            + "{\"1\":\"stat/train_batch_loss:main\",\"5\":1,\"6\":[1,3]}]"),
                    lastConfig.getAsJsonObject("_wandb").getAsJsonObject("value").get("m"));
            assertEquals(2, ups.size(), "the first upsert, and one more when the loss first appeared");
            assertEquals(0.003, lastConfig.getAsJsonObject("tp.lr").get("value").getAsDouble(), "the rest of the config unchanged");

            List<WandbFake.Req> fs = fake.requests("/file_stream");
            for (WandbFake.Req q : fs) {
                assertEquals("/files/alice/base-test-ptb/abc12345/file_stream", q.path());
                assertEquals(AUTH, q.auth());
            }
            // history: offsets 0 then 3, each line with _step/_runtime/_timestamp
            List<JsonObject> withHistory = fake.streamBodies().stream().filter(b -> b.has("files")
                    && b.getAsJsonObject("files").has("wandb-history.jsonl")).toList();
            assertTrue(withHistory.size() >= 2, fake.streamBodies().toString());
            long next = 0;
            for (JsonObject b : withHistory) { // explicit offsets, contiguous across batches
                JsonObject h = b.getAsJsonObject("files").getAsJsonObject("wandb-history.jsonl");
                assertEquals(next, h.get("offset").getAsLong());
                next += h.getAsJsonArray("content").size();
            }
            assertEquals(5, next);
            List<JsonObject> rows = fake.rows();
            assertEquals(5, rows.size());
            for (int i = 0; i < 5; i++) {
                JsonObject r = rows.get(i);
                assertEquals(i, r.get("_step").getAsLong());
                assertEquals(8.0 * i, r.get("n_train_samples").getAsDouble());
                assertTrue(r.get("_runtime").getAsDouble() >= 0);
                assertEquals(System.currentTimeMillis() / 1000.0, r.get("_timestamp").getAsDouble(), 60);
                assertEquals(Set5.keys, r.keySet());
            }
            // the summary: the last value of every key, plus _wandb.runtime; always at offset 0
            JsonObject sumFile = withHistory.get(withHistory.size() - 1).getAsJsonObject("files").getAsJsonObject("wandb-summary.json");
            assertEquals(0, sumFile.get("offset").getAsLong());
            JsonObject sum = JsonParser.parseString(fake.summary).getAsJsonObject();
            assertEquals(4, sum.get("_step").getAsLong());
            assertEquals(0.6, sum.get("stat/train_batch_loss:main").getAsDouble(), 1e-12);
            assertTrue(sum.getAsJsonObject("_wandb").has("runtime"));
            // the end: complete with exit code 0 in the last POST
            JsonObject last = fake.streamBodies().get(fake.streamBodies().size() - 1);
            assertTrue(last.get("complete").getAsBoolean());
            assertEquals(0, last.get("exitcode").getAsInt());
            assertEquals(0, fake.exitcode);
            // every offset written exactly once
            fake.writes.values().forEach(n -> assertEquals(1, n));
            // the spool holds the same lines and a sync state that says so
            Path spool = run.spoolDir();
            assertTrue(spool.getFileName().toString().matches("run-\\d{8}_\\d{6}-abc12345"), spool.toString());
            Spool local = Spool.open(spool); // read back from run-abc12345.wandb
            assertEquals(5, local.size());
            assertEquals(fake.history.get(4L), local.lines(4, 1, 1 << 20).get(0), "the row as sent");
            assertEquals(0, local.exitCode());
            local.close();
            JsonObject st = JsonParser.parseString(Files.readString(spool.resolve("sync-state.json"))).getAsJsonObject();
            assertEquals(5, st.get("history_acked").getAsLong());
            assertTrue(st.get("complete_acked").getAsBoolean());
        }
    }

    static final class Set5 {
        static final java.util.Set<String> keys = java.util.Set.of("stat/train_batch_loss:main", "n_train_samples", "_step", "_runtime",
                "_timestamp");
    }

    @Test
    void failedRunSendsItsExitCodeAndIdleRunsHeartbeat(@TempDir Path dir) throws Exception {
        try (WandbFake fake = new WandbFake()) {
            WandbRun run = WandbRun.start(fake.settings(dir, WandbSettings.Mode.ONLINE), new WandbRun.Init("p", null, config(), null), out());
            assertEquals(8, run.id().length());
            assertTrue(run.id().matches("[a-z0-9]{8}"));
            run.log(row(2.0, 8));
            // nothing logged for longer than the heartbeat (400 ms): an empty POST keeps the run alive
            waitFor(() -> fake.streamBodies().stream().anyMatch(b -> b.toString().equals("{}")));
            run.finish(1);
            JsonObject last = fake.streamBodies().get(fake.streamBodies().size() - 1);
            assertTrue(last.get("complete").getAsBoolean());
            assertEquals(1, last.get("exitcode").getAsInt());
            assertEquals(1, fake.exitcode);
        }
    }

    @Test
    void batchesRowsAtMostOnePostPerInterval(@TempDir Path dir) throws Exception {
        try (WandbFake fake = new WandbFake()) {
            WandbSettings s = fake.settings(dir, WandbSettings.Mode.ONLINE);
            s = s.withTiming(new WandbSettings.Timing(java.time.Duration.ofMillis(300), java.time.Duration.ofSeconds(30), s.timing().backoffBase(),
                    s.timing().backoffMax(), s.timing().initWait(), s.timing().finishWait(), s.timing().graphqlTimeout(), s.timing().streamTimeout()));
            WandbRun run = WandbRun.start(s, new WandbRun.Init("p", null, config(), null), out());
            long t0 = System.nanoTime();
            for (int i = 0; i < 200; i++) {
                run.log(row(1.0 / (i + 1), 8L * i));
                Thread.sleep(5);
            }
            long finishAt = System.nanoTime();
            double seconds = (finishAt - t0) / 1e9;
            run.finish(0);
            int posts = fake.requests("/file_stream").size();
            assertTrue(posts <= seconds / 0.3 + 3, posts + " POSTs in " + seconds + " s");
            List<WandbFake.Req> fs = fake.requests("/file_stream");
            for (int i = 1; i < fs.size() && fs.get(i).atNanos() < finishAt; i++) // finish drains at once
                assertTrue(fs.get(i).atNanos() - fs.get(i - 1).atNanos() >= 250_000_000L, "POSTs " + i + " too close");
            assertEquals(200, fake.rows().size());
            fake.writes.values().forEach(n -> assertEquals(1, n));
        }
    }

    @Test
    void nonFiniteValuesGoOutAsBareTokens(@TempDir Path dir) throws Exception {
        try (WandbFake fake = new WandbFake()) {
            WandbRun run = WandbRun.start(fake.settings(dir, WandbSettings.Mode.ONLINE), new WandbRun.Init("p", null, config(), null), out());
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("a", Double.NaN);
            r.put("b", Double.POSITIVE_INFINITY);
            r.put("c", Double.NEGATIVE_INFINITY);
            run.log(r);
            run.finish(0);
            String line = fake.history.get(0L);
            assertTrue(line.startsWith("{\"a\":NaN,\"b\":Infinity,\"c\":-Infinity,\"_step\":0,"), line);
        }
    }

    @Test
    void imagesAreUploadedToSignedUrlsWithoutAuthAndLoggedAsImageFiles(@TempDir Path dir) throws Exception {
        Path png = dir.resolve("val_loss.png");
        BufferedImage img = new BufferedImage(64, 48, BufferedImage.TYPE_INT_RGB);
        for (int x = 0; x < 64; x++) img.setRGB(x, x % 48, 0xff0000);
        ImageIO.write(img, "png", png.toFile());
        byte[] bytes = Files.readAllBytes(png);
        try (WandbFake fake = new WandbFake()) {
            WandbRun run = WandbRun.start(fake.settings(dir, WandbSettings.Mode.ONLINE), new WandbRun.Init("p", null, config(), null), out());
            run.carry("n_train_samples");
            run.log(row(1.0, 16));
            assertTrue(run.logImage("plots/val_loss", png));
            assertFalse(run.logImage("nope", dir.resolve("missing.png")));
            run.finish(0);
            // the run files (metadata, requirements, config.yaml) go first; then the image
            JsonObject crf = fake.graphql("CreateRunFiles").stream().map(WandbFake.Req::json)
                    .filter(j -> j.toString().contains("media/images")).findFirst().orElseThrow();
            assertTrue(crf.get("query").getAsString().startsWith("mutation CreateRunFiles($entity: String!, $project: String!, $run: String!, $files: [String!]!)"));
            JsonObject v = crf.getAsJsonObject("variables");
            assertEquals("alice", v.get("entity").getAsString());
            assertEquals(run.id(), v.get("run").getAsString());
            // the image may share its CreateRunFiles call with run files that became ready at the same moment
            List<String> images = v.getAsJsonArray("files").asList().stream().map(JsonElement::getAsString)
                    .filter(n -> n.startsWith("media/images/")).toList();
            assertEquals(1, images.size(), images.toString());
            String rel = images.get(0);
            assertTrue(rel.matches("media/images/plots_val_loss_1_[0-9a-f]{20}\\.png"), rel);
            // PUT: the exact bytes, the upload headers, and no W&B Authorization
            WandbFake.Req put = fake.requests("/upload/media/").get(0);
            assertEquals("PUT", put.method());
            assertNull(put.auth(), "no W&B auth on upload URLs");
            assertEquals("yes", put.headers().get("x-test"));
            assertEquals(String.valueOf(bytes.length), put.headers().get("content-length"));
            assertArrayEquals(bytes, fake.files.get(rel));
            // then announced, and the history row points at it (with n_train_samples carried over)
            assertTrue(fake.uploaded.contains(rel));
            JsonObject r1 = fake.rows().get(1);
            JsonObject val = r1.getAsJsonObject("plots/val_loss");
            assertEquals("image-file", val.get("_type").getAsString());
            assertEquals(rel, val.get("path").getAsString());
            assertEquals(bytes.length, val.get("size").getAsInt());
            assertEquals(64, val.get("width").getAsInt());
            assertEquals(48, val.get("height").getAsInt());
            assertEquals("png", val.get("format").getAsString());
            assertEquals(64, val.get("sha256").getAsString().length());
            assertEquals(16.0, r1.get("n_train_samples").getAsDouble());
            assertTrue(Files.isRegularFile(run.spoolDir().resolve("files").resolve(rel)));
            // GraphQL and file_stream carry auth
            for (WandbFake.Req q : fake.requests()) if (!q.path().startsWith("/upload/")) assertEquals(AUTH, q.auth(), q.path());
        }
    }

    @Test
    void stopFromTheUiIsHonoured(@TempDir Path dir) throws Exception {
        try (WandbFake fake = new WandbFake()) {
            fake.stopped = true;
            WandbRun run = WandbRun.start(fake.settings(dir, WandbSettings.Mode.ONLINE), new WandbRun.Init("p", null, config(), null), out());
            run.log(row(1, 8));
            waitFor(run::stopRequested);
            run.finish(1);
        }
    }

    @Test
    void disabledModeMakesNoRequestAndWritesNothing(@TempDir Path dir) throws Exception {
        try (WandbFake fake = new WandbFake()) {
            WandbRun run = WandbRun.start(fake.settings(dir, WandbSettings.Mode.DISABLED), new WandbRun.Init("p", null, config(), null), out());
            run.log(row(1, 8));
            assertFalse(run.logImage("x", dir.resolve("x.png")));
            run.finish(0);
            assertEquals(0, fake.server.getRequestCount());
            assertFalse(Files.exists(dir.resolve("wandb")));
            assertEquals("", buf.toString());
        }
    }

    static void waitFor(java.util.function.BooleanSupplier c) throws InterruptedException {
        long end = System.nanoTime() + 10_000_000_000L;
        while (!c.getAsBoolean()) {
            if (System.nanoTime() > end) fail("timed out waiting");
            Thread.sleep(10);
        }
    }
}
