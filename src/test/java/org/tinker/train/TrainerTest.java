package org.tinker.train;

import static org.junit.jupiter.api.Assertions.*;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tinker.config.RunSpec;
import org.tinker.data.DataModule;
import org.tinker.explore.LoadedRun;
import org.tinker.explore.Runs;
import org.tinker.explore.Verify;
import org.tinker.model.Evaluation;
import org.tinker.runs.Checkpoint;
import org.tinker.runs.Namer;
import org.tinker.runs.RunStore;
import org.tinker.runs.TrainStats;

/** Real training on real data: loss goes down, runs are deterministic, saves reload and resume exactly. */
class TrainerTest {
    static final Path ROOT = Path.of(".");

    @Test
    void shortRealRunOnPtbLowersValidationLoss(@TempDir Path saved) {
        RunSpec spec = TestRuns.spec(TestRuns.PTB_TINY);
        try (Experiment.Prepared p = Experiment.prepare(spec, Experiment.Setup.quiet(ROOT, saved, false), null)) {
            double before = Evaluation.evaluate(p.lm(), p.data(), DataModule.Split.VALID, 8)[0];
            Trainer t = new Trainer(spec, p.lm(), p.data(), new Trainer.Options(saved, false, List.of(), System.out, false));
            Trainer.Result r = t.train();
            assertTrue(r.finalValLoss() < before - 0.5, "val loss " + before + " -> " + r.finalValLoss());
            // the reference's statistics, in its order, all present
            List<String> names = t.stats().names();
            for (String n : List.of("n_train_samples", "n_train_batches", "n_opt_steps", "stat/train_batch_loss:main",
                    "stat/train_batch_acc:main", "avg_lr", "stat/train_loss:main", "stat/train_acc:main", "process_time",
                    "stat/val_loss:main", "stat/val_acc:main"))
                assertTrue(names.contains(n), n + " missing from " + names);
            assertEquals(0, t.stats().get("n_train_samples").get(0).value(), "logged 0 at construction");
            // validations: 2 per epoch × 3 epochs (the final one coincides with the last)
            assertEquals(6, t.stats().get("stat/val_loss:main").size());
            assertEquals(r.finalValLoss(), t.stats().last("stat/val_loss:main"));
            var c = t.stats().get("stat/train_batch_loss:main");
            for (int i = 1; i < c.size(); i++) assertTrue(c.get(i).counter() > c.get(i - 1).counter());
        }
    }

    @Test
    void withoutFinalEvaluationTheRunEndsAtItsLastStep(@TempDir Path saved) {
        RunSpec spec = TestRuns.spec(TestRuns.set(TestRuns.PTB_TINY, "max_steps", "2"));
        try (Experiment.Prepared p = Experiment.prepare(spec, Experiment.Setup.quiet(ROOT, saved, false), null)) {
            Trainer.Result r = new Trainer(spec, p.lm(), p.data(), new Trainer.Options(saved, false, List.of(), System.out, false))
                    .withoutFinalEvaluation().train();
            assertEquals(2, r.optSteps());
            // PTB has validation and test splits: neither was evaluated
            assertTrue(Double.isNaN(r.finalValLoss()) && Double.isNaN(r.testLoss()), r.toString());
        }
    }

    @Test
    void sameConfigAndSeedGiveSameLosses(@TempDir Path saved) {
        RunSpec spec = TestRuns.spec(TestRuns.set(TestRuns.PTB_TINY, "epochs", "1"));
        double[] a = losses(spec, saved), b = losses(spec, saved);
        assertArrayEquals(a, b, 0.0);
        RunSpec other = TestRuns.spec(TestRuns.set(TestRuns.PTB_TINY, "epochs", "1", "random_seed", "8"));
        assertFalse(Arrays.equals(a, losses(other, saved)));
    }

    static double[] losses(RunSpec spec, Path saved) {
        try (Experiment.Prepared p = Experiment.prepare(spec, Experiment.Setup.quiet(ROOT, saved, false), null)) {
            Trainer t = new Trainer(spec, p.lm(), p.data(), new Trainer.Options(saved, false, List.of(), System.out, false));
            t.train();
            return t.stats().get("stat/train_batch_loss:main").stream().mapToDouble(TrainStats.Point::value).toArray();
        }
    }

    @Test
    void savedRunReloadsWithIdenticalLogitsAndVerifies(@TempDir Path saved) throws Exception {
        RunSpec spec = TestRuns.spec(TestRuns.set(TestRuns.PTB_TINY, "epochs", "1"));
        Trainer.Result r = Experiment.run(spec, Experiment.Setup.quiet(ROOT, saved, true));
        Path fin = r.finalCheckpoint();
        for (String f : List.of("model_params.json", "data_params.json", "train_params.json", "train_stats.json", "tokenizer.json",
                "model.safetensors", "optimizer.safetensors", "trainer_state.json"))
            assertTrue(Files.isRegularFile(fin.resolve(f)), f);
        assertTrue(Files.isRegularFile(fin.getParent().resolve("log.txt")));
        String ts = fin.getParent().getFileName().toString();
        assertTrue(RunStore.TIMESTAMP.matcher(ts).matches(), ts);
        assertEquals(saved.resolve("test/ptb/" + ts), fin.getParent());

        Runs runs = new Runs(saved, ROOT, ai.djl.Device.cpu());
        try (LoadedRun a = runs.get(ts); LoadedRun b = runs.get(ts, "final", false)) {
            assertEquals(r.finalValLoss(), a.recordedValLoss());
            for (String name : a.lm().parameters().keySet())
                assertArrayEquals(a.lm().parameters().get(name).toByteArray(), b.lm().parameters().get(name).toByteArray(), name);
            double v = Evaluation.evaluate(a.lm(), a.data(), DataModule.Split.VALID, 8)[0];
            assertEquals(r.finalValLoss(), v, 1e-5);
        }
        Verify.Report report = Verify.verify(runs, ts, "final");
        assertTrue(report.ok(), report.toString());
    }

    @Test
    void resumedRunEndsWithTheSameWeightsAsAnUninterruptedOne(@TempDir Path saved) {
        String cfg = TestRuns.set(TestRuns.PTB_TINY, "epochs", "2") + "\n";
        cfg = cfg.replace("[TrainParams]", "[TrainParams]\ncheckpoint_every = 40\naccumulate_grad_batches = 2");
        RunSpec spec = TestRuns.spec(cfg);
        // uninterrupted
        Path a = saved.resolve("a"), b = saved.resolve("b");
        Trainer.Result full = Experiment.run(spec, Experiment.Setup.quiet(ROOT, a, true));
        // interrupted after 11 batches (the last checkpoint is earlier), then resumed
        Experiment.Setup setupB = Experiment.Setup.quiet(ROOT, b, true);
        Path runDir;
        try (Experiment.Prepared p = Experiment.prepare(spec, setupB, null)) {
            runDir = b.resolve(Namer.saveFolderName(spec, Namer.newTimestamp(b)));
            Trainer t = new Trainer(spec, p.lm(), p.data(), new Trainer.Options(runDir, true, List.of(), System.out, false));
            t.interruptAfter(11);
            assertThrows(Trainer.Interrupted.class, t::train);
        }
        RunStore.Run run = new RunStore(b).list().get(0);
        assertFalse(run.finished());
        assertFalse(run.checkpoints().isEmpty(), "a checkpoint was written before the interruption");
        Trainer.Result resumed = Experiment.resume(run, setupB);
        assertEquals(full.optSteps(), resumed.optSteps());
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> wa = Checkpoint.readTensors(full.finalCheckpoint().resolve(Checkpoint.MODEL_FILE), m);
            Map<String, NDArray> wb = Checkpoint.readTensors(resumed.finalCheckpoint().resolve(Checkpoint.MODEL_FILE), m);
            assertEquals(wa.keySet(), wb.keySet());
            for (String k : wa.keySet()) assertArrayEquals(wa.get(k).toByteArray(), wb.get(k).toByteArray(), k);
        }
        assertEquals(full.finalValLoss(), resumed.finalValLoss(), 0.0);
        // the resumed run's train_stats continue the interrupted ones: one value per batch, no gaps or repeats
        TrainStats sa = TrainStats.fromJson(Checkpoint.readString(full.finalCheckpoint().resolve(Checkpoint.STATS_FILE)));
        TrainStats sb = TrainStats.fromJson(Checkpoint.readString(resumed.finalCheckpoint().resolve(Checkpoint.STATS_FILE)));
        assertEquals(sa.get("stat/train_batch_loss:main"), sb.get("stat/train_batch_loss:main"));
    }

    @Test
    void crashDuringSaveLeavesThePreviousCheckpointReadable(@TempDir Path dir) throws Exception {
        Path ck = dir.resolve("final");
        Checkpoint.writeAtomically(ck, tmp -> Files.writeString(tmp.resolve("a.txt"), "good"));
        assertThrows(java.io.IOException.class, () -> Checkpoint.writeAtomically(ck, tmp -> {
            Files.writeString(tmp.resolve("a.txt"), "half");
            throw new java.io.IOException("disk full");
        }));
        assertEquals("good", Files.readString(ck.resolve("a.txt")));
        try (var s = Files.list(dir)) {
            assertEquals(List.of("final"), s.map(p -> p.getFileName().toString()).toList(), "no temp folders left behind");
        }
    }

    @Test
    void adamWMatchesTheTorchFormula() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray p = m.create(new float[] {1f, -2f});
            p.setRequiresGradient(true);
            LinkedHashMap<String, NDArray> params = new LinkedHashMap<>(Map.of("w", p));
            try (AdamW opt = new AdamW(params, 0.9, 0.999, 1e-8, 0.1)) {
                double[] w = {1, -2}, mm = new double[2], vv = new double[2];
                for (int step = 1; step <= 3; step++) {
                    try (ai.djl.training.GradientCollector gc = ai.djl.engine.Engine.getInstance().newGradientCollector()) {
                        gc.backward(p.square().sum()); // grad = 2w
                    }
                    opt.step(0.01);
                    ai.djl.pytorch.jni.JniUtils.zeroGrad((ai.djl.pytorch.engine.PtNDArray) p);
                    for (int i = 0; i < 2; i++) {
                        double g = 2 * w[i];
                        w[i] *= 1 - 0.01 * 0.1;
                        mm[i] = 0.9 * mm[i] + 0.1 * g;
                        vv[i] = 0.999 * vv[i] + 0.001 * g * g;
                        double mh = mm[i] / (1 - Math.pow(0.9, step)), vh = vv[i] / (1 - Math.pow(0.999, step));
                        w[i] -= 0.01 * mh / (Math.sqrt(vh) + 1e-8);
                    }
                }
                float[] got = p.toFloatArray();
                assertEquals(w[0], got[0], 1e-6);
                assertEquals(w[1], got[1], 1e-6);
            }
        }
    }
}
