package org.tinker.track;

import static org.junit.jupiter.api.Assertions.*;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tinker.config.RunSpec;
import org.tinker.runs.Namer;
import org.tinker.runs.RunStore;
import org.tinker.runs.StatsListener;
import org.tinker.runs.TrainStats;
import org.tinker.train.Experiment;
import org.tinker.train.TestRuns;
import org.tinker.train.Trainer;

/** Real (short) training runs logging to a W&B server on loopback, through outages, crashes and resumes. */
class WandbTrainingTest {
    static final Path ROOT = Path.of(".");
    static final String ONE_EPOCH = TestRuns.set(TestRuns.PTB_TINY, "epochs", "1");

    static Experiment.Setup setup(Path saved, boolean save, WandbListener l, PrintStream out) {
        return new Experiment.Setup(ROOT, saved, save, ai.djl.Device.cpu(), out, List.of(l), false);
    }

    /** Statistic rows on the server: one per training step (plus the one at construction), in order, each once. */
    static void assertRowsMatchStats(WandbFake fake, TrainStats stats) {
        assertRowsMatchStats(fake, stats, false);
    }

    /** As above; after a rewind, offsets past the rewind point were written twice (the second write is the one kept). */
    static void assertRowsMatchStats(WandbFake fake, TrainStats stats, boolean rewound) {
        List<JsonObject> rows = fake.rows();
        List<TrainStats.Point> n = stats.get("n_train_samples");
        assertEquals(n.size(), rows.size(), "one row per logged n_train_samples");
        for (int i = 0; i < rows.size(); i++) {
            assertEquals(i, rows.get(i).get("_step").getAsLong());
            assertEquals(n.get(i).value(), rows.get(i).get("n_train_samples").getAsDouble(), 0.0, "row " + i);
        }
        List<TrainStats.Point> loss = stats.get("stat/train_batch_loss:main");
        long withLoss = rows.stream().filter(r -> r.has("stat/train_batch_loss:main")).count();
        assertEquals(loss.size(), withLoss);
        if (!rewound) fake.writes.forEach((off, k) -> assertEquals(1, k, "offset " + off + " written " + k + " times"));
    }

    @Test
    void outageInTheMiddleOfTrainingLosesAndDuplicatesNothing(@TempDir Path dir) throws Exception {
        try (WandbFake fake = new WandbFake()) {
            PrintStream o = WandbProtocolTest.out();
            WandbListener l = new WandbListener(fake.settings(dir, WandbSettings.Mode.ONLINE), null, o);
            Trainer.Result[] result = new Trainer.Result[1];
            Thread outage = new Thread(() -> {
                try {
                    while (fake.history.isEmpty()) Thread.sleep(5);
                    fake.down = true; // 503 for everything
                    Thread.sleep(800);
                    fake.down = false;
                } catch (InterruptedException ignored) {
                    // test over
                }
            });
            outage.start();
            result[0] = Experiment.run(TestRuns.spec(ONE_EPOCH), setup(dir.resolve("saved"), false, l, o));
            outage.join();
            String out = WandbProtocolTest.buf.toString();
            assertTrue(out.contains("nothing unsynced"), out);
            assertTrue(fake.requests().stream().anyMatch(q -> q.path().endsWith("/file_stream")) && fake.complete);
            assertEquals(0, fake.exitcode);
            // the statistics of the run, as train_stats has them (a second, identical run without W&B gives them)
            TrainStats stats = statsOf(ONE_EPOCH, dir);
            assertRowsMatchStats(fake, stats);
            JsonObject v = fake.upserts.values().iterator().next();
            assertEquals("base-test-ptb", v.get("project").getAsString());
            JsonObject config = JsonParser.parseString(v.get("config").getAsString()).getAsJsonObject();
            for (String k : TestRuns.spec(ONE_EPOCH).flat().keySet()) assertTrue(config.has(k), k);
            JsonObject sum = JsonParser.parseString(fake.summary).getAsJsonObject();
            assertEquals(result[0].finalValLoss(), sum.get("stat/val_loss:main").getAsDouble(), 0.0);
            // what the run printed reached its Logs tab (output.log), line by line, the outage notwithstanding
            List<String> console = List.copyOf(fake.outputs.values().iterator().next().values());
            assertTrue(console.stream().anyMatch(s -> s.startsWith("val_loss ")), console.toString());
            assertTrue(console.stream().noneMatch(s -> s.contains("\n")), console.toString());
            // the request log of this run, for reading (target/wandb-requests.log)
            StringBuilder log = new StringBuilder();
            for (WandbFake.Req q : fake.requests())
                log.append(String.format("%.3f %s %s auth=%s%n  %s%n", (q.atNanos() - fake.requests().get(0).atNanos()) / 1e9, q.method(),
                        q.path(), q.auth() == null ? "-" : q.auth().substring(0, 12) + "…", q.body()));
            Files.createDirectories(Path.of("target"));
            Files.writeString(Path.of("target/wandb-requests.log"), log.toString());
        }
    }

    static TrainStats statsOf(String cfg, Path dir) {
        RunSpec spec = TestRuns.spec(cfg);
        try (Experiment.Prepared p = Experiment.prepare(spec, Experiment.Setup.quiet(ROOT, dir, false), null)) {
            Trainer t = new Trainer(spec, p.lm(), p.data(), new Trainer.Options(dir, false, List.of(), System.out, false));
            t.train();
            return t.stats();
        }
    }

    @Test
    void serverGoneForTheRestOfTheRunIsCompletedByWandbSync(@TempDir Path dir) throws Exception {
        try (WandbFake fake = new WandbFake()) {
            WandbSettings s = fake.settings(dir, WandbSettings.Mode.ONLINE);
            WandbSettings.Timing f = s.timing();
            s = s.withTiming(new WandbSettings.Timing(f.batchInterval(), f.heartbeat(), f.backoffBase(), f.backoffMax(), f.initWait(),
                    Duration.ofMillis(500), Duration.ofMillis(300), Duration.ofMillis(300)));
            PrintStream o = WandbProtocolTest.out();
            WandbListener l = new WandbListener(s, null, o);
            Thread dies = new Thread(() -> {
                try {
                    while (fake.history.isEmpty()) Thread.sleep(5);
                    fake.hang = true; // accepts connections, never answers
                } catch (InterruptedException ignored) {
                    // test over
                }
            });
            dies.start();
            Experiment.run(TestRuns.spec(ONE_EPOCH), setup(dir.resolve("saved"), false, l, o));
            dies.join();
            String out = WandbProtocolTest.buf.toString();
            assertTrue(out.contains("still unsynced"), out);
            assertFalse(fake.complete);
            fake.hang = false;
            Path spool;
            try (var st = Files.list(dir.resolve("wandb"))) {
                spool = st.findFirst().orElseThrow();
            }
            WandbSync.Result r = WandbSync.sync(List.of(spool), fake.settings(dir, WandbSettings.Mode.ONLINE), WandbProtocolTest.out()).get(0);
            assertTrue(r.synced(), r.toString());
            assertTrue(fake.complete);
            assertEquals(0, fake.exitcode);
            assertRowsMatchStats(fake, statsOf(ONE_EPOCH, dir));
        }
    }

    @Test
    void savedCheckpointsBecomeVersionsOfTheRunsModelArtifact(@TempDir Path dir) throws Exception {
        String cfg = TestRuns.set(ONE_EPOCH, "checkpoint_every", "200", "wandb_log_checkpoints", "True");
        Path saved = dir.resolve("saved");
        try (WandbFake fake = new WandbFake()) {
            PrintStream o = WandbProtocolTest.out();
            Experiment.run(TestRuns.spec(cfg), setup(saved, true, new WandbListener(fake.settings(dir, WandbSettings.Mode.ONLINE), null, o), o));
            assertTrue(fake.complete);
            String id = fake.upserts.keySet().iterator().next();
            RunStore.Run run = new RunStore(saved).list().get(0);
            List<String> checkpoints = run.checkpoints(); // the periodic ones, oldest first, then final
            List<JsonObject> versions = fake.versions("model-" + id);
            assertEquals(checkpoints.size(), versions.size(), "one version per checkpoint: " + checkpoints);
            assertTrue(checkpoints.size() >= 3, checkpoints.toString());
            for (int i = 0; i < versions.size(); i++) {
                JsonObject v = versions.get(i), in = v.getAsJsonObject("input");
                assertEquals("COMMITTED", v.get("state").getAsString());
                assertEquals("model", in.get("artifactTypeName").getAsString());
                assertEquals(id, in.get("runName").getAsString(), "the run is the artifact's producer");
                JsonObject meta = JsonParser.parseString(in.get("metadata").getAsString()).getAsJsonObject();
                assertEquals(checkpoints.get(i), meta.get("checkpoint").getAsString());
                List<String> aliases = in.getAsJsonArray("aliases").asList().stream().map(a -> a.getAsJsonObject().get("alias").getAsString()).toList();
                assertEquals(i == versions.size() - 1 ? List.of("latest", "step-" + meta.get("step").getAsLong(), "final")
                        : List.of("latest", "step-" + meta.get("step").getAsLong()), aliases);
                // the manifest lists every file of the checkpoint with its size and base64 MD5, and the server holds those bytes
                JsonObject contents = fake.manifest(v.get("id").getAsString()).getAsJsonObject("contents");
                Path ck = run.checkpoint(checkpoints.get(i));
                List<Path> onDisk;
                try (var st = Files.walk(ck)) {
                    onDisk = st.filter(Files::isRegularFile).toList();
                }
                assertEquals(onDisk.size(), contents.size(), contents.keySet().toString());
                for (Path f : onDisk) {
                    JsonObject e = contents.getAsJsonObject(ck.relativize(f).toString());
                    byte[] bytes = Files.readAllBytes(f);
                    assertEquals(Base64.getEncoder().encodeToString(MessageDigest.getInstance("MD5").digest(bytes)), e.get("digest").getAsString(), f.toString());
                    assertEquals(bytes.length, e.get("size").getAsLong());
                    assertArrayEquals(bytes, fake.files.get("artifacts/" + e.get("birthArtifactID").getAsString() + "/" + ck.relativize(f)), f.toString());
                }
            }
            // aliases move to the newest version that names them
            assertEquals(List.of("latest", "step-" + JsonParser.parseString(versions.get(versions.size() - 1).getAsJsonObject("input")
                    .get("metadata").getAsString()).getAsJsonObject().get("step").getAsLong(), "final"),
                    versions.get(versions.size() - 1).getAsJsonArray("aliases").asList().stream().map(JsonElement::getAsString).toList());
            assertTrue(versions.get(0).getAsJsonArray("aliases").asList().stream().noneMatch(a -> a.getAsString().equals("latest")));
        }
    }

    @Test
    void resumeContinuesTheSameRunWithIncreasingStepsAndOffsets(@TempDir Path dir) throws Exception {
        String cfg = ONE_EPOCH.replace("[TrainParams]", "[TrainParams]\ncheckpoint_every = 40");
        RunSpec spec = TestRuns.spec(cfg);
        Path saved = dir.resolve("saved");
        try (WandbFake fake = new WandbFake()) {
            WandbListener l = new WandbListener(fake.settings(dir, WandbSettings.Mode.ONLINE), null, WandbProtocolTest.out());
            Experiment.Setup setup = setup(saved, true, l, WandbProtocolTest.out());
            Path runDir;
            try (Experiment.Prepared p = Experiment.prepare(spec, setup, null)) {
                runDir = saved.resolve(Namer.saveFolderName(spec, Namer.newTimestamp(saved)));
                l.onStart(new StatsListener.RunStart(spec, runDir, true, -1, null));
                Trainer t = new Trainer(spec, p.lm(), p.data(), new Trainer.Options(runDir, true, List.of(l), System.out, false));
                t.interruptAfter(11);
                assertThrows(Trainer.Interrupted.class, t::train);
            }
            assertEquals(1, fake.exitcode, "the interrupted process ends Failed");
            String id = fake.upserts.keySet().iterator().next();
            assertEquals(12, fake.history.size(), "construction + 11 batches");
            RunStore.Run run = new RunStore(saved).list().get(0);
            String ck = run.checkpoints().get(run.checkpoints().size() - 1);
            JsonObject stored = JsonParser.parseString(Files.readString(run.checkpoint(ck).resolve("wandb.json"))).getAsJsonObject();
            assertEquals(id, stored.get("run_id").getAsString(), "the W&B run id is stored with the checkpoint");

            Experiment.resume(run, setup);
            assertEquals(1, fake.upserts.size(), "the same W&B run");
            assertEquals(1, fake.graphql("RunResumeStatus").size());
            assertEquals(0, fake.exitcode, "Finished");
            // rewind to the checkpoint's step (rows are logged at _step = training step): the row the interrupted
            // process logged after its checkpoint is replaced, so every n_train_samples appears once, in order
            long ckSamples = Long.parseLong(ck);
            long ckStep = ckSamples / 8;
            assertEquals(List.of(id + "@" + (double) ckStep), fake.rewinds);
            List<JsonObject> rows = fake.rows();
            for (int i = 0; i < rows.size(); i++) {
                assertEquals(i, rows.get(i).get("_step").getAsLong(), "steps keep increasing");
                if (i > 0) assertTrue(rows.get(i).get("n_train_samples").getAsDouble() > rows.get(i - 1).get("n_train_samples").getAsDouble(),
                        "no folded chart at row " + i);
            }
            JsonObject firstResumed = rows.get((int) ckStep + 1);
            assertEquals(ckSamples + 8, firstResumed.get("n_train_samples").getAsDouble(), 0.0);
            assertRowsMatchStats(fake, statsOf(cfg, dir.resolve("again")), true);
            // the resumed process's upsert names the run's storage id, as the official client's does
            assertEquals("storage-" + id, fake.graphql("UpsertBucket").get(fake.graphql("UpsertBucket").size() - 1).json()
                    .getAsJsonObject("variables").get("id").getAsString());
            List<JsonObject> bodies = fake.streamBodies().stream().filter(b -> b.has("files") && b.getAsJsonObject("files").has("wandb-history.jsonl")).toList();
            int firstRows = (int) ckStep + 1;
            assertTrue(bodies.stream().anyMatch(b -> b.getAsJsonObject("files").getAsJsonObject("wandb-history.jsonl").get("offset").getAsLong() == firstRows));
        }
    }
}
