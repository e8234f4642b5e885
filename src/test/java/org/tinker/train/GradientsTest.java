package org.tinker.train;

import static org.junit.jupiter.api.Assertions.*;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import java.nio.file.Path;
import java.util.LinkedHashMap;
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
import org.tinker.model.LM;

/**
 * A step's gradients on PTB, summed over two micro-batches: taken fresh from autograd (what the trainer does with the
 * fused kernels) they equal what the parameters accumulate in {@code .grad} (the explicit path), and closing leaves
 * no gradient memory behind.
 */
class GradientsTest {
    @Test
    void freshGradientsSumMicroBatchesAsDotGradDoesAndLeaveNothingBehind(@TempDir Path saved) {
        RunSpec spec = TestRuns.spec(TestRuns.set(TestRuns.PTB_TINY, "dropout", "0.0"));
        try (Experiment.Prepared p = Experiment.prepare(spec, Experiment.Setup.quiet(Path.of("."), saved, false), null)) {
            LM lm = p.lm();
            lm.setTraining(true);
            int[][] order = p.data().batchOrder(DataModule.Split.TRAIN, 4, false, 0);
            Set<String> frozen = Set.of(LM.WPE);
            Map<String, float[]> held, fresh;
            Map<String, NDArray> freshArrays;
            try (Gradients g = new Gradients(lm, false)) {
                backwardTwice(lm, p.data(), order, g);
                held = values(g.of(frozen));
            }
            for (NDArray param : lm.parameters().values())
                try (NDArray grad = param.getGradient()) {
                    assertEquals(0, grad.abs().max().getFloat(), "closing zeroes the parameters' .grad");
                }
            try (Gradients g = new Gradients(lm, true)) {
                backwardTwice(lm, p.data(), order, g);
                freshArrays = g.of(frozen);
                fresh = values(freshArrays);
                for (NDArray param : lm.parameters().values())
                    try (NDArray grad = param.getGradient()) {
                        assertEquals(0, grad.abs().max().getFloat(), "nothing went into .grad");
                    }
            }
            assertTrue(freshArrays.values().stream().allMatch(NDArray::isReleased), "closing frees the fresh gradients");
            assertFalse(held.containsKey(LM.WPE), "a frozen parameter has no gradient to step with");
            assertEquals(lm.parameters().size() - 1, held.size());
            assertEquals(held.keySet(), fresh.keySet());
            double scale = 0, diff = 0;
            for (String name : held.keySet()) {
                float[] a = held.get(name), b = fresh.get(name);
                for (int i = 0; i < a.length; i++) {
                    scale = Math.max(scale, Math.abs(a[i]));
                    diff = Math.max(diff, Math.abs(a[i] - b[i]));
                }
            }
            assertTrue(scale > 1e-3, "the gradients are not all zero: " + scale);
            assertTrue(diff <= 1e-6 * scale, "fresh and held gradients differ by " + diff + " (max |g| " + scale + ")");
        }
    }

    /** Two micro-batches of four PTB rows, each backpropagated into {@code g}, each in its own step scope. */
    private static void backwardTwice(LM lm, DataModule data, int[][] order, Gradients g) {
        for (int b = 0; b < 2; b++) {
            Batch batch = data.batch(DataModule.Split.TRAIN, order[b]);
            try (NDManager step = lm.manager().newSubManager();
                 GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray ids = Evaluation.idsOf(step, batch), mask = Evaluation.maskOf(step, batch);
                NDArray loss = lm.loss(ids.get(":, :-1"), ids.get(":, 1:"), mask, ForwardOptions.DEFAULT).loss();
                g.backward(gc, Ops.div(loss, 2));
            }
        }
    }

    private static Map<String, float[]> values(Map<String, NDArray> grads) {
        Map<String, float[]> out = new LinkedHashMap<>();
        grads.forEach((name, a) -> out.put(name, a.toFloatArray()));
        return out;
    }
}
