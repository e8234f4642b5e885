package org.tinker.track;

import static org.junit.jupiter.api.Assertions.*;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tinker.cli.Main;
import org.tinker.runs.RunStore;
import org.tinker.train.Experiment;
import org.tinker.train.TestRuns;

/** A real run's metric plots reach W&B as images when it ends, as the runner wires it. */
class WandbPlotsTest {
    @Test
    void theRunsLossPlotIsUploadedAndLoggedAsAnImage(@TempDir Path dir) throws Exception {
        try (WandbFake fake = new WandbFake()) {
            PrintStream o = WandbProtocolTest.out();
            WandbListener l = new WandbListener(fake.settings(dir, WandbSettings.Mode.ONLINE), null, o).withEndImages(Main::metricPlots);
            Path saved = dir.resolve("saved");
            Experiment.run(TestRuns.spec(WandbTrainingTest.ONE_EPOCH), new Experiment.Setup(Path.of("."), saved, true,
                    ai.djl.Device.cpu(), o, List.of(l), false));
            Path png = new RunStore(saved).list().get(0).dir().resolve("metrics-loss.png");
            assertTrue(Files.isRegularFile(png), "the plot is kept beside the saved run");
            byte[] bytes = Files.readAllBytes(png);
            assertTrue(fake.files.values().stream().anyMatch(b -> java.util.Arrays.equals(b, bytes)), "the PNG's bytes were uploaded");
            assertTrue(fake.rows().stream().anyMatch(r -> r.has("metrics/loss")
                    && r.getAsJsonObject("metrics/loss").get("_type").getAsString().equals("image-file")), "an image-file history value");
            assertTrue(fake.complete);
        }
    }
}
