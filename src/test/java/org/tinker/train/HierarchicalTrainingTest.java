package org.tinker.train;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tinker.config.RunSpec;
import org.tinker.data.DataModule;
import org.tinker.explore.LoadedRun;
import org.tinker.explore.Runs;
import org.tinker.model.Evaluation;

/** The hierarchical transformer trains through the normal Trainer, logs its losses, saves and reloads. */
class HierarchicalTrainingTest {
    static final String CONFIG = TestRuns.set(TestRuns.PTB_TINY, "epochs", "1") + """
            layer_architecture = "hierarchical"
            hierarchies = (1, 2)
            window_sizes = (8, None)
            hierarchy_dims = (32, 16)
            hierarchy_heads = (2, 1)
            """;

    @Test
    void trainsLogsAuxiliaryLossesAndReloads(@TempDir Path saved) throws Exception {
        RunSpec spec = TestRuns.spec(CONFIG);
        Trainer.Result r = Experiment.run(spec, Experiment.Setup.quiet(Path.of("."), saved, true));
        String ts = r.finalCheckpoint().getParent().getFileName().toString();
        Runs runs = new Runs(saved, Path.of("."), ai.djl.Device.cpu());
        try (LoadedRun run = runs.get(ts)) {
            assertTrue(run.lm().isHierarchical());
            assertEquals(spec.mp().hierarchies().toString(), run.lm().params().hierarchies().toString());
            double v = Evaluation.evaluate(run.lm(), run.data(), DataModule.Split.VALID, 8)[0];
            assertEquals(r.finalValLoss(), v, 1e-5, "reloaded weights give the recorded validation loss");
            List<String> names = run.trainStats().names();
            for (String n : List.of("stat/train_batch_ce:main", "stat/train_batch_recon_loss:main", "stat/train_batch_hier_ar_loss:main"))
                assertTrue(names.contains(n), n + " missing from " + names);
            var ce = run.trainStats().get("stat/train_batch_ce:main");
            var total = run.trainStats().get("stat/train_batch_loss:main");
            assertTrue(total.get(0).value() > ce.get(0).value(), "the objective adds the auxiliary losses");
            assertTrue(ce.get(ce.size() - 1).value() < ce.get(0).value() - 0.5, "it learns: " + ce.get(0).value() + " -> " + ce.get(ce.size() - 1).value());
        }
    }
}
