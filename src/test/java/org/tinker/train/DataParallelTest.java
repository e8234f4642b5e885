package org.tinker.train;

import static org.junit.jupiter.api.Assertions.*;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tinker.config.RunSpec;
import org.tinker.data.Batch;
import org.tinker.data.DataModule;
import org.tinker.engine.Ops;
import org.tinker.model.Evaluation;
import org.tinker.model.ForwardOptions;
import org.tinker.model.LM;
import org.tinker.model.LossResult;

/**
 * Data-parallel training over CPU replicas (each LM copy in its own NDManager) against one device on the
 * same global batch. The GPU path (replicas on CUDA devices, run in threads) is the same code but is not
 * tested here: this machine has no GPU.
 */
class DataParallelTest {
    static final Path ROOT = Path.of(".");
    static final String SPEC = TestRuns.set(TestRuns.PTB_TINY,
            "dropout", "0.0", "epochs", "1", "max_steps", "6", "accumulate_grad_batches", "2");

    @Test
    void twoReplicasOnHalfBatchesTrainLikeOneOnTheWholeBatch(@TempDir Path saved) {
        RunSpec spec = TestRuns.spec(SPEC);
        Map<String, float[]> single, parallel, init;
        double singleLoss, parallelLoss;
        try (Experiment.Prepared p = Experiment.prepare(spec, Experiment.Setup.quiet(ROOT, saved, false), null)) {
            init = weights(p.lm());
            Trainer t = new Trainer(spec, p.lm(), p.data(), new Trainer.Options(saved, false, List.of(), System.out, false));
            singleLoss = t.train().finalValLoss();
            single = weights(p.lm());
        }
        try (Experiment.Prepared p = Experiment.prepare(spec, Experiment.Setup.quiet(ROOT, saved, false), null);
             DataParallel dp = new DataParallel(p.lm(), List.of(Device.cpu(), Device.cpu()))) {
            Trainer t = new Trainer(spec, p.lm(), p.data(), new Trainer.Options(saved, false, List.of(), System.out, false));
            Trainer.Result r = t.dataParallel(dp).train();
            assertEquals(6, r.optSteps());
            parallelLoss = r.finalValLoss();
            parallel = weights(p.lm());
            assertEquals(0, maxDiff(parallel, weights(dp.replica(1))), "replica 1 holds replica 0's weights after each step");
        }
        double moved = maxDiff(init, single);
        assertTrue(moved > 1e-3, "training moved the weights: " + moved);
        double diff = maxDiff(single, parallel);
        assertTrue(diff < 2e-5, "data-parallel weights differ from single-device ones by " + diff);
        assertEquals(singleLoss, parallelLoss, 1e-5);
    }

    @Test
    void gradientsAreTokenWeightedAcrossUnevenShards(@TempDir Path saved) {
        gradientsMatchTheFullBatch(saved, false);
    }

    @Test
    void replicasInParallelThreadsGiveTheSameGradients(@TempDir Path saved) {
        gradientsMatchTheFullBatch(saved, true); // the way replicas on GPUs run
    }

    void gradientsMatchTheFullBatch(Path saved, boolean concurrent) {
        RunSpec spec = TestRuns.spec(SPEC);
        try (Experiment.Prepared p = Experiment.prepare(spec, Experiment.Setup.quiet(ROOT, saved, false), null)) {
            LM lm = p.lm();
            lm.setTraining(true);
            int[] idx = p.data().batchOrder(DataModule.Split.TRAIN, 7, false, 0)[0]; // 7 rows: shards of 2, 2, 3
            Batch batch = p.data().batch(DataModule.Split.TRAIN, idx);
            Map<String, float[]> reference, parallel;
            double refLoss;
            try (NDManager step = lm.manager().newSubManager()) {
                NDArray ids = Evaluation.idsOf(step, batch), mask = Evaluation.maskOf(step, batch);
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    LossResult r = lm.loss(ids.get(":, :-1"), ids.get(":, 1:"), mask, ForwardOptions.DEFAULT);
                    gc.backward(r.loss());
                    refLoss = Ops.scalar(r.loss());
                }
                reference = gradients(lm);
                lm.zeroGradients();
                try (DataParallel dp = new DataParallel(lm, List.of(Device.cpu(), Device.cpu(), Device.cpu()), concurrent)) {
                    DataParallel.Result r = dp.forwardBackward(ids.get(":, :-1"), ids.get(":, 1:"), mask, ForwardOptions.DEFAULT, 1.0);
                    assertEquals(refLoss, r.loss(), 1e-5);
                    parallel = gradients(lm);
                    assertEquals(0, maxDiff(gradients(dp.replica(2)), zeros(parallel)), "the other replicas' gradients are reset");
                }
                lm.zeroGradients();
                // the shards really hold different numbers of tokens, so a plain mean of shard means would be wrong
                long[] shardTokens = new long[3];
                for (int s = 0, from = 0; s < 3; s++) {
                    int to = 7 * (s + 1) / 3;
                    shardTokens[s] = Math.round(mask.get(from + ":" + to).sum().getFloat());
                    from = to;
                }
                assertFalse(shardTokens[0] == shardTokens[1] && shardTokens[1] == shardTokens[2],
                        "shards differ in tokens: " + java.util.Arrays.toString(shardTokens));
            }
            double scale = maxAbs(reference);
            assertTrue(maxDiff(reference, parallel) < 1e-6 * Math.max(1, scale) + 1e-7,
                    "gradients differ by " + maxDiff(reference, parallel) + " (max |g| " + scale + ")");
        }
    }

    @Test
    void needsTwoDevices() {
        assertThrows(IllegalArgumentException.class, () -> new DataParallel(null, List.of(Device.cpu())));
    }

    static Map<String, float[]> weights(LM lm) {
        Map<String, float[]> out = new LinkedHashMap<>();
        lm.parameters().forEach((k, v) -> out.put(k, v.toFloatArray()));
        return out;
    }

    static Map<String, float[]> gradients(LM lm) {
        Map<String, float[]> out = new LinkedHashMap<>();
        lm.parameters().forEach((k, v) -> {
            try (NDArray g = v.getGradient()) {
                out.put(k, g.toFloatArray());
            }
        });
        return out;
    }

    static Map<String, float[]> zeros(Map<String, float[]> like) {
        Map<String, float[]> out = new LinkedHashMap<>();
        like.forEach((k, v) -> out.put(k, new float[v.length]));
        return out;
    }

    static double maxDiff(Map<String, float[]> a, Map<String, float[]> b) {
        assertEquals(a.keySet(), b.keySet());
        double m = 0;
        for (String k : a.keySet()) {
            float[] x = a.get(k), y = b.get(k);
            for (int i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
        }
        return m;
    }

    static double maxAbs(Map<String, float[]> a) {
        double m = 0;
        for (float[] x : a.values()) for (float v : x) m = Math.max(m, Math.abs(v));
        return m;
    }
}
