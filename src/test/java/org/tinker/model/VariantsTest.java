package org.tinker.model;

import static org.junit.jupiter.api.Assertions.*;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.tinker.config.ConfigError;
import org.tinker.config.ConfigFile;
import org.tinker.config.Grid;
import org.tinker.config.ModelParams;
import org.tinker.config.RunSpec;
import org.tinker.engine.Ops;
import org.tinker.gpt2.Gpt2Config;

/** Each variant a config value selects, checked against an independent computation (not only that it runs). */
class VariantsTest extends WithBaseManager {
    private static double[] rnd(int n, long seed) {
        Random r = new Random(seed);
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = r.nextGaussian();
        return v;
    }

    @Test
    void rmsNormIsScaleOverRootMeanSquare() {
        try (NDManager m = base.newSubManager()) {
            double[] x = rnd(2 * 5, 1), w = rnd(5, 2);
            double[] got = Ops.rmsNorm(m.create(x, new Shape(2, 5)), m.create(w), 1e-5).toDoubleArray();
            for (int r = 0; r < 2; r++) {
                double ms = 0;
                for (int i = 0; i < 5; i++) ms += x[r * 5 + i] * x[r * 5 + i] / 5;
                for (int i = 0; i < 5; i++) assertEquals(x[r * 5 + i] / Math.sqrt(ms + 1e-5) * w[i], got[r * 5 + i], 1e-9);
            }
        }
    }

    @Test
    void gatedActivationsAreActOfGateTimesUp() {
        try (NDManager m = base.newSubManager()) {
            int d = 3, ff = 4;
            double[] x = rnd(d, 3), w = rnd(2 * ff * d, 4), b = rnd(2 * ff, 5);
            for (String act : List.of("swiglu", "geglu")) {
                double[] got = Layers.ffHidden(m.create(x, new Shape(1, d)), m.create(w, new Shape(2 * ff, d)), m.create(b), ModelParams.Activation.valueOf(act.toUpperCase()))
                        .toDoubleArray();
                assertEquals(ff, got.length);
                for (int j = 0; j < ff; j++) {
                    double gate = b[j], up = b[ff + j];
                    for (int i = 0; i < d; i++) {
                        gate += w[j * d + i] * x[i];
                        up += w[(ff + j) * d + i] * x[i];
                    }
                    double a = act.equals("swiglu") ? gate / (1 + Math.exp(-gate))
                            : 0.5 * gate * (1 + erf(gate / Math.sqrt(2)));
                    assertEquals(a * up, got[j], 1e-6, act);
                }
            }
        }
    }

    /** Abramowitz–Stegun 7.1.26 is too coarse; a series is exact enough for |x| < 4. */
    private static double erf(double x) {
        double sum = 0, term = x;
        for (int n = 0; n < 200; n++) {
            sum += term / (2 * n + 1);
            term *= -x * x / (n + 1);
        }
        return 2 / Math.sqrt(Math.PI) * sum;
    }

    /** Rotary: the score of two rotated vectors depends only on their distance, and the rotation keeps norms. */
    @Test
    void rotaryScoresDependOnlyOnRelativePosition() {
        ModelParams mp = Tiny.params("torch-transformer").with("norm_first", true).with("pos_encoding", "rotary");
        try (LM lm = new LM(mp, Tiny.V, base, 1); NDManager m = base.newSubManager()) {
            int hd = mp.headDim(), t = Tiny.MAX_T;
            double[] q = rnd(hd, 7), k = rnd(hd, 8);
            double[] qs = new double[t * hd], ks = new double[t * hd];
            for (int p = 0; p < t; p++) {
                System.arraycopy(q, 0, qs, p * hd, hd);
                System.arraycopy(k, 0, ks, p * hd, hd);
            }
            NDArray anchor = m.create(0f);
            Block.Pass pass = lm.pass(0, t, anchor, null, 0, 0, false, null, null, null, null);
            NDArray rq = pass.rope(m.create(qs, new Shape(1, 1, t, hd)).toType(DataType.FLOAT32, false));
            NDArray rk = pass.rope(m.create(ks, new Shape(1, 1, t, hd)).toType(DataType.FLOAT32, false));
            float[] scores = rq.matMul(rk.swapAxes(2, 3)).toFloatArray(); // [t,t]
            assertEquals(scores[2 * t + 0], scores[7 * t + 5], 1e-4, "offset 2 at (2,0) and (7,5)");
            assertEquals(scores[3 * t + 3], scores[9 * t + 9], 1e-4, "offset 0");
            assertNotEquals(scores[2 * t + 0], scores[3 * t + 0], 1e-3, "different offsets score differently");
            double n0 = rq.get("0,0,0").norm().getFloat(), n5 = rq.get("0,0,5").norm().getFloat();
            assertEquals(n0, n5, 1e-4, "a rotation keeps the norm");
        }
    }

    /** ALiBi: with q = k = 0 every score is 0, so the pattern is exactly softmax(−slope·distance), row by row. */
    @Test
    void alibiPatternIsSoftmaxOfLinearDistancePenalty() {
        assertArrayEquals(new double[] {0.5, 0.25, 0.125, 0.0625, 1.0 / 32, 1.0 / 64, 1.0 / 128, 1.0 / 256},
                LM.alibiSlopeValues(8), 1e-12);
        assertArrayEquals(new double[] {Math.pow(2, -8.0 / 2), Math.pow(2, -16.0 / 2), Math.pow(2, -8.0 / 4)},
                LM.alibiSlopeValues(3), 1e-12);
        for (String arch : List.of("torch-transformer", "custom-transformer")) {
            ModelParams mp = Tiny.params(arch).with("norm_first", true).with("pos_encoding", "alibi");
            try (LM lm = new LM(mp, Tiny.V, base, 1); NDManager m = base.newSubManager()) {
                lm.parameters().forEach((n, p) -> { if (n.contains("c_attn")) p.muli(0); });
                NDArray attn = lm.forward(Tiny.randomIds(m, 1, 1, 6), new ForwardOptions(true, false, null, null)).attns();
                double[] slopes = LM.alibiSlopeValues(mp.n_heads());
                for (int h = 0; h < mp.n_heads(); h++) {
                    float[] pat = attn.get("0,0," + h).toFloatArray(); // [6,6]
                    for (int q = 0; q < 6; q++) {
                        double z = 0;
                        for (int k = 0; k <= q; k++) z += Math.exp(-slopes[h] * (q - k));
                        for (int k = 0; k < 6; k++) {
                            double want = k > q ? 0 : Math.exp(-slopes[h] * (q - k)) / z;
                            assertEquals(want, pat[q * 6 + k], 1e-5, arch + " head " + h + " q " + q + " k " + k);
                        }
                    }
                }
            }
        }
    }

    @Test
    void variantsAreConfigValuesAndBadOnesFailClearly() {
        RunSpec r = Grid.expand(List.of(ConfigFile.parse("configs/v.txt", """
                [ModelParams]
                dim = 32
                n_heads = 4
                norm = "rmsnorm"
                pos_encoding = "rotary"
                activation = "swiglu"
                tie_embed_deembed = True
                norm_first = True
                """)), List.of(), null, false).get(0);
        assertEquals("rmsnorm", r.mp().norm().spelling());
        assertEquals("rotary", r.mp().pos_encoding().spelling());
        assertTrue(r.mp().gated());
        for (String bad : List.of("norm = \"batchnorm\"", "pos_encoding = \"xpos\"", "activation = \"swish\"",
                "pos_encoding = \"rotary\"\ndim = 12\nn_heads = 4")) {
            ConfigError e = assertThrows(ConfigError.class, () -> Grid.expand(List.of(ConfigFile.parse("configs/v.txt",
                    "[ModelParams]\n" + bad + "\n")), List.of(), null, false));
            assertTrue(e.getMessage().contains("configs/v.txt") && e.getMessage().contains("expected"), e.getMessage());
        }
        assertEquals("norm=rmsnorm (GPT-2 uses LayerNorm)",
                Gpt2Config.whyNotGpt2(ModelParams.DEFAULTS.with("norm_first", true).with("norm", "rmsnorm")));
    }
}
