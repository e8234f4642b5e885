package org.tinker.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tinker.config.RunSpec;

/**
 * precision = "bf16" really computes in bfloat16 (its losses differ from float32's from the first step on) and
 * follows the float32 loss curve on real data: word-level PTB, 3 epochs of the tiny model.
 */
class MixedPrecisionTest {

    @Test
    void bf16TrainingFollowsTheFloat32LossCurve(@TempDir Path saved) {
        RunSpec fp32 = TestRuns.spec(TestRuns.set(TestRuns.PTB_TINY, "dropout", "0.0"));
        RunSpec bf16 = TestRuns.spec(TestRuns.set(TestRuns.PTB_TINY, "dropout", "0.0", "precision", "\"bf16\""));
        assertEquals("bf16", bf16.tp().precision().spelling());
        double[] a = TrainerTest.losses(fp32, saved), b = TrainerTest.losses(bf16, saved);
        assertEquals(a.length, b.length);
        assertFalse(Arrays.equals(a, b), "bf16 must actually change the arithmetic");
        // Same start (same weights, same first batch): the first losses agree to bfloat16's ~3 significant digits.
        assertEquals(a[0], b[0], 0.02 * a[0], "first batch loss");
        // Over the run: the average of the last quarter of the batch losses within 2% of float32's.
        double lastA = tail(a), lastB = tail(b);
        System.out.printf("PTB tiny, %d batches: first loss fp32 %.4f bf16 %.4f; last-quarter mean fp32 %.4f bf16 %.4f%n",
                a.length, a[0], b[0], lastA, lastB);
        assertTrue(Math.abs(lastA - lastB) <= 0.02 * lastA, "late loss fp32 " + lastA + " vs bf16 " + lastB);
        assertTrue(lastB < b[0] - 1.0, "bf16 training learns: " + b[0] + " -> " + lastB);
    }

    private static double tail(double[] losses) {
        int from = losses.length * 3 / 4;
        return Arrays.stream(losses, from, losses.length).average().orElseThrow();
    }
}
