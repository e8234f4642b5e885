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
            // the official layout: run-{id}.wandb, files/, logs/, and wandb/latest-run pointing at the folder
            Path log = spool.resolve("run-" + run.id() + ".wandb");
            assertTrue(Files.isRegularFile(log));
            assertTrue(Files.isDirectory(spool.resolve("logs")));
            assertTrue(Files.isRegularFile(spool.resolve("files/media/images").resolve(
                    Files.list(spool.resolve("files/media/images")).findFirst().orElseThrow().getFileName())));
            assertEquals(spool.toRealPath(), dir.resolve("wandb/latest-run").toRealPath());
            // read back record by record against the schema: header, run, metrics, 21 history rows, files, summary, exit, final
            List<com.google.protobuf.DynamicMessage> recs = new java.util.ArrayList<>();
            for (byte[] b : TransactionLog.read(log)) recs.add(WandbProto.parse(b));
            List<String> kinds = recs.stream().map(WandbProto::kind).toList();
            assertEquals(List.of("header", "run", "metric", "metric"), kinds.subList(0, 4));
            assertEquals(List.of("summary", "exit", "final"), kinds.subList(kinds.size() - 3, kinds.size()));
            assertEquals(21, kinds.stream().filter("history"::equals).count());
            assertEquals(5, kinds.stream().filter("files"::equals).count(), "metadata, requirements, config.yaml, the image, the summary at the end");
            var runRec = WandbProto.sub(recs.get(1), "run");
            assertEquals(run.id(), WandbProto.str(runRec, "run_id"));
            assertEquals("proj", WandbProto.str(runRec, "project"));
            assertEquals("name", WandbProto.str(runRec, "display_name"));
            var configItem = WandbProto.<com.google.protobuf.DynamicMessage>list(WandbProto.sub(runRec, "config"), "update").get(0);
            assertEquals("tp.lr", WandbProto.str(configItem, "key"));
            assertEquals("0.1", WandbProto.str(configItem, "value_json"));
            var h5 = WandbProto.sub(recs.stream().filter(r -> "history".equals(WandbProto.kind(r))).toList().get(5), "history");
            assertEquals(5, WandbProto.num(WandbProto.sub(h5, "step"), "num"));
            Map<String, String> items = new LinkedHashMap<>();
            for (var it : WandbProto.<com.google.protobuf.DynamicMessage>list(h5, "item")) items.put(WandbProto.str(it, "key"), WandbProto.str(it, "value_json"));
            assertEquals(List.of("loss", "n_train_samples", "_step", "_runtime", "_timestamp"), List.copyOf(items.keySet()));
            assertEquals(1.0 / 6, Double.parseDouble(items.get("loss")));
            assertEquals("40.0", items.get("n_train_samples"));
            List<String> filePaths = new java.util.ArrayList<>();
            for (int i = 0; i < recs.size(); i++)
                if (kinds.get(i).equals("files"))
                    for (var f : WandbProto.<com.google.protobuf.DynamicMessage>list(WandbProto.sub(recs.get(i), "files"), "files"))
                        filePaths.add(WandbProto.str(f, "path"));
            assertTrue(filePaths.get(filePaths.size() - 2).startsWith("media/images/plot_20_"), filePaths.toString());
            assertEquals("wandb-summary.json", filePaths.get(filePaths.size() - 1), "the summary file, written at the end");
            assertEquals(0, WandbProto.num(WandbProto.sub(recs.get(kinds.indexOf("exit")), "exit"), "exit_code"));
            assertTrue(WandbProtocolTest.buf.toString().contains("runner wandb-sync " + spool));

            List<WandbSync.Result> rs = WandbSync.sync(List.of(dir.resolve("wandb")), fake.settings(dir, WandbSettings.Mode.ONLINE),
                    WandbProtocolTest.out());
            assertTrue(rs.get(0).synced(), rs.toString());
            assertEquals(21, rs.get(0).rowsSent());
            assertEquals(21, fake.rows().size());
            for (int i = 0; i < 20; i++) assertEquals(8.0 * i, fake.rows().get(i).get("n_train_samples").getAsDouble());
            assertTrue(fake.complete);
            assertEquals(0, fake.exitcode);
            assertEquals(5, fake.files.size()); // the four above and wandb-summary.json
            assertEquals(5, fake.uploaded.size());
            // a full run page: metadata, the dependency list, config.yaml
            JsonObject meta = JsonParser.parseString(new String(fake.files.get("wandb-metadata.json"))).getAsJsonObject();
            for (String k : List.of("host", "program", "args", "java", "tinker", "cpu_count", "gpu_count", "startedAt")) assertTrue(meta.has(k), k);
            assertTrue(meta.get("cpu_count").getAsInt() > 0);
            assertTrue(new String(fake.files.get("requirements.txt")).contains("okhttp==4.12.0"));
            assertTrue(new String(fake.files.get("config.yaml")).contains("tp.lr:\n  value: 0.1"), new String(fake.files.get("config.yaml")));
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
    void reSyncingAFolderWhoseRunHasRowsAppendsAfterThem(@TempDir Path dir) throws Exception {
        try (WandbFake fake = new WandbFake()) {
            WandbRun run = WandbRun.start(fake.settings(dir, WandbSettings.Mode.OFFLINE), new WandbRun.Init("proj", null, Map.of(), null),
                    WandbProtocolTest.out());
            for (int i = 0; i < 5; i++) run.log(row(i));
            run.finish(0);
            WandbSettings online = fake.settings(dir, WandbSettings.Mode.ONLINE);
            assertTrue(WandbSync.sync(List.of(run.spoolDir()), online, WandbProtocolTest.out()).get(0).synced());
            // the same folder elsewhere, without tinker's sync state (what `wandb sync` would see): rows go after the run's
            Path copy = dir.resolve("elsewhere/wandb/" + run.spoolDir().getFileName());
            try (var all = Files.walk(run.spoolDir())) {
                for (Path p : all.toList()) {
                    Path to = copy.resolve(run.spoolDir().relativize(p).toString());
                    if (Files.isDirectory(p)) Files.createDirectories(to);
                    else if (!p.getFileName().toString().equals("sync-state.json")) Files.copy(p, to);
                }
            }
            WandbSync.Result again = WandbSync.sync(List.of(copy), online, WandbProtocolTest.out()).get(0);
            assertTrue(again.synced(), again.toString());
            assertEquals(10, fake.rows().size());
            fake.writes.values().forEach(n -> assertEquals(1, n, "nothing written over"));
            assertEquals(5, fake.graphql("UpsertBucket").size() > 1 ? fake.streamBodies().stream()
                    .filter(b -> b.has("files") && b.getAsJsonObject("files").has("wandb-history.jsonl")).toList().get(1)
                    .getAsJsonObject("files").getAsJsonObject("wandb-history.jsonl").get("offset").getAsLong() : -1);
        }
    }

    @Test
    void foldersOfOlderTinkerVersionsStillSync(@TempDir Path dir) throws Exception {
        Path old = dir.resolve("wandb/offline-run-20250101_000000-oldrun01");
        Files.createDirectories(old.resolve("files"));
        Files.writeString(old.resolve("run.json"), "{\"base_url\":\"x\",\"mode\":\"offline\",\"variables\":{\"name\":\"oldrun01\","
                + "\"project\":\"proj\",\"entity\":null,\"config\":\"{}\",\"jobType\":\"train\"},\"history_offset\":0,\"start_step\":0}");
        Files.writeString(old.resolve("wandb-history.jsonl"), "{\"loss\":1.0,\"_step\":0}\n{\"loss\":0.5,\"_step\":1}\n");
        Files.writeString(old.resolve("exit.json"), "{\"exitcode\":0}");
        try (WandbFake fake = new WandbFake()) {
            WandbSync.Result r = WandbSync.sync(List.of(dir.resolve("wandb")), fake.settings(dir, WandbSettings.Mode.ONLINE),
                    WandbProtocolTest.out()).get(0);
            assertTrue(r.synced(), r.toString());
            assertEquals(2, fake.rows().size());
            assertEquals(0.5, fake.rows().get(1).get("loss").getAsDouble());
            assertTrue(fake.complete);
        }
    }

    @Test
    void anOfflineRunsArtifactIsRecordedInItsLogAndWandbSyncUploadsIt(@TempDir Path dir) throws Exception {
        Path model = dir.resolve("model"); // a copy of a real model folder: staging links to it, and must leave it whole
        Files.createDirectories(model);
        try (var st = Files.list(Path.of("src/test/resources/tiny-gpt2"))) {
            for (Path f : st.toList()) Files.copy(f, model.resolve(f.getFileName()));
        }
        try (WandbFake fake = new WandbFake()) {
            WandbRun run = WandbRun.start(fake.settings(dir, WandbSettings.Mode.OFFLINE), new WandbRun.Init("proj", "name", Map.of(), null),
                    WandbProtocolTest.out());
            run.log(row(0));
            assertTrue(run.logArtifact("model-" + run.id(), "model", model, List.of("latest", "step-0"), null));
            run.finish(0);
            // an ArtifactRecord as the official client's offline runs write it: the run's output, finalized, files staged
            var rec = TransactionLog.read(Spool.logFile(run.spoolDir())).stream().map(b -> {
                try {
                    return WandbProto.parse(b);
                } catch (java.io.IOException e) {
                    throw new AssertionError(e);
                }
            }).filter(r -> "artifact".equals(WandbProto.kind(r))).map(r -> WandbProto.sub(r, "artifact")).findFirst().orElseThrow();
            assertEquals("model", WandbProto.str(rec, "type"));
            assertEquals(List.of("latest", "step-0"), WandbProto.list(rec, "aliases"));
            assertTrue(WandbProto.bool(rec, "finalize") && !WandbProto.bool(rec, "user_created"));
            var contents = WandbProto.<com.google.protobuf.DynamicMessage>list(WandbProto.sub(rec, "manifest"), "contents");
            assertEquals(9, contents.size());
            for (var e : contents) assertTrue(Path.of(WandbProto.str(e, "local_path")).startsWith(run.spoolDir().resolve("artifacts")));

            Path moved = dir.resolve("elsewhere"); // a folder synced from another place sends the files it holds
            Files.move(run.spoolDir(), moved);
            assertTrue(WandbSync.sync(List.of(moved), fake.settings(dir, WandbSettings.Mode.ONLINE), WandbProtocolTest.out()).get(0).synced());
            List<JsonObject> versions = fake.versions("model-" + run.id());
            assertEquals(1, versions.size());
            assertEquals("COMMITTED", versions.get(0).get("state").getAsString());
            assertEquals(run.id(), versions.get(0).getAsJsonObject("input").get("runName").getAsString());
            JsonObject manifest = fake.manifest(versions.get(0).get("id").getAsString()).getAsJsonObject("contents");
            for (var e : contents) {
                byte[] bytes = Files.readAllBytes(model.resolve(WandbProto.str(e, "path")));
                assertEquals(Artifacts.md5(bytes), manifest.getAsJsonObject(WandbProto.str(e, "path")).get("digest").getAsString());
                assertArrayEquals(bytes, fake.files.get("artifacts/" + versions.get(0).get("id").getAsString() + "/" + WandbProto.str(e, "path")));
            }
            try (var st = Files.list(moved.resolve("artifacts"))) {
                assertEquals(0, st.count(), "the staged files go once the artifact is committed");
            }
            try (var st = Files.list(model)) {
                assertEquals(9, st.count(), "the logged folder is untouched");
            }
            int requests = fake.server.getRequestCount();
            assertTrue(WandbSync.sync(List.of(moved), fake.settings(dir, WandbSettings.Mode.ONLINE), WandbProtocolTest.out()).get(0).synced());
            assertEquals(requests, fake.server.getRequestCount(), "a second sync sends nothing");
        }
    }

    @Test
    void syncWithoutKeyIsAOneLineError(@TempDir Path dir) {
        WandbSettings noKey = WandbSettings.fromEnv(Map.of("WANDB_BASE_URL", "http://127.0.0.1:1"), dir).withMode(WandbSettings.Mode.ONLINE);
        var e = assertThrows(ConfigError.class, () -> WandbSync.sync(List.of(dir), noKey, WandbProtocolTest.out()));
        assertTrue(e.getMessage().contains("WANDB_API_KEY"), e.getMessage());
    }
}
