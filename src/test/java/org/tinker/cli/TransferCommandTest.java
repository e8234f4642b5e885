package org.tinker.cli;

import static org.junit.jupiter.api.Assertions.*;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tinker.explore.LoadedRun;
import org.tinker.explore.Runs;
import org.tinker.model.LM;
import org.tinker.model.flexi.WeightTransfer;
import org.tinker.train.Experiment;
import org.tinker.train.TestRuns;

/** {@code runner transfer}: two saved FlexiBERT-space runs; the target's transferred checkpoint holds the source's slices. */
class TransferCommandTest {
    static String flexi(String dict) {
        return TestRuns.set(TestRuns.PTB_TINY, "epochs", "1", "debug_crop", "40")
                + "layer_architecture = \"flexi\"\nmodel_dict = \"" + dict + "\"\n";
    }

    @Test
    void transferWritesACheckpointWithTheSourceSlices(@TempDir Path saved) throws Exception {
        String a = flexi("{'l': 2, 'o': ['sa', 'l'], 'h': [32, 32], 'n': [2, 2], 'f': [[64], [64]], 'p': ['sdp', 'dct']}");
        String b = flexi("{'l': 2, 'o': ['sa', 'c'], 'h': [24, 24], 'n': [2, 2], 'f': [[48], [64]], 'p': ['sdp', 5]}");
        Path root = Path.of(".");
        String src = Experiment.run(TestRuns.spec(a), Experiment.Setup.quiet(root, saved, true)).finalCheckpoint().getParent().getFileName().toString();
        Thread.sleep(1100); // run folders are named by the second
        String dst = Experiment.run(TestRuns.spec(b), Experiment.Setup.quiet(root, saved, true)).finalCheckpoint().getParent().getFileName().toString();
        assertNotEquals(src, dst);

        TransferCommand.Result r = TransferCommand.transfer(saved, src, dst, WeightTransfer.Mode.OD, 0);
        assertTrue(r.report().transferred() > 0 && r.report().kept() > 0, r.report().toString());
        Runs runs = new Runs(saved, root, Device.cpu());
        try (LoadedRun s = runs.get(src); LoadedRun t = runs.get(dst, "transferred", false)) {
            NDArray sw = s.lm().parameters().get("flexi.0.ff.0.weight"), tw = t.lm().parameters().get("flexi.0.ff.0.weight");
            assertArrayEquals(sw.get(":48, :24").toFloatArray(), tw.toFloatArray(), "copied slice equals the source");
            assertArrayEquals(s.lm().parameters().get(LM.WTE).get(":, :24").toFloatArray(), t.lm().parameters().get(LM.WTE).toFloatArray());
        }
        assertEquals(2, Main.run("transfer", "--from", src, "--to", dst, "--mode", "XX",
                "--saved-models", saved.toString()), "a bad mode is a user error");
    }
}
