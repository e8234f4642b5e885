package org.tinker.train;

import static org.junit.jupiter.api.Assertions.*;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tinker.config.RunSpec;
import org.tinker.data.Batch;
import org.tinker.data.DataModule;
import org.tinker.model.ForwardOptions;

/**
 * The reference README's training-loop recipes, as tinker callbacks (README "Customising the training
 * loop"), each with a test that proves the effect, not only that it runs.
 */
class TrainingRecipesTest {
    static final String CONFIG = TestRuns.PTB_TINY.replace("epochs = 3", "epochs = 1").replace("dropout = 0.1", "dropout = 0.0")
            .replace("n_layers = 1", "n_layers = 3");

    /** Recipe: freeze a random subset of the layers at every batch. */
    static final class FreezeRandomLayers implements TrainingCallback {
        final Map<Long, Set<String>> frozenAt = new HashMap<>();

        @Override
        public Set<String> frozen(Step step) {
            Set<String> names = new HashSet<>();
            for (int l = 0; l < step.lm().params().n_layers(); l++)
                if (step.random().nextBoolean())
                    for (String n : step.lm().parameters().keySet()) if (n.startsWith("transformer.h." + l + ".")) names.add(n);
            frozenAt.put(step.optSteps(), names);
            return names;
        }
    }

    @Test
    void frozenLayersReallyDoNotChangeInTheirStep(@TempDir Path dir) {
        RunSpec spec = TestRuns.spec(CONFIG);
        try (Experiment.Prepared p = Experiment.prepare(spec, Experiment.Setup.quiet(Path.of("."), dir, false), null)) {
            Trainer t = new Trainer(spec, p.lm(), p.data(), new Trainer.Options(dir, false, List.of(), System.out, false));
            FreezeRandomLayers freeze = new FreezeRandomLayers();
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
            t.addCallback(freeze);
            t.addCallback(new TrainingCallback() { // ...and compare after it
                @Override
                public void afterOptimizerStep(Step step) {
                    Map<String, Boolean> c = new HashMap<>();
                    step.lm().parameters().forEach((n, a) ->
                            c.put(n, !java.util.Arrays.equals(a.toByteArray(), before.get(step.optSteps() - 1).get(n))));
                    changed.put(step.optSteps() - 1, c);
                }
            });
            t.train();
            int frozenSeen = 0, trainedSeen = 0;
            for (long s = 0; s < 6; s++) {
                Set<String> frozen = freeze.frozenAt.get(s);
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

    /** Recipe: corrupt the input (here: every input token becomes token 0), never the target. */
    static final class CorruptInputs implements TrainingCallback {
        final double fraction;

        CorruptInputs(double fraction) {
            this.fraction = fraction;
        }

        @Override
        public NDArray inputs(NDArray inputs, Step step) {
            NDArray keep = inputs.getManager().randomUniform(0, 1, inputs.getShape()).gte(fraction);
            return inputs.mul(keep.toType(inputs.getDataType(), false)); // corrupted positions read token 0
        }
    }

    @Test
    void corruptionChangesWhatTheModelReadsButNotWhatItPredicts(@TempDir Path dir) {
        RunSpec spec = TestRuns.spec(CONFIG);
        try (Experiment.Prepared p = Experiment.prepare(spec, Experiment.Setup.quiet(Path.of("."), dir, false), null)) {
            // the first training batch, and the losses of the untrained model on it with and without corruption
            int[][] order = p.data().batchOrder(DataModule.Split.TRAIN, 8, true, spec.tp().random_seed() * 7919L);
            Batch b = p.data().batch(DataModule.Split.TRAIN, order[0]);
            double clean, corrupted;
            try (NDManager m = p.manager().newSubManager()) {
                NDArray ids = Trainer.idsOf(m, b), mask = Trainer.maskOf(m, b);
                NDArray x = ids.get(":, :-1"), y = ids.get(":, 1:");
                clean = Trainer.scalar(p.lm().loss(x, y, mask, ForwardOptions.DEFAULT).loss());
                corrupted = Trainer.scalar(p.lm().loss(x.zerosLike(), y, mask, ForwardOptions.DEFAULT).loss());
            }
            Trainer t = new Trainer(spec, p.lm(), p.data(), new Trainer.Options(dir, false, List.of(), System.out, false));
            t.addCallback(new CorruptInputs(1.0));
            t.interruptAfter(1);
            assertThrows(Trainer.Interrupted.class, t::train);
            double logged = t.stats().get("stat/train_batch_loss:main").get(0).value();
            assertEquals(corrupted, logged, 1e-6, "the model read corrupted inputs and was scored on the real targets");
            assertNotEquals(clean, logged, 1e-3);
        }
    }

    /** Recipe: track the largest parameter value every N optimizer steps, as a statistic. */
    static final class TrackMaxParam implements TrainingCallback {
        final int every;

        TrackMaxParam(int every) {
            this.every = every;
        }

        @Override
        public void afterOptimizerStep(Step step) {
            if (step.optSteps() % every != 0) return;
            double max = Double.NEGATIVE_INFINITY;
            for (NDArray a : step.lm().parameters().values()) max = Math.max(max, a.max().getFloat());
            step.log("max_param", max);
        }
    }

    @Test
    void trackedStatisticLandsInTrainStats(@TempDir Path dir) {
        RunSpec spec = TestRuns.spec(CONFIG);
        try (Experiment.Prepared p = Experiment.prepare(spec, Experiment.Setup.quiet(Path.of("."), dir, false), null)) {
            Trainer t = new Trainer(spec, p.lm(), p.data(), new Trainer.Options(dir, false, List.of(), System.out, false));
            t.addCallback(new TrackMaxParam(3));
            Trainer.Result r = t.train();
            var points = t.stats().get("max_param");
            assertEquals(r.optSteps() / 3, points.size());
            double max = Double.NEGATIVE_INFINITY;
            for (NDArray a : p.lm().parameters().values()) max = Math.max(max, a.max().getFloat());
            if (r.optSteps() % 3 == 0) assertEquals(max, points.get(points.size() - 1).value(), 0.0);
            assertTrue(points.get(0).nTrainSamples() > 0);
        }
    }
}
