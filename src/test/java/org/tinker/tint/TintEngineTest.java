package org.tinker.tint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.tinker.config.TintParams;

/**
 * What only the engine construction has: a batch of sequences in one pass (each with its own train length, icl mask
 * and positions, each getting its own updated prefixes), bfloat16 matmuls, and its parameter count.
 */
class TintEngineTest {
    static TintInput hard;

    @BeforeAll
    static void load() {
        try (NDManager m = NDManager.newBaseManager()) {
            hard = TintFixtures.input("hard64", m);
        }
    }

    @Test
    void aBatchEqualsEachSequenceAlone() {
        long[] a = hard.ids(), b = a.clone();
        for (int t = 0; t < b.length; t++) b[t] = (a[t] * 7 + 3) % hard.aux().V;
        int[] seg = new int[a.length], pos = new int[a.length];
        for (int t = 0; t < a.length; t++) {
            seg[t] = t < 12 ? 0 : t < 24 ? 1 : 2;
            pos[t] = t < 12 ? t : t < 24 ? t - 12 : t - 24;
        }
        IclInput icl = IclInput.segments(seg, pos);
        TintParams c = hard.config().with("n_forward_backward", 2);
        try (TintEngine e = new TintEngine(hard.aux(), c, Device.cpu(), TintEngine.Precision.FLOAT64); NDManager scope = NDManager.newBaseManager()) {
            TintModel.Output alone0 = e.forward(a, hard.nTrain(), IclInput.NONE), alone1 = e.forward(b, 24, icl);
            TintEngine.Result r = e.forward(scope, new long[][] {a, b}, new int[] {hard.nTrain(), 24}, new IclInput[] {IclInput.NONE, icl});
            assertEquals(2, r.finalLogits.getShape().get(0));
            double worst = 0;
            TintModel.Output[] alone = {alone0, alone1};
            for (int i = 0; i < 2; i++) {
                Mat fin = TintEngine.mat(r.finalLogits.get(i).expandDims(0), false), orig = TintEngine.mat(r.originalLogits.get(i).expandDims(0), false);
                worst = Math.max(worst, TintFixtures.relDelta(fin, alone[i].finalLogits, alone[i].originalLogits, 0, fin.rows));
                worst = Math.max(worst, TintFixtures.maxAbsDiff(orig, alone[i].originalLogits));
                // each sequence has its own updated weights (layer 1's V prefix)
                Mat p = TintEngine.mat(r.prefixes.get(1)[3].get(i).expandDims(0), false);
                worst = Math.max(worst, TintFixtures.maxAbsDiff(p, alone[i].prefixes.get(1)[3]) / alone[i].prefixes.get(1)[3].maxAbs());
            }
            System.out.printf("engine, batch of 2 (different train lengths and icl masks, 2 steps) vs each alone: worst %.3g%n", worst);
            assertTrue(worst < 1e-9, "batch vs alone " + worst);
            assertTrue(TintFixtures.maxAbsDiff(alone0.finalLogits, alone1.finalLogits) > 1e-3);
        }
    }

    /**
     * bfloat16 matmuls with float32 accumulation on the default32 fixture (gate 10, float32). The logits come out to
     * about 1.5% (0.2 on logits up to 12.6), and the one-step change of the logits only to about 50%: the update
     * η·Σ δy xᵀ is about 1e-3 of a weight, near bfloat16's resolution (2⁻⁸), so much of it is rounded away when the
     * updated prefixes enter the re-forward's matmuls. The test holds the measured level (the direction of the update
     * is kept: rel 0.51, i.e. a cosine of about 0.86).
     */
    @Test
    void bfloat16KeepsTheDirectionOfTheUpdate() {
        try (NDManager m = NDManager.newBaseManager()) {
            TintInput in = TintFixtures.input("default32", m);
            Map<String, NDArray> exp = TintFixtures.expected("default32", m);
            Mat orig = TintFixtures.mat(exp.get("original_logits")), fin = TintFixtures.mat(exp.get("final_logits"));
            try (TintEngine e = new TintEngine(in.aux(), in.config(), Device.cpu(), TintEngine.Precision.BFLOAT16)) {
                TintModel.Output out = e.forward(in.ids(), in.nTrain());
                double o = TintFixtures.maxAbsDiff(out.originalLogits, orig);
                double rel = TintFixtures.relDelta(out.finalLogits.sub(out.originalLogits).toF32(false), fin.sub(orig), new Mat(fin.rows, fin.cols, false), 0, fin.rows);
                System.out.printf("bfloat16 engine on default32: original max abs %.3g (logits up to %.3g), change of final logits rel %.3g%n", o, orig.maxAbs(), rel);
                assertTrue(o < 0.3, "original " + o);
                assertTrue(rel < 0.75, "rel " + rel);
            }
        }
    }

    @Test
    void parameterCounts() {
        try (TintEngine e = new TintEngine(hard.aux(), hard.config(), Device.cpu(), TintEngine.Precision.FLOAT64)) {
            // prefixes: L·(6+2R)·K·E + K·E, wte, wpe, two gates of 2P+2
            long expected = 2L * 14 * 16 * 192 + 16 * 192 + 97 * 48 + 64 * 48 + 2 * (2 * (64 + 16) + 2);
            assertEquals(expected, e.ownParamCount());
            assertEquals(1_518_814, e.repoParamCount());
            System.out.printf("hard64 engine: own %,d (Mat construction %,d), repo-equivalent %,d%n", e.ownParamCount(),
                    new TintModel(hard.aux(), hard.config()).ownParamCount(), e.repoParamCount());
        }
    }
}
