package org.tinker.track;

import static org.junit.jupiter.api.Assertions.*;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tinker.config.ConfigError;

/** Offline runs write only their spool; wandb-sync sends it, idempotently, resuming a partial sync. */
class WandbOfflineSyncTest {
    static Map<String, Object> row(int i) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("loss", 1.0 / (i + 1));
        m.put("n_train_samples", 8.0 * i);
        return m;
    }

    @Test
    void offlineRunWritesItsSpoolAndWandbSyncSendsItOnce(@TempDir Path dir) throws Exception {
        Path png = dir.resolve("p.png");
        ImageIO.write(new BufferedImage(8, 4, BufferedImage.TYPE_INT_RGB), "png", png.toFile());
        try (WandbFake fake = new WandbFake()) {
            WandbRun run = WandbRun.start(fake.settings(dir, WandbSettings.Mode.OFFLINE), new WandbRun.Init("proj", "name", Map.of("tp.lr", 0.1), null),
                    WandbProtocolTest.out());
            for (int i = 0; i < 20; i++) run.log(row(i));
            run.logImage("plot", png);
            run.finish(0);
            assertEquals(0, fake.server.getRequestCount(), "offline sends nothing");
            Path spool = run.spoolDir();
            assertTrue(spool.getFileName().toString().matches("offline-run-\\d{8}_\\d{6}-" + run.id()), spool.toString());
            assertEquals(spool.getParent(), dir.resolve("wandb"));
            for (String f : List.of("run.json", "wandb-history.jsonl", "wandb-summary.json", "exit.json", "sync-state.json"))
                assertTrue(Files.isRegularFile(spool.resolve(f)), f);
            JsonObject runJson = JsonParser.parseString(Files.readString(spool.resolve("run.json"))).getAsJsonObject();
            assertEquals("proj", runJson.getAsJsonObject("variables").get("project").getAsString());
            assertTrue(runJson.getAsJsonObject("variables").get("config").getAsString().contains("\"tp.lr\":{\"value\":0.1}"));
            assertEquals(21, Files.readAllLines(spool.resolve("wandb-history.jsonl")).size());
            assertTrue(WandbProtocolTest.buf.toString().contains("runner wandb-sync " + spool));

            List<WandbSync.Result> rs = WandbSync.sync(List.of(dir.resolve("wandb")), fake.settings(dir, WandbSettings.Mode.ONLINE),
                    WandbProtocolTest.out());
            assertTrue(rs.get(0).synced(), rs.toString());
            assertEquals(21, rs.get(0).rowsSent());
            assertEquals(21, fake.rows().size());
            for (int i = 0; i < 20; i++) assertEquals(8.0 * i, fake.rows().get(i).get("n_train_samples").getAsDouble());
            assertTrue(fake.complete);
            assertEquals(0, fake.exitcode);
            assertEquals(1, fake.files.size());
            assertEquals(1, fake.uploaded.size());
            assertEquals("name", fake.upserts.get(run.id()).get("displayName").getAsString());
            fake.writes.values().forEach(n -> assertEquals(1, n));
            // again: nothing to do, no request
            int before = fake.server.getRequestCount();
            List<WandbSync.Result> again = WandbSync.sync(List.of(spool), fake.settings(dir, WandbSettings.Mode.ONLINE), WandbProtocolTest.out());
            assertTrue(again.get(0).message().startsWith("already synced"), again.toString());
            assertEquals(before, fake.server.getRequestCount());
        }
    }

    @Test
    void interruptedSyncResumesFromWhatTheServerAcknowledged(@TempDir Path dir) throws Exception {
        try (WandbFake fake = new WandbFake()) {
            WandbRun run = WandbRun.start(fake.settings(dir, WandbSettings.Mode.OFFLINE), new WandbRun.Init("proj", null, Map.of(), null),
                    WandbProtocolTest.out());
            for (int i = 0; i < 2500; i++) run.log(row(i)); // three POSTs of at most 1000 lines
            run.finish(3);
            WandbSettings online = fake.settings(dir, WandbSettings.Mode.ONLINE);
            // the second file_stream POST is refused for good (404): the sync stops after the first 1000 rows
            fake.server.setDispatcher(new okhttp3.mockwebserver.Dispatcher() {
                int n;
                final okhttp3.mockwebserver.Dispatcher inner = fake.server.getDispatcher();

                @Override
                public okhttp3.mockwebserver.MockResponse dispatch(okhttp3.mockwebserver.RecordedRequest r) throws InterruptedException {
                    if (r.getPath().endsWith("/file_stream") && ++n == 2) return new okhttp3.mockwebserver.MockResponse().setResponseCode(404);
                    return inner.dispatch(r);
                }
            });
            WandbSync.Result first = WandbSync.sync(List.of(run.spoolDir()), online, WandbProtocolTest.out()).get(0);
            assertFalse(first.synced(), first.toString());
            assertEquals(1000, first.rowsSent());
            assertEquals(1000, fake.history.size());
            JsonObject st = JsonParser.parseString(Files.readString(run.spoolDir().resolve("sync-state.json"))).getAsJsonObject();
            assertEquals(1000, st.get("history_acked").getAsLong());
            WandbSync.Result second = WandbSync.sync(List.of(run.spoolDir()), online, WandbProtocolTest.out()).get(0);
            assertTrue(second.synced(), second.toString());
            assertEquals(1500, second.rowsSent());
            assertEquals(2500, fake.rows().size());
            fake.writes.values().forEach(n -> assertEquals(1, n, "every row exactly once"));
            assertEquals(3, fake.exitcode, "a failed run stays failed");
            // the resumed sync started at offset 1000
            List<JsonObject> bodies = fake.streamBodies().stream().filter(b -> b.has("files") && b.getAsJsonObject("files").has("wandb-history.jsonl")).toList();
            assertEquals(1000, bodies.get(1).getAsJsonObject("files").getAsJsonObject("wandb-history.jsonl").get("offset").getAsLong());
        }
    }

    @Test
    void syncWithoutKeyIsAOneLineError(@TempDir Path dir) {
        WandbSettings noKey = WandbSettings.fromEnv(Map.of("WANDB_BASE_URL", "http://127.0.0.1:1"), dir).withMode(WandbSettings.Mode.ONLINE);
        var e = assertThrows(ConfigError.class, () -> WandbSync.sync(List.of(dir), noKey, WandbProtocolTest.out()));
        assertTrue(e.getMessage().contains("WANDB_API_KEY"), e.getMessage());
    }
}
