package org.tinker.explore;

import static org.junit.jupiter.api.Assertions.*;

import com.google.gson.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tinker.config.RunSpec;
import org.tinker.runs.Checkpoint;
import org.tinker.train.Experiment;
import org.tinker.train.TestRuns;

/** {@code runner verify} on every checkpoint of a healthy run: each is checked against its own val loss, or says it has none. */
class VerifyTest {
    @Test
    void everyCheckpointOfAHealthyRunVerifies(@TempDir Path saved) throws Exception {
        // 29 batches of 8; validation every 15 batches (120 samples); a checkpoint every 40 samples: 40, 80 and 160 fall
        // between validations, 120 and final follow one
        RunSpec spec = TestRuns.spec(TestRuns.set(TestRuns.PTB_TINY, "epochs", "1")
                .replace("[TrainParams]", "[TrainParams]\ncheckpoint_every = 40"));
        Path fin = Experiment.run(spec, Experiment.Setup.quiet(Path.of("."), saved, true)).finalCheckpoint();
        String ts = fin.getParent().getFileName().toString();
        Runs runs = new Runs(saved, Path.of("."), ai.djl.Device.cpu());
        assertTrue(runs.checkpoints(ts).containsAll(List.of("40", "80", "120", "160", "final")), runs.checkpoints(ts).toString());
        for (String ck : List.of("40", "80", "160")) {
            Verify.Report r = Verify.verify(runs, ts, ck);
            assertTrue(r.ok(), r.toString());
            assertTrue(r.toString().contains("no recorded loss for this checkpoint"), r.toString());
        }
        for (String ck : List.of("120", "final")) {
            Verify.Report r = Verify.verify(runs, ts, ck);
            assertTrue(r.ok(), r.toString());
            assertTrue(r.toString().contains("ok    val loss reproduced"), r.toString());
        }
        // a checkpoint written before trainer_state recorded its loss: found in train_stats at its n_train_samples
        Path ck120 = fin.getParent().resolve("120");
        JsonObject state = Checkpoint.readJson(ck120.resolve(Checkpoint.STATE_FILE));
        double recorded = state.get("checkpointValLoss").getAsDouble();
        state.remove("checkpointValLoss");
        Files.writeString(ck120.resolve(Checkpoint.STATE_FILE), state.toString());
        assertEquals(recorded, Checkpoint.recordedValLoss(ck120).getAsDouble(), 0.0);
        assertTrue(Verify.verify(runs, ts, "120").ok());
    }
}
