package org.tinker.track;

import static org.junit.jupiter.api.Assertions.*;

import com.google.gson.JsonObject;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Retries as the protocol notes §4: Retry-After first, else exponential backoff; some statuses never retried. */
class WandbRetryTest {
    static WandbRun start(WandbFake fake, Path dir, WandbSettings.Timing t) {
        return WandbRun.start(fake.settings(dir, WandbSettings.Mode.ONLINE).withTiming(t), new WandbRun.Init("p", null, Map.of("a", 1), null),
                WandbProtocolTest.out());
    }

    static WandbSettings.Timing withBackoff(long baseMs) {
        WandbSettings.Timing f = WandbFake.fast();
        return new WandbSettings.Timing(f.batchInterval(), f.heartbeat(), Duration.ofMillis(baseMs), Duration.ofMillis(baseMs * 8),
                f.initWait(), f.finishWait(), f.graphqlTimeout(), f.streamTimeout());
    }

    @Test
    void tooManyRequestsWaitsExactlyRetryAfter(@TempDir Path dir) throws Exception {
        try (WandbFake fake = new WandbFake()) {
            WandbRun run = start(fake, dir, withBackoff(5000)); // a backoff wait would take 5 s: Retry-After must win
            fake.failPathPrefix = "/files/";
            fake.retryAfter = "1";
            fake.failStatus = 429;
            fake.failCount = 1;
            run.log(Map.of("x", 1.0));
            long t0 = System.nanoTime();
            run.finish(0);
            double s = (System.nanoTime() - t0) / 1e9;
            List<WandbFake.Req> fs = fake.requests("/file_stream");
            // the retried one; maybe separate ones for the files uploaded at the end and the complete
            assertTrue(fs.size() >= 2 && fs.size() <= 4, fs.size() + " POSTs");
            double gap = (fs.get(1).atNanos() - fs.get(0).atNanos()) / 1e9;
            assertTrue(gap >= 0.95 && gap < 2.5, "waited " + gap + " s for Retry-After: 1");
            assertTrue(s < 4, s + " s");
            assertEquals(fs.get(0).body(), fs.get(1).body(), "the same rows at the same offset");
            assertEquals(1, fake.rows().size());
            assertEquals(0, fake.exitcode);
        }
    }

    /**
     * A server that closes the connection after every answer (HTTP/1.0, as Python's http.server): the client's pooled
     * connection is dead by the next request, which fails before any answer. That request is sent again at once on a
     * new connection, not after a backoff (5 s here), so five posts in a row take no backoff at all.
     */
    @Test
    void aConnectionClosedByTheServerIsReplacedWithoutBackoff() throws Exception {
        try (java.net.ServerSocket server = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
            var served = new java.util.concurrent.atomic.AtomicInteger();
            Thread t = new Thread(() -> {
                while (!server.isClosed()) {
                    try (java.net.Socket s = server.accept()) {
                        var in = new java.io.BufferedInputStream(s.getInputStream());
                        StringBuilder head = new StringBuilder();
                        while (!head.toString().endsWith("\r\n\r\n")) head.append((char) in.read());
                        var m = java.util.regex.Pattern.compile("(?i)content-length: *(\\d+)").matcher(head);
                        in.readNBytes(m.find() ? Integer.parseInt(m.group(1)) : 0);
                        served.incrementAndGet(); // before the answer: the client may send its next request as soon as it has it
                        s.getOutputStream().write("HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
                                .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                        s.getOutputStream().flush();
                    } catch (java.io.IOException e) {
                        return; // closed
                    }
                }
            });
            t.start();
            WandbHttp http = new WandbHttp("http://127.0.0.1:" + server.getLocalPort(), "k".repeat(40), withBackoff(5000));
            long t0 = System.nanoTime();
            for (int i = 0; i < 5; i++) assertEquals("{}", http.fileStream("e", "p", "r", () -> "{}", () -> false));
            double s = (System.nanoTime() - t0) / 1e9;
            assertEquals(5, served.get(), "one answer per post");
            assertTrue(s < 4, "5 posts took " + s + " s: a closed connection waited for a backoff of 5 s");
        }
    }

    @Test
    void serverErrorsAreRetriedWithBackoff(@TempDir Path dir) throws Exception {
        try (WandbFake fake = new WandbFake()) {
            fake.failStatus = 500;
            fake.failCount = 3; // the upsert fails three times
            WandbRun run = start(fake, dir, withBackoff(30));
            run.log(Map.of("x", 1.0));
            run.finish(0);
            List<WandbFake.Req> ups = fake.graphql("UpsertBucket");
            assertEquals(5, ups.size(), "three failed, the run's, and one defining the logged key x");
            for (int i = 1; i < 4; i++) {
                double waitMs = (ups.get(i).atNanos() - ups.get(i - 1).atNanos()) / 1e6;
                double min = Math.min(240, 30 * Math.pow(2, i - 1));
                // a lower bound only: a loaded machine may add any delay, but nothing may retry before its backoff
                assertTrue(waitMs >= min * 0.9, "retry " + i + " after " + waitMs + " ms, expected at least ~" + min);
            }
            assertEquals(1, fake.rows().size());
            assertTrue(fake.complete);
        }
    }

    @Test
    void badRequestUnauthorizedAndNotFoundAreNotRetried(@TempDir Path dir) throws Exception {
        for (int status : new int[] {400, 401, 404}) {
            try (WandbFake fake = new WandbFake()) {
                Path d = dir.resolve("s" + status);
                WandbRun run = start(fake, d, withBackoff(10));
                fake.failPathPrefix = "/files/";
                fake.failStatus = status;
                fake.failCount = 100;
                run.log(Map.of("x", 1.0));
                run.finish(0);
                assertEquals(1, fake.requests("/file_stream").size(), "HTTP " + status + " is not retried");
                String out = WandbProtocolTest.buf.toString();
                assertTrue(out.contains("HTTP " + status) && out.contains("continuing offline"), out);
                assertTrue(out.contains("still unsynced: 1 rows"), out);
                assertFalse(run.synced());
            }
        }
    }

    @Test
    void outageAtTheStartOfAShortRunIsFullyDeliveredBeforeExit(@TempDir Path dir) throws Exception {
        Path png = dir.resolve("p.png");
        javax.imageio.ImageIO.write(new java.awt.image.BufferedImage(8, 4, java.awt.image.BufferedImage.TYPE_INT_RGB), "png", png.toFile());
        try (WandbFake fake = new WandbFake()) {
            // the first three file_stream POSTs fail (500), the fourth is rate-limited once (429, Retry-After: 1)
            fake.failPathPrefix = "/files/";
            for (int i = 0; i < 3; i++) fake.inject.add(new String[] {"500", null});
            fake.inject.add(new String[] {"429", "1"});
            WandbRun run = start(fake, dir, withBackoff(300));
            for (int i = 0; i < 16; i++) {
                run.log(Map.of("loss", 1.0 / (i + 1), "n_train_samples", 8.0 * i));
                Thread.sleep(20);
            }
            run.logImage("plot", png);
            run.finish(0);
            // finish drained everything: 17 rows, the image, the summary and the end, before it returned
            assertTrue(fake.inject.isEmpty());
            assertEquals(17, fake.rows().size());
            fake.writes.values().forEach(n -> assertEquals(1, n));
            assertEquals(5, fake.files.size(), "the image, wandb-metadata.json, requirements.txt, config.yaml, wandb-summary.json");
            assertTrue(fake.complete);
            assertEquals(0, fake.exitcode);
            assertTrue(run.synced());
            String out = WandbProtocolTest.buf.toString();
            assertTrue(out.contains("W&B: finishing: sending 17 rows"), out); // progress while the server is not yet answering
            assertTrue(out.contains("nothing unsynced"), out);
        }
    }

    @Test
    void systemMetricsAndConsoleLinesAreStreamedAndRecorded(@TempDir Path dir) throws Exception {
        try (WandbFake fake = new WandbFake()) {
            WandbRun run = start(fake, dir, WandbFake.fast());
            Map<String, Double> sample = RunFiles.systemMetrics();
            assertTrue(sample.get("proc.memory.rssMB") > 10, sample.toString()); // this JVM's resident memory, from /proc
            run.spool().stats(sample, 1.5);
            run.spool().output("hello from tinker", false);
            run.log(Map.of("x", 1.0));
            run.finish(0);
            String id = run.id();
            JsonObject ev = com.google.gson.JsonParser.parseString(fake.events.get(id).get(0L)).getAsJsonObject();
            assertEquals(sample.get("proc.memory.rssMB"), ev.get("system.proc.memory.rssMB").getAsDouble());
            assertEquals(1.5, ev.get("_runtime").getAsDouble());
            assertEquals("hello from tinker", fake.outputs.get(id).get(0L));
            // and in the transaction log, as StatsRecord and OutputRawRecord
            Spool back = Spool.open(run.spoolDir());
            assertEquals(2, back.eventsSize(), "the sample given, and the last one finish takes");
            assertEquals(List.of("hello from tinker"), back.outputLines(0, 10, 1 << 20));
            back.close();
        }
    }

    @Test
    void upsertRetriesConflictButNotUnprocessable(@TempDir Path dir) throws Exception {
        try (WandbFake fake = new WandbFake()) {
            fake.failStatus = 409;
            fake.failCount = 1;
            WandbRun run = start(fake, dir.resolve("a"), withBackoff(10));
            run.finish(0);
            assertEquals(2, fake.graphql("UpsertBucket").size());
        }
        try (WandbFake fake = new WandbFake()) {
            fake.failStatus = 422;
            fake.failCount = 5;
            WandbRun run = start(fake, dir.resolve("b"), withBackoff(10));
            run.log(Map.of("x", 1.0));
            run.finish(0);
            assertEquals(1, fake.graphql("UpsertBucket").size());
            assertEquals(0, fake.requests("/file_stream").size());
        }
    }

    @Test
    void backoffFormulaAndRetryAfterParsing() {
        WandbSettings.Timing t = WandbSettings.Timing.DEFAULT;
        for (int a = 0; a < 8; a++) {
            long w = WandbHttp.backoffMs(a, t);
            double min = Math.min(60_000, 2000 * Math.pow(2, a));
            assertTrue(w >= min && w <= Math.min(60_000, min * 1.25), a + ": " + w);
        }
        assertEquals(60_000, WandbHttp.backoffMs(20, t));
        assertEquals(3000, WandbHttp.retryAfterMs("3"));
        assertEquals(-1, WandbHttp.retryAfterMs(null));
        String date = java.time.format.DateTimeFormatter.RFC_1123_DATE_TIME.format(java.time.ZonedDateTime.now(java.time.ZoneOffset.UTC).plusSeconds(10));
        long ms = WandbHttp.retryAfterMs(date);
        assertTrue(ms > 8000 && ms <= 10_000, ms + " ms");
        assertTrue(WandbHttp.Policy.FILE_STREAM.retryable(429));
        assertTrue(WandbHttp.Policy.FILE_STREAM.retryable(502));
        for (int s : new int[] {400, 401, 403, 404, 409, 410, 413, 422, 501}) assertFalse(WandbHttp.Policy.FILE_STREAM.retryable(s), "" + s);
        assertTrue(WandbHttp.Policy.UPSERT.retryable(409));
        assertFalse(WandbHttp.Policy.UPLOAD.retryable(404));
        assertFalse(WandbHttp.Policy.UPLOAD.retryable(501));
        assertTrue(WandbHttp.Policy.UPLOAD.retryable(503));
    }
}
