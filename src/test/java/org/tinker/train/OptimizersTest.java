package org.tinker.train;

import static org.junit.jupiter.api.Assertions.*;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.tinker.engine.Kernels;

/** Muon (Newton–Schulz orthogonalised momentum) and weight decay on matrices only, against updates written out here. */
class OptimizersTest {

    /** {@code a [n,k] @ b [k,m]} in doubles. */
    private static double[][] mul(double[][] a, double[][] b) {
        double[][] c = new double[a.length][b[0].length];
        for (int i = 0; i < a.length; i++)
            for (int j = 0; j < b[0].length; j++)
                for (int k = 0; k < b.length; k++) c[i][j] += a[i][k] * b[k][j];
        return c;
    }

    private static double[][] transpose(double[][] a) {
        double[][] t = new double[a[0].length][a.length];
        for (int i = 0; i < a.length; i++) for (int j = 0; j < a[0].length; j++) t[j][i] = a[i][j];
        return t;
    }

    /** The quintic Newton–Schulz iteration, written out in doubles: the reference for {@link Muon#orthogonalise}. */
    static double[][] newtonSchulz(double[][] g) {
        boolean tall = g.length > g[0].length;
        double[][] x = tall ? transpose(g) : g;
        double norm = 0;
        for (double[] row : x) for (double v : row) norm += v * v;
        norm = Math.sqrt(norm) + 1e-7;
        double[][] y = new double[x.length][x[0].length];
        for (int i = 0; i < x.length; i++) for (int j = 0; j < x[0].length; j++) y[i][j] = x[i][j] / norm;
        for (int step = 0; step < 5; step++) {
            double[][] a = mul(y, transpose(y));
            double[][] aa = mul(a, a);
            double[][] b = new double[a.length][a.length];
            for (int i = 0; i < a.length; i++) for (int j = 0; j < a.length; j++) b[i][j] = -4.7750 * a[i][j] + 2.0315 * aa[i][j];
            double[][] by = mul(b, y);
            for (int i = 0; i < y.length; i++) for (int j = 0; j < y[0].length; j++) y[i][j] = 3.4445 * y[i][j] + by[i][j];
        }
        return tall ? transpose(y) : y;
    }

    private static double[][] random(Random r, int rows, int cols, double scale) {
        double[][] a = new double[rows][cols];
        for (double[] row : a) for (int j = 0; j < cols; j++) row[j] = scale * r.nextGaussian();
        return a;
    }

    private static NDArray create(NDManager m, double[][] a) {
        float[] flat = new float[a.length * a[0].length];
        for (int i = 0; i < a.length; i++) for (int j = 0; j < a[0].length; j++) flat[i * a[0].length + j] = (float) a[i][j];
        return m.create(flat, new Shape(a.length, a[0].length));
    }

    private static void assertClose(double[][] expected, NDArray got, double tol, String what) {
        float[] g = got.toType(DataType.FLOAT32, false).toFloatArray();
        int cols = expected[0].length;
        for (int i = 0; i < expected.length; i++)
            for (int j = 0; j < cols; j++) assertEquals(expected[i][j], g[i * cols + j], tol, what + " [" + i + "," + j + "]");
    }

    /** In float32 both routes, the fused kernel and the explicit ops ({@code -Dtinker.kernels=off}), are the iteration. */
    @Test
    void orthogonaliseIsTheQuinticNewtonSchulzIterationOnTallAndWideMatrices() {
        try (NDManager m = NDManager.newBaseManager()) {
            for (boolean kernels : new boolean[] {true, false}) {
                Kernels.setEnabled(kernels);
                try {
                    Random r = new Random(1);
                    for (int[] shape : new int[][] {{6, 4}, {4, 6}, {5, 5}}) {
                        double[][] g = random(r, shape[0], shape[1], 3.0);
                        assertClose(newtonSchulz(g), Muon.orthogonalise(create(m, g), false), 2e-4,
                                shape[0] + "x" + shape[1] + (kernels ? " (kernel)" : " (explicit)"));
                    }
                } finally {
                    Kernels.setEnabled(true);
                }
            }
        }
    }

    /**
     * Under bf16 precision the iteration runs in bfloat16 (8 significant bits): the result stays close to the exact
     * iteration's, relative to its size, in both orientations, and comes back in the gradient's type.
     */
    @Test
    void orthogonaliseInBfloat16StaysNearTheExactIteration() {
        try (NDManager m = NDManager.newBaseManager()) {
            Random r = new Random(3);
            for (int[] shape : new int[][] {{32, 96}, {96, 32}}) {
                double[][] g = random(r, shape[0], shape[1], 1.0), expected = newtonSchulz(g);
                NDArray o = Muon.orthogonalise(create(m, g), true);
                assertEquals(DataType.FLOAT32, o.getDataType());
                float[] got = o.toFloatArray();
                double err = 0, size = 0;
                for (int i = 0; i < g.length; i++)
                    for (int j = 0; j < g[0].length; j++) {
                        double e = expected[i][j], d = got[i * g[0].length + j] - e;
                        err += d * d;
                        size += e * e;
                    }
                double rel = Math.sqrt(err / size);
                System.out.printf("bf16 Newton-Schulz %dx%d: relative error %.2e%n", shape[0], shape[1], rel);
                assertTrue(rel < 0.03, shape[0] + "x" + shape[1] + ": relative error " + rel);
                assertTrue(rel > 1e-4, "the iteration ran in bfloat16, not float32 (float32's error is about 1e-6)");
            }
        }
    }

    /**
     * Why it is called orthogonalisation: G = U·diag(10, 1, 0.1)·Vᵀ comes out as U·diag(s′)·Vᵀ — the same singular
     * vectors — with every s′ in the quintic's band around 1 (about 0.7 to 1.1), the factor-100 spread gone.
     */
    @Test
    void orthogonaliseKeepsTheSingularVectorsAndFlattensTheSingularValues() {
        try (NDManager m = NDManager.newBaseManager()) {
            double c = Math.cos(0.7), s = Math.sin(0.7);
            double[][] u = {{c, -s, 0}, {s, c, 0}, {0, 0, 1}}, v = {{1, 0, 0}, {0, c, -s}, {0, s, c}};
            double[][] sigma = {{10, 0, 0}, {0, 1, 0}, {0, 0, 0.1}};
            NDArray o = Muon.orthogonalise(create(m, mul(mul(u, sigma), transpose(v))), false);
            float[] flat = o.toFloatArray();
            double[][] od = new double[3][3];
            for (int i = 0; i < 9; i++) od[i / 3][i % 3] = flat[i];
            double[][] d = mul(mul(transpose(u), od), v); // Uᵀ·O·V: diagonal when the singular vectors are kept
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++)
                    if (i == j) assertTrue(d[i][i] > 0.6 && d[i][i] < 1.2, "singular value " + i + ": " + d[i][i]);
                    else assertEquals(0, d[i][j], 1e-5, "off-diagonal " + i + "," + j);
        }
    }

    /**
     * One Muon step: a block matrix moves by −η·√max(1, rows/cols)·NS₅(g + μ·buf) with buf = g, c_attn's q, k, v blocks
     * each orthogonalised apart, and η = muon_lr·lr_t/lr; the embedding takes AdamW's first step, −lr·g/(|g| + ε).
     */
    @Test
    void muonStepsBlockMatricesAndLeavesTheRestToAdamW() {
        try (NDManager m = NDManager.newBaseManager()) {
            Random r = new Random(2);
            double[][] fc0 = random(r, 8, 4, 0.1), attn0 = random(r, 6, 2, 0.1), wte0 = random(r, 5, 4, 0.1);
            double[][] gFc = random(r, 8, 4, 1), gAttn = random(r, 6, 2, 1), gWte = random(r, 5, 4, 1);
            LinkedHashMap<String, NDArray> params = new LinkedHashMap<>();
            params.put("transformer.wte.weight", create(m, wte0));
            params.put("transformer.h.0.attn.c_attn.weight", create(m, attn0));
            params.put("transformer.h.0.mlp.c_fc.weight", create(m, fc0));
            params.put("transformer.h.0.ln_1.weight", m.ones(new Shape(4)));
            Map<String, double[][]> grads = Map.of("transformer.wte.weight", gWte, "transformer.h.0.attn.c_attn.weight", gAttn,
                    "transformer.h.0.mlp.c_fc.weight", gFc);
            params.values().forEach(p -> p.setRequiresGradient(true));
            double muonLr = 0.05, mu = 0.9, peak = 1e-3, lrNow = 5e-4;
            try (Muon opt = new Muon(params, muonLr, mu, peak, 0.9, 0.99, 0, false, false)) {
                assertEquals(Set.of("transformer.h.0.attn.c_attn.weight", "transformer.h.0.mlp.c_fc.weight"), opt.matrices());
                Map<String, NDArray> g = new LinkedHashMap<>();
                grads.forEach((name, values) -> g.put(name, create(m, values)));
                opt.step(lrNow, g); // ln_1.weight has no gradient: it stays as it is
                assertClose(new double[][] {{1, 1, 1, 1}}, params.get("transformer.h.0.ln_1.weight").reshape(1, 4), 0, "ln_1");
                double eta = muonLr * lrNow / peak;
                double[][] o = newtonSchulz(gFc); // NS₅((1+μ)·g) = NS₅(g): the iteration starts from g/‖g‖
                double[][] fc1 = new double[8][4];
                for (int i = 0; i < 8; i++) for (int j = 0; j < 4; j++) fc1[i][j] = fc0[i][j] - eta * Math.sqrt(2) * o[i][j];
                assertClose(fc1, params.get("transformer.h.0.mlp.c_fc.weight"), 2e-5, "c_fc");
                double[][] attn1 = new double[6][2];
                for (int b = 0; b < 3; b++) { // q, k, v: three [2,2] blocks, each its own orthogonalisation; scale √(6/2)
                    double[][] ob = newtonSchulz(new double[][] {gAttn[2 * b], gAttn[2 * b + 1]});
                    for (int i = 0; i < 2; i++) for (int j = 0; j < 2; j++)
                        attn1[2 * b + i][j] = attn0[2 * b + i][j] - eta * Math.sqrt(3) * ob[i][j];
                }
                assertClose(attn1, params.get("transformer.h.0.attn.c_attn.weight"), 2e-5, "c_attn");
                double[][] wte1 = new double[5][4];
                for (int i = 0; i < 5; i++) for (int j = 0; j < 4; j++)
                    wte1[i][j] = wte0[i][j] - lrNow * gWte[i][j] / (Math.abs(gWte[i][j]) + 1e-8);
                assertClose(wte1, params.get("transformer.wte.weight"), 1e-6, "wte (AdamW)");
                assertClose(new double[][] {{1, 1, 1, 1}}, params.get("transformer.h.0.ln_1.weight").reshape(1, 4), 0, "zero gradient, no move");

                // the momentum buffers are saved with the moments and read back
                NDList state = opt.stateTensors();
                Map<String, NDArray> byName = new LinkedHashMap<>();
                for (NDArray a : state) byName.put(a.getName(), a);
                assertClose(gFc, byName.get("transformer.h.0.mlp.c_fc.weight.momentum_buffer"), 1e-6, "buffer = g after one step");
                assertTrue(byName.containsKey("transformer.wte.weight.exp_avg"));
                try (Muon again = new Muon(params, muonLr, mu, peak, 0.9, 0.99, 0, false, false)) {
                    again.restore(byName, 1);
                    assertEquals(1, again.steps());
                    NDList back = again.stateTensors();
                    for (NDArray a : back) assertEquals(0.0, a.sub(byName.get(a.getName())).abs().max().getFloat(), a.getName());
                }
            }
        }
    }

    /** With weight_decay_matrices_only, a zero-gradient step shrinks the matrices by (1 − lr·wd) and leaves gains alone. */
    @Test
    void weightDecayOnMatricesOnly() {
        try (NDManager m = NDManager.newBaseManager()) {
            for (boolean matricesOnly : new boolean[] {false, true}) {
                LinkedHashMap<String, NDArray> params = new LinkedHashMap<>();
                params.put("w", m.create(new float[] {1, -2, 3, 4}, new Shape(2, 2)));
                params.put("ln.weight", m.create(new float[] {2, 2}));
                params.values().forEach(p -> p.setRequiresGradient(true));
                try (AdamW opt = new AdamW(params, 0.9, 0.999, 1e-8, 0.5, matricesOnly)) {
                    try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                        gc.backward(params.get("w").sum().add(params.get("ln.weight").sum()).mul(0)); // zero gradients
                    }
                    opt.step(0.1);
                    params.values().forEach(p -> JniUtils.zeroGrad((PtNDArray) p));
                }
                assertArrayEquals(new float[] {0.95f, -1.9f, 2.85f, 3.8f}, params.get("w").toFloatArray(), 1e-6f);
                float gain = matricesOnly ? 2f : 2f * 0.95f;
                assertArrayEquals(new float[] {gain, gain}, params.get("ln.weight").toFloatArray(), 1e-6f, "matricesOnly=" + matricesOnly);
            }
        }
    }
}
