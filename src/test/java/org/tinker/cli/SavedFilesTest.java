package org.tinker.cli;

import static org.junit.jupiter.api.Assertions.*;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tinker.runs.Checkpoint;
import org.tinker.runs.RunStore;
import org.tinker.train.TestRuns;

/**
 * Issue 19, items 4 and 6: a real saved run (tiny PTB), copied for each case, then a file of it corrupted or replaced by
 * a symbolic link, and the real command run on it. Each case: one {@code error:} (or {@code warning:}) line naming the
 * file and what was expected, the right exit code, no trace, nothing written where it should not be.
 */
class SavedFilesTest {
    @TempDir
    static Path shared;
    static Path trained;
    static String ts;

    /** One training of PTB_TINY with a checkpoint at every validation; each test works on its own copy. */
    @BeforeAll
    static void train() throws IOException {
        Path configs = Files.createDirectories(shared.resolve("configs"));
        Files.writeString(configs.resolve("c.txt"), TestRuns.set(TestRuns.PTB_TINY, "checkpoint_every", "-1", "epochs", "1"));
        trained = shared.resolve("saved");
        MainTest.Outcome o = MainTest.run("--config=c", "--configs-dir=" + configs, "--no-wandb", "--save", "--saved-models=" + trained);
        assertEquals(0, o.code(), o.err());
        List<RunStore.Run> runs = new RunStore(trained).list();
        assertEquals(1, runs.size());
        ts = runs.get(0).timestamp();
        assertTrue(runs.get(0).checkpoints().size() >= 2, "an intermediate checkpoint and final: " + runs.get(0).checkpoints());
    }

    /** A copy of the trained saved-models under {@code dir}; returns the copied run's folder. */
    static Path copy(Path dir) throws IOException {
        Path to = dir.resolve("saved");
        try (Stream<Path> s = Files.walk(trained)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                Path q = to.resolve(trained.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(q);
                else Files.copy(p, q);
            }
        }
        return new RunStore(to).find(ts).dir();
    }

    /** The copy made resumable: final/ removed, so resume starts from the last intermediate checkpoint (returned). */
    static Path unfinished(Path run) {
        Checkpoint.deleteTree(run.resolve(Checkpoint.FINAL));
        List<String> cks = new RunStore(run.getParent().getParent().getParent()).find(ts).checkpoints();
        return run.resolve(cks.get(cks.size() - 1));
    }

    static void editState(Path ck, Consumer<JsonObject> edit) throws IOException {
        Path f = ck.resolve(Checkpoint.STATE_FILE);
        JsonObject o = JsonParser.parseString(Files.readString(f)).getAsJsonObject();
        edit.accept(o);
        Files.writeString(f, o.toString());
    }

    static void assertOneLine(MainTest.Outcome o, int code, String prefix, String... words) {
        assertEquals(code, o.code(), "exit code; stderr: " + o.err());
        List<String> lines = o.err().strip().lines().toList();
        assertEquals(1, lines.size(), "one line: " + o.err());
        assertTrue(lines.get(0).startsWith(prefix), o.err());
        for (String w : words) assertTrue(lines.get(0).contains(w), "'" + w + "' in: " + lines.get(0));
    }

    static MainTest.Outcome resume(Path dir) {
        return MainTest.run("resume", "--timestamp=" + ts, "--saved-models=" + dir.resolve("saved"), "--no-wandb");
    }

    static MainTest.Outcome verify(Path dir) {
        return MainTest.run("verify", "--timestamp=" + ts, "--saved-models=" + dir.resolve("saved"));
    }

    // ---------------------------------------------------------------- item 6: list

    @Test
    void listSkipsARunWithATruncatedTrainParamsAndListsTheRest(@TempDir Path dir) throws IOException {
        Path run = copy(dir);
        // a second run beside it, then the first's train_params.json cut in half
        // another second of the same minute (ts itself may carry a collision suffix "-N", which the other drops)
        int sec = Integer.parseInt(ts.substring(18, 20)); // yyyy-MM-dd--HH-mm-ss
        String other = ts.substring(0, 18) + String.format("%02d", (sec + 1) % 60);
        Path second = run.resolveSibling(other);
        try (Stream<Path> s = Files.walk(run)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                Path q = second.resolve(run.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(q);
                else Files.copy(p, q);
            }
        }
        Path params = run.resolve(Checkpoint.FINAL).resolve("train_params.json");
        String text = Files.readString(params);
        Files.writeString(params, text.substring(0, text.length() / 2));
        MainTest.Outcome o = MainTest.run("list", "--saved-models=" + dir.resolve("saved"));
        assertOneLine(o, 0, "warning: ", ts, params.toString(), "expected a JSON object");
        assertTrue(o.out().contains(other), o.out());
        assertFalse(o.out().contains(ts), "the broken run is not listed: " + o.out());
    }

    // ---------------------------------------------------------------- item 6: trainer_state.json on resume

    @Test
    void resumeRefusesAMissingField(@TempDir Path dir) throws IOException {
        Path ck = unfinished(copy(dir));
        editState(ck, o -> o.remove("statSyncer"));
        assertOneLine(resume(dir), 2, "error: ", ck.resolve(Checkpoint.STATE_FILE).toString(), "missing field statSyncer");
    }

    @Test
    void resumeRefusesAFieldOfTheWrongType(@TempDir Path dir) throws IOException {
        Path ck = unfinished(copy(dir));
        editState(ck, o -> o.addProperty("epoch", "one"));
        assertOneLine(resume(dir), 2, "error: ", ck.resolve(Checkpoint.STATE_FILE).toString(), "field epoch", "expected a whole number");
    }

    @Test
    void resumeRefusesAnOddScheduleField(@TempDir Path dir) throws IOException {
        Path ck = unfinished(copy(dir));
        editState(ck, o -> o.addProperty("schedule", "fast"));
        assertOneLine(resume(dir), 2, "error: ", ck.resolve(Checkpoint.STATE_FILE).toString(), "wrong type");
    }

    @Test
    void resumeRefusesATruncatedState(@TempDir Path dir) throws IOException {
        Path ck = unfinished(copy(dir));
        Path f = ck.resolve(Checkpoint.STATE_FILE);
        String text = Files.readString(f);
        Files.writeString(f, text.substring(0, text.length() / 3));
        assertOneLine(resume(dir), 2, "error: ", f.toString(), "expected a JSON object");
    }

    @Test
    void resumeRefusesABatchBeyondTheEpoch(@TempDir Path dir) throws IOException {
        Path ck = unfinished(copy(dir));
        editState(ck, o -> o.addProperty("batchInEpoch", 1_000_000));
        assertOneLine(resume(dir), 2, "error: ", ck.resolve(Checkpoint.STATE_FILE).toString(), "batchInEpoch = 1000000", "batches");
        assertFalse(Files.exists(ck.getParent().resolve(Checkpoint.FINAL)), "the run is not 'finished'");
    }

    @Test
    void resumeRefusesNegativeCounters(@TempDir Path dir) throws IOException {
        Path ck = unfinished(copy(dir));
        editState(ck, o -> o.addProperty("nOptSteps", -3));
        assertOneLine(resume(dir), 2, "error: ", ck.resolve(Checkpoint.STATE_FILE).toString(), "nOptSteps", "negative");
    }

    @Test
    void verifyRefusesAnOddRecordedLoss(@TempDir Path dir) throws IOException {
        Path run = copy(dir);
        editState(run.resolve(Checkpoint.FINAL), o -> o.addProperty("checkpointValLoss", "low"));
        assertOneLine(verify(dir), 2, "error: ", run.resolve(Checkpoint.FINAL).resolve(Checkpoint.STATE_FILE).toString());
    }

    // ---------------------------------------------------------------- item 6: safetensors offsets, non-finite weights

    /** Rewrites a safetensors header (the data stays byte for byte; offsets count from its start). */
    static void editHeader(Path file, Consumer<JsonObject> edit) throws IOException {
        byte[] all = Files.readAllBytes(file);
        long n = ByteBuffer.wrap(all, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        JsonObject h = JsonParser.parseString(new String(all, 8, (int) n, StandardCharsets.UTF_8)).getAsJsonObject();
        edit.accept(h);
        StringBuilder text = new StringBuilder(h.toString());
        while (text.length() % 8 != 0) text.append(' ');
        byte[] nh = text.toString().getBytes(StandardCharsets.UTF_8);
        ByteBuffer out = ByteBuffer.allocate(8 + nh.length + all.length - 8 - (int) n).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(nh.length).put(nh).put(all, 8 + (int) n, all.length - 8 - (int) n);
        Files.write(file, out.array());
    }

    static long[] offsets(JsonObject h, String name) {
        JsonArray a = h.getAsJsonObject(name).getAsJsonArray("data_offsets");
        return new long[] {a.get(0).getAsLong(), a.get(1).getAsLong()};
    }

    static void setOffsets(JsonObject h, String name, long begin, long end) {
        JsonArray a = new JsonArray();
        a.add(begin);
        a.add(end);
        h.getAsJsonObject(name).add("data_offsets", a);
    }

    @Test
    void negativeDataOffsetsAreRefused(@TempDir Path dir) throws IOException {
        Path file = copy(dir).resolve(Checkpoint.FINAL).resolve(Checkpoint.MODEL_FILE);
        editHeader(file, h -> {
            for (Map.Entry<String, com.google.gson.JsonElement> e : h.entrySet()) {
                if (e.getKey().equals("__metadata__")) continue;
                long[] o = offsets(h, e.getKey());
                if (o[0] == 0) {
                    setOffsets(h, e.getKey(), -8, o[1] - 8); // the size still matches: only the sign is wrong
                    return;
                }
            }
            fail("no tensor at offset 0");
        });
        assertOneLine(verify(dir), 2, "error: ", file.toString(), "offsets [-8");
    }

    @Test
    void overlappingDataOffsetsAreRefused(@TempDir Path dir) throws IOException {
        Path run = copy(dir);
        Path file = run.resolve(Checkpoint.FINAL).resolve(Checkpoint.MODEL_FILE);
        editHeader(file, h -> {
            // the second of two tensors of one size made to read the first's bytes
            Map<Long, String> bySize = new java.util.HashMap<>();
            for (Map.Entry<String, com.google.gson.JsonElement> e : h.entrySet()) {
                if (e.getKey().equals("__metadata__")) continue;
                long[] o = offsets(h, e.getKey());
                String first = bySize.putIfAbsent(o[1] - o[0], e.getKey());
                if (first != null) {
                    long[] f = offsets(h, first);
                    setOffsets(h, e.getKey(), f[0], f[1]);
                    return;
                }
            }
            fail("no two tensors of one size");
        });
        assertOneLine(verify(dir), 2, "error: ", file.toString(), "overlap");
        // resume reads checkpoints with the same checks
        Path ck = unfinished(run);
        editHeader(ck.resolve(Checkpoint.MODEL_FILE), h -> {
            List<String> names = h.keySet().stream().filter(k -> !k.equals("__metadata__")).toList();
            for (String a : names)
                for (String b : names) {
                    long[] oa = offsets(h, a), ob = offsets(h, b);
                    if (!a.equals(b) && oa[1] - oa[0] == ob[1] - ob[0]) {
                        setOffsets(h, b, oa[0], oa[1]);
                        return;
                    }
                }
        });
        assertOneLine(resume(dir), 2, "error: ", ck.resolve(Checkpoint.MODEL_FILE).toString(), "overlap");
    }

    @Test
    void verifyReportsNonFiniteWeights(@TempDir Path dir) throws IOException {
        Path file = copy(dir).resolve(Checkpoint.FINAL).resolve(Checkpoint.MODEL_FILE);
        byte[] all = Files.readAllBytes(file);
        long n = ByteBuffer.wrap(all, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        JsonObject h = JsonParser.parseString(new String(all, 8, (int) n, StandardCharsets.UTF_8)).getAsJsonObject();
        String name = h.keySet().stream().filter(k -> !k.equals("__metadata__")
                && h.getAsJsonObject(k).get("dtype").getAsString().equals("F32")).findFirst().orElseThrow();
        int at = 8 + (int) n + (int) offsets(h, name)[0];
        ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN).putFloat(at, Float.NaN);
        Files.write(file, all);
        MainTest.Outcome o = verify(dir);
        assertEquals(1, o.code(), o.out() + o.err());
        assertTrue(o.out().contains("FAIL  non-finite weights") && o.out().contains(name + " (1 of"), o.out());
        assertTrue(o.out().strip().endsWith("verify: FAILED"), o.out());
    }

    @Test
    void verifySaysEveryWeightIsFinite(@TempDir Path dir) throws IOException {
        copy(dir);
        MainTest.Outcome o = verify(dir);
        assertEquals(0, o.code(), o.out() + o.err());
        assertTrue(o.out().contains("ok    every weight is finite"), o.out());
    }

    // ---------------------------------------------------------------- item 4: run files are not followed through links

    @Test
    void resumeDoesNotAppendThroughASymlinkedLog(@TempDir Path dir) throws IOException {
        Path run = copy(dir);
        unfinished(run);
        Path outside = Files.writeString(dir.resolve("outside.txt"), "mine\n");
        Path log = run.resolve("log.txt");
        Files.delete(log);
        Files.createSymbolicLink(log, outside);
        assertOneLine(resume(dir), 2, "error: ", log.toString(), "symbolic link");
        assertEquals("mine\n", Files.readString(outside));
    }

    @Test
    void aNewRunIsNotCreatedThroughASymlinkedTaskFolder(@TempDir Path dir) throws IOException {
        Path saved = Files.createDirectories(dir.resolve("saved"));
        Path outside = Files.createDirectories(dir.resolve("outside"));
        Files.createDirectories(saved.resolve("c"));
        Files.createSymbolicLink(saved.resolve("c/ptb"), outside); // saved/c/ptb → outside
        Path configs = Files.createDirectories(dir.resolve("configs"));
        Files.writeString(configs.resolve("c.txt"), TestRuns.set(TestRuns.PTB_TINY, "epochs", "1"));
        MainTest.Outcome o = MainTest.run("--config=c", "--configs-dir=" + configs, "--no-wandb", "--save", "--saved-models=" + saved);
        assertOneLine(o, 2, "error: ", saved.resolve("c/ptb").toAbsolutePath().toString(), "symbolic link");
        try (Stream<Path> s = Files.list(outside)) {
            assertEquals(0, s.count(), "nothing written where the link points");
        }
    }
}
