package org.tinker.train;

import static org.junit.jupiter.api.Assertions.*;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tinker.config.RunSpec;
import org.tinker.data.Batch;
import org.tinker.data.DataModule;
import org.tinker.engine.Ops;
import org.tinker.model.Evaluation;
import org.tinker.model.ForwardOptions;
import org.tinker.runs.Checkpoint;
import org.tinker.runs.Namer;
import org.tinker.runs.RunStore;
import org.tinker.runs.TrainStats;

/**
 * The shipped training-loop recipes ({@link TrainingRecipes}), built by name as a config names them, each with a test
 * that proves the effect, not only that it runs; and a config's {@code callbacks} run through {@link Experiment}, in a
 * fresh run and a resumed one.
 */
class TrainingRecipesTest {
    static final Path ROOT = Path.of(".");
    static final String CONFIG = TestRuns.set(TestRuns.PTB_TINY, "epochs", "1", "dropout", "0.0", "n_layers", "3");

    static TrainingCallback named(String text) {
        List<TrainingCallback> cbs = TrainingRecipes.of(text);
        assertEquals(1, cbs.size());
        return cbs.get(0);
    }

    static Trainer trainer(RunSpec spec, Experiment.Prepared p, Path dir) {
        return new Trainer(spec, p.lm(), p.data(), new Trainer.Options(dir, false, List.of(), System.out, false));
    }

    @Test
    void frozenLayersReallyDoNotChangeInTheirStep(@TempDir Path dir) {
        RunSpec spec = TestRuns.spec(CONFIG);
        try (Experiment.Prepared p = Experiment.prepare(spec, Experiment.Setup.quiet(ROOT, dir, false), null)) {
            Trainer t = trainer(spec, p, dir);
            TrainingCallback freeze = named("freeze_random_layers");
            Map<Long, Set<String>> frozenAt = new HashMap<>();
            Map<Long, Map<String, byte[]>> before = new HashMap<>();
            Map<Long, Map<String, Boolean>> changed = new HashMap<>();
            t.addCallback(new TrainingCallback() { // snapshot weights before each step...
                @Override
                public NDArray inputs(NDArray inputs, Step step) {
                    Map<String, byte[]> snap = new HashMap<>();
                    step.lm().parameters().forEach((n, a) -> snap.put(n, a.toByteArray()));
                    before.put(step.optSteps(), snap);
                    return inputs;
                }
            });
            t.addCallback(new TrainingCallback() { // ...ask the shipped recipe, noting its answer...
                @Override
                public Set<String> frozen(Step step) {
                    Set<String> names = freeze.frozen(step);
                    frozenAt.put(step.optSteps(), names);
                    return names;
                }
            });
            t.addCallback(new TrainingCallback() { // ...and compare after the step
                @Override
                public void afterOptimizerStep(Step step) {
                    Map<String, Boolean> c = new HashMap<>();
                    step.lm().parameters().forEach((n, a) ->
                            c.put(n, !Arrays.equals(a.toByteArray(), before.get(step.optSteps() - 1).get(n))));
                    changed.put(step.optSteps() - 1, c);
                }
            });
            t.train();
            int frozenSeen = 0, trainedSeen = 0;
            for (long s = 0; s < 6; s++) {
                Set<String> frozen = frozenAt.get(s);
                for (String n : frozen) assertTrue(n.startsWith("transformer.h."), n + ": only block parameters freeze");
                for (var e : changed.get(s).entrySet()) {
                    if (frozen.contains(e.getKey())) {
                        assertFalse(e.getValue(), e.getKey() + " was frozen at step " + s + " but changed");
                        frozenSeen++;
                    } else {
                        assertTrue(e.getValue(), e.getKey() + " was trainable at step " + s + " but did not change");
                        trainedSeen++;
                    }
                }
            }
            assertTrue(frozenSeen > 0 && trainedSeen > 0);
        }
    }

    /** The first training batch as the trainer takes it: ids [B,T+1] and loss mask. */
    static Batch firstBatch(RunSpec spec, Experiment.Prepared p) {
        int[][] order = p.data().batchOrder(DataModule.Split.TRAIN, spec.tp().batch_size(), true, spec.tp().random_seed() * 7919L);
        return p.data().batch(DataModule.Split.TRAIN, order[0]);
    }

    /**
     * Every input token replaced (frac = 1, named in the config): the logged first batch loss is the untrained model's loss
     * on the corrupted inputs that a later callback sees, scored against the real targets.
     */
    @Test
    void corruptionChangesWhatTheModelReadsButNotWhatItPredicts(@TempDir Path dir) {
        RunSpec spec = TestRuns.spec(CONFIG.replace("[TrainParams]", "[TrainParams]\ncallbacks = \"corrupt_inputs(1.0)\""));
        try (Experiment.Prepared p = Experiment.prepare(spec, Experiment.Setup.quiet(ROOT, dir, false), null);
             NDManager m = p.manager().newSubManager()) {
            Batch b = firstBatch(spec, p);
            NDArray ids = Evaluation.idsOf(m, b), mask = Evaluation.maskOf(m, b);
            NDArray x = ids.get(":, :-1"), y = ids.get(":, 1:");
            double clean = Ops.scalar(p.lm().loss(x, y, mask, ForwardOptions.DEFAULT).loss());
            long[][] seen = new long[1][];
            double[] onSeen = new double[1];
            Trainer t = trainer(spec, p, dir);
            t.addCallback(new TrainingCallback() { // runs after the config's corrupt_inputs, before the first step
                @Override
                public NDArray inputs(NDArray inputs, Step step) {
                    seen[0] = inputs.toLongArray();
                    NDArray copy = m.create(seen[0], inputs.getShape());
                    onSeen[0] = Ops.scalar(step.lm().loss(copy, y, mask, ForwardOptions.DEFAULT).loss());
                    return inputs;
                }
            });
            t.interruptAfter(1);
            assertThrows(Trainer.Interrupted.class, t::train);
            long[] original = x.toLongArray();
            int differ = 0;
            for (int i = 0; i < original.length; i++) {
                assertTrue(seen[0][i] >= 0 && seen[0][i] < p.lm().vocabSize(), "token ids come from the vocabulary");
                if (seen[0][i] != original[i]) differ++;
            }
            // replacements are uniform over the vocabulary, so a few land on the original token by chance
            assertTrue(differ > 0.95 * original.length, differ + " of " + original.length + " inputs replaced");
            double logged = t.stats().get("stat/train_batch_loss:main").get(0).value();
            assertEquals(onSeen[0], logged, 1e-6, "the model read the corrupted inputs and was scored on the real targets");
            assertNotEquals(clean, logged, 1e-3);
        }
    }

    @Test
    void aFractionOfTheInputsIsReplacedFreshEachBatch(@TempDir Path dir) {
        RunSpec spec = TestRuns.spec(CONFIG);
        try (Experiment.Prepared p = Experiment.prepare(spec, Experiment.Setup.quiet(ROOT, dir, false), null)) {
            Trainer t = trainer(spec, p, dir);
            TrainingCallback corrupt = named("corrupt_inputs(0.2)");
            List<long[]> replacedAt = new java.util.ArrayList<>();
            t.addCallback(new TrainingCallback() {
                @Override
                public NDArray inputs(NDArray inputs, Step step) {
                    NDArray out = corrupt.inputs(inputs, step);
                    long[] a = inputs.toLongArray(), c = out.toLongArray();
                    assertEquals(inputs.getShape(), out.getShape());
                    assertEquals(inputs.getDataType(), out.getDataType());
                    long[] changed = new long[a.length];
                    for (int i = 0; i < a.length; i++) changed[i] = a[i] != c[i] ? 1 : 0;
                    replacedAt.add(changed);
                    return out;
                }
            });
            t.interruptAfter(3);
            assertThrows(Trainer.Interrupted.class, t::train);
            assertEquals(3, replacedAt.size());
            for (long[] changed : replacedAt) {
                double frac = (double) Arrays.stream(changed).sum() / changed.length; // 248 positions: 0.2 ± 0.03
                assertTrue(frac > 0.12 && frac < 0.28, "replaced " + frac);
            }
            assertFalse(Arrays.equals(replacedAt.get(0), replacedAt.get(1)), "other positions at the next batch");
        }
    }

    @Test
    void trackedStatisticLandsInTrainStats(@TempDir Path dir) {
        RunSpec spec = TestRuns.spec(CONFIG);
        try (Experiment.Prepared p = Experiment.prepare(spec, Experiment.Setup.quiet(ROOT, dir, false), null)) {
            Trainer t = trainer(spec, p, dir);
            t.addCallback(named("track_max_param(3)"));
            Trainer.Result r = t.train();
            var points = t.stats().get("max_param");
            assertEquals(r.optSteps() / 3, points.size());
            double max = Double.NEGATIVE_INFINITY;
            for (NDArray a : p.lm().parameters().values()) max = Math.max(max, a.max().getFloat());
            if (r.optSteps() % 3 == 0) assertEquals(max, points.get(points.size() - 1).value(), 0.0);
            assertTrue(points.get(0).nTrainSamples() > 0);
        }
    }

    /**
     * A config's callbacks run in a CLI-style run (Experiment.run) and again in a resumed one: the params saved in the run
     * folder bring them back, and their random choices (step.random()) repeat, so the resumed run ends bit-identical.
     */
    @Test
    void configCallbacksRunInExperimentAndAfterResume(@TempDir Path saved) {
        String cfg = CONFIG.replace("[TrainParams]", """
                [TrainParams]
                callbacks = "freeze_random_layers; corrupt_inputs(0.2); track_max_param(2)"
                checkpoint_every = 40""");
        RunSpec spec = TestRuns.spec(cfg);
        Path a = saved.resolve("a"), b = saved.resolve("b");
        Trainer.Result full = Experiment.run(spec, Experiment.Setup.quiet(ROOT, a, true));
        TrainStats stats = TrainStats.fromJson(Checkpoint.readString(full.finalCheckpoint().resolve(Checkpoint.STATS_FILE)));
        assertEquals(full.optSteps() / 2, stats.get("max_param").size(), "track_max_param(2) ran");
        assertTrue(Checkpoint.readString(full.finalCheckpoint().resolve("train_params.json")).contains("corrupt_inputs(0.2)"));
        // corrupt_inputs ran: the first logged loss is not the untrained model's loss on the clean batch
        try (Experiment.Prepared p = Experiment.prepare(spec, Experiment.Setup.quiet(ROOT, a, false), null);
             NDManager m = p.manager().newSubManager()) {
            Batch batch = firstBatch(spec, p);
            NDArray ids = Evaluation.idsOf(m, batch), mask = Evaluation.maskOf(m, batch);
            double clean = Ops.scalar(p.lm().loss(ids.get(":, :-1"), ids.get(":, 1:"), mask, ForwardOptions.DEFAULT).loss());
            assertNotEquals(clean, stats.get("stat/train_batch_loss:main").get(0).value(), 1e-4);
        }

        Experiment.Setup setupB = Experiment.Setup.quiet(ROOT, b, true);
        try (Experiment.Prepared p = Experiment.prepare(spec, setupB, null)) {
            Path runDir = b.resolve(Namer.saveFolderName(spec, Namer.newTimestamp(b)));
            Trainer t = new Trainer(spec, p.lm(), p.data(), new Trainer.Options(runDir, true, List.of(), System.out, false));
            t.interruptAfter(8);
            assertThrows(Trainer.Interrupted.class, t::train);
        }
        RunStore.Run run = new RunStore(b).list().get(0);
        assertFalse(run.checkpoints().isEmpty(), "a checkpoint was written before the interruption");
        Trainer.Result resumed = Experiment.resume(run, setupB);
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> wa = Checkpoint.readTensors(full.finalCheckpoint().resolve(Checkpoint.MODEL_FILE), m);
            Map<String, NDArray> wb = Checkpoint.readTensors(resumed.finalCheckpoint().resolve(Checkpoint.MODEL_FILE), m);
            for (String k : wa.keySet()) assertArrayEquals(wa.get(k).toByteArray(), wb.get(k).toByteArray(), k);
        }
        TrainStats sb = TrainStats.fromJson(Checkpoint.readString(resumed.finalCheckpoint().resolve(Checkpoint.STATS_FILE)));
        assertEquals(stats.get("max_param"), sb.get("max_param"));
        assertEquals(stats.get("stat/train_batch_loss:main"), sb.get("stat/train_batch_loss:main"));
    }

    /** A benchmark of a config runs its callbacks too, a researcher's own (src/test/java/recipes/CountBatches) among them. */
    @Test
    void aBenchmarkRunsTheConfigsCallbacks() {
        RunSpec spec = TestRuns.spec(CONFIG.replace("[TrainParams]", "[TrainParams]\ncallbacks = \"count_batches; corrupt_inputs(0.1)\""));
        recipes.CountBatches.SEEN.set(0);
        Benchmark.Report r = Benchmark.run(spec, 6, false, ROOT, new java.io.PrintStream(java.io.OutputStream.nullOutputStream()));
        assertEquals(6, r.steps());
        assertEquals(6, recipes.CountBatches.SEEN.get());
    }
}
