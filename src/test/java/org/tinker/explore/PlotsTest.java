package org.tinker.explore;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Charts are written beside their target and renamed over it: never through a symbolic link, never half written. */
class PlotsTest {
    @Test
    void aSymlinkAtTheTargetIsReplacedNotWrittenThrough(@TempDir Path dir) throws Exception {
        Path elsewhere = Files.writeString(dir.resolve("elsewhere.txt"), "keep me");
        Path runs = Files.createDirectories(dir.resolve("run"));
        Path target = runs.resolve("metrics-loss.png");
        Files.createSymbolicLink(target, elsewhere);
        Path written = Plots.lineChart("loss", "n_train_samples", "loss",
                List.of(new Plots.Series("stat/train_loss:main", new double[] {1, 2, 3}, new double[] {3, 2, 1})), target);
        assertEquals(target, written);
        assertEquals("keep me", Files.readString(elsewhere), "the link's target is untouched");
        assertFalse(Files.isSymbolicLink(target));
        assertNotNull(ImageIO.read(target.toFile()), "a PNG in its place");
        try (var files = Files.list(runs)) {
            assertEquals(List.of(target), files.toList(), "no temporary file left");
        }
    }
}
