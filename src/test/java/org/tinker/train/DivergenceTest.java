package org.tinker.train;

import static org.junit.jupiter.api.Assertions.*;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tinker.config.RunSpec;
import org.tinker.runs.Checkpoint;

/**
 * A training whose weights stop being finite stops with {@link Trainer.Diverged}; the checkpoints written before stay
 * byte for byte as they were, none with broken weights is written, and the run is not marked finished.
 */
class DivergenceTest {
    static final Path ROOT = Path.of(".");

    /** Sets one weight to NaN after optimizer step {@code k}, after taking a snapshot of the run folder's files. */
    static final class BreakWeightsAfter implements TrainingCallback {
        final long k;
        final Path runDir;
        Map<String, byte[]> snapshot;

        BreakWeightsAfter(long k, Path runDir) {
            this.k = k;
            this.runDir = runDir;
        }

        @Override
        public void afterOptimizerStep(Step step) {
            if (step.optSteps() != k) return;
            snapshot = files(runDir);
            NDArray w = step.lm().trainableParameters().values().iterator().next();
            w.muli(Float.NaN);
        }
    }

    static Map<String, byte[]> files(Path dir) {
        Map<String, byte[]> out = new TreeMap<>();
        if (!Files.exists(dir)) return out;
        try (var s = Files.walk(dir)) {
            for (Path p : s.filter(Files::isRegularFile).toList())
                if (!p.getFileName().toString().equals("log.txt")) out.put(dir.relativize(p).toString(), Files.readAllBytes(p));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    /** Trains PTB_TINY (1 epoch, 29 batches) with extra TrainParams lines, breaking the weights after step k. */
    static Trainer.Diverged diverge(Path saved, String trainLines, long k, BreakWeightsAfter[] cbOut) {
        RunSpec spec = TestRuns.spec(TestRuns.set(TestRuns.PTB_TINY, "epochs", "1")
                .replace("[TrainParams]", "[TrainParams]\n" + trainLines));
        Path runDir = saved.resolve("run");
        try (Experiment.Prepared p = Experiment.prepare(spec, Experiment.Setup.quiet(ROOT, saved, true), null)) {
            Trainer t = new Trainer(spec, p.lm(), p.data(), new Trainer.Options(runDir, true, List.of(), System.out, false));
            BreakWeightsAfter cb = new BreakWeightsAfter(k, runDir);
            cbOut[0] = cb;
            t.addCallback(cb);
            return assertThrows(Trainer.Diverged.class, t::train);
        }
    }

    @Test
    void nanLossStopsTheRunAndKeepsTheLastGoodCheckpoint(@TempDir Path saved) throws Exception {
        BreakWeightsAfter[] cb = new BreakWeightsAfter[1];
        // checkpoints after each validation (every 14 batches); broken after step 20, so the next batch's loss is NaN
        Trainer.Diverged e = diverge(saved, "checkpoint_every = -1", 20, cb);
        assertTrue(e.getMessage().contains("training loss is nan after 20 optimizer steps"), e.getMessage());
        assertTrue(e.getMessage().contains("its last checkpoint (120) is kept"), e.getMessage());
        Path runDir = saved.resolve("run");
        assertFalse(cb[0].snapshot.isEmpty(), "a checkpoint was written before the weights broke");
        assertEquals(cb[0].snapshot.keySet(), files(runDir).keySet(), "no checkpoint written after");
        for (var f : cb[0].snapshot.entrySet()) assertArrayEquals(f.getValue(), files(runDir).get(f.getKey()), f.getKey());
        assertFalse(Files.exists(runDir.resolve(Checkpoint.FINAL)));
        assertFalse(Checkpoint.readJson(runDir.resolve("120").resolve(Checkpoint.STATE_FILE)).get("finished").getAsBoolean());
    }

    @Test
    void brokenWeightsAreNeverCheckpointed(@TempDir Path saved) {
        BreakWeightsAfter[] cb = new BreakWeightsAfter[1];
        // a checkpoint every 40 samples (5 batches), with no validation before it: the weights are checked themselves
        Trainer.Diverged e = diverge(saved, "checkpoint_every = 40", 10, cb);
        assertTrue(e.getMessage().contains("is not finite"), e.getMessage());
        assertTrue(e.getMessage().contains("its last checkpoint (40) is kept"), e.getMessage());
        assertFalse(Files.exists(saved.resolve("run").resolve("80")), "the checkpoint of step 10 holds NaN weights: not written");
        try (NDManager m = NDManager.newBaseManager()) {
            for (var w : Checkpoint.readTensors(saved.resolve("run/40").resolve(Checkpoint.MODEL_FILE), m).entrySet())
                assertFalse(w.getValue().isNaN().any().getBoolean(), w.getKey());
        }
    }
}
