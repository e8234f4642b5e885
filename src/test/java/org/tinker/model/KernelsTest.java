package org.tinker.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tinker.config.ModelParams;
import org.tinker.config.TrainParams;
import org.tinker.engine.Kernels;
import org.tinker.engine.Ops;

/** The fused kernels compute what the explicit ops compute, gradients included. */
class KernelsTest {

    /** softmax(q·kᵀ/√hd + causal mask)·v with plain NDArray ops. */
    private static NDArray explicitAttention(NDArray q, NDArray k, NDArray v, NDArray mask) {
        double scale = 1 / Math.sqrt(q.getShape().get(3));
        NDArray scores = Ops.matmul(q.mul(scale), k.swapAxes(2, 3)).add(mask); // [B,H,T,T]
        return Ops.matmul(Ops.softmax(scores, -1), v);                           // [B,H,T,hd]
    }

    private static NDArray causalMask(NDManager m, int t, DataType dt) {
        double[] d = new double[t * t];
        for (int i = 0; i < t; i++) for (int j = i + 1; j < t; j++) d[i * t + j] = Double.NEGATIVE_INFINITY;
        return m.create(d, new Shape(t, t)).toType(dt, false);
    }

    @Test
    void causalAttentionMatchesTheExplicitPathWithGradients() {
        assertTrue(Kernels.available(), "the TorchScript kernels must load from the jar's own source");
        for (DataType dt : new DataType[] {DataType.FLOAT64, DataType.FLOAT32}) {
            try (NDManager m = NDManager.newBaseManager()) {
                m.getEngine().setRandomSeed(7);
                Shape s = new Shape(2, 3, 9, 4); // [B,H,T,hd]
                NDArray q = m.randomNormal(s).toType(dt, false), k = m.randomNormal(s).toType(dt, false),
                        v = m.randomNormal(s).toType(dt, false), w = m.randomNormal(s).toType(dt, false);
                NDArray mask = causalMask(m, 9, dt);
                double[][] out = new double[2][];
                double[][][] grads = new double[2][3][];
                for (int path = 0; path < 2; path++) {
                    for (NDArray a : new NDArray[] {q, k, v}) a.setRequiresGradient(true);
                    try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                        NDArray o = path == 0 ? explicitAttention(q, k, v, mask) : Kernels.attention(q, k, v, null, 0);
                        out[path] = o.toType(DataType.FLOAT64, false).toDoubleArray();
                        gc.backward(o.mul(w).sum()); // a loss that weighs every output differently
                    }
                    NDArray[] in = {q, k, v};
                    for (int i = 0; i < 3; i++) {
                        grads[path][i] = in[i].getGradient().toType(DataType.FLOAT64, false).toDoubleArray();
                        JniUtils.zeroGrad(Ops.pt(in[i])); // gradients accumulate across backward passes
                    }
                }
                double tol = dt == DataType.FLOAT64 ? 1e-12 : 2e-5;
                assertArrayEquals(out[0], out[1], tol, dt + " outputs");
                for (int i = 0; i < 3; i++) assertArrayEquals(grads[0][i], grads[1][i], tol, dt + " gradient of " + "qkv".charAt(i));
                // The additive-mask variant (ALiBi) with the plain causal mask is the same function.
                assertArrayEquals(out[0], Kernels.attention(q, k, v, mask, 0).toType(DataType.FLOAT64, false).toDoubleArray(), tol);
            }
        }
    }

    @Test
    void clippingScalesToTheMaxNormAndLeavesSmallGradientsAlone() {
        try (NDManager m = NDManager.newBaseManager()) {
            List<NDArray> g = new ArrayList<>(List.of(m.create(new float[] {3, 0}), m.create(new float[][] {{0, 4}, {0, 0}})));
            double norm = Kernels.clipGradNorm(g, 1.0);
            assertEquals(5.0, norm, 1e-6);
            assertArrayEquals(new float[] {0.6f, 0}, g.get(0).toFloatArray(), 1e-6f); // scaled by 1/(5 + 1e-6), in place
            assertArrayEquals(new float[] {0, 0.8f, 0, 0}, g.get(1).toFloatArray(), 1e-6f);
            assertEquals(1.0, Kernels.clipGradNorm(g, 10.0), 1e-6);
            assertArrayEquals(new float[] {0.6f, 0}, g.get(0).toFloatArray(), 1e-6f); // under the limit: untouched
        }
    }

    @Test
    void fusedAdamWFollowsTheTorchFormulaStepByStep() {
        try (NDManager m = NDManager.newBaseManager()) {
            double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.1;
            double[] p = {0.5, -1.0, 2.0}, mom = new double[3], vel = new double[3];
            NDArray param = m.create(new float[] {0.5f, -1f, 2f}), expAvg = m.zeros(new Shape(3)), expAvgSq = m.zeros(new Shape(3));
            NDArray step = m.create(0f);
            double[][] grads = {{0.1, -0.2, 0.3}, {1.0, 0.0, -2.0}, {-0.5, 0.25, 0.125}};
            for (int t = 1; t <= grads.length; t++) {
                double[] g = grads[t - 1];
                NDArray grad = m.create(new float[] {(float) g[0], (float) g[1], (float) g[2]});
                step.addi(1);
                Kernels.adamw(List.of(param), List.of(grad), List.of(expAvg), List.of(expAvgSq), step, lr, b1, b2, wd, eps);
                for (int i = 0; i < 3; i++) { // torch.optim.AdamW, written out
                    p[i] *= 1 - lr * wd;
                    mom[i] = b1 * mom[i] + (1 - b1) * g[i];
                    vel[i] = b2 * vel[i] + (1 - b2) * g[i] * g[i];
                    double bc1 = 1 - Math.pow(b1, t), bc2 = 1 - Math.pow(b2, t);
                    p[i] -= lr / bc1 * mom[i] / (Math.sqrt(vel[i]) / Math.sqrt(bc2) + eps);
                }
                float[] got = param.toFloatArray();
                for (int i = 0; i < 3; i++) assertEquals(p[i], got[i], 1e-6, "step " + t + " param " + i);
            }
            assertEquals(3f, step.getFloat(), "the kernel reads the step, it does not advance it");
        }
    }

    @Test
    void lmHeadLossEqualsLogSoftmaxCrossEntropyAndItsGradients() {
        try (NDManager m = NDManager.newBaseManager()) {
            m.getEngine().setRandomSeed(3);
            int n = 13, d = 5, vocab = 23;
            NDArray h = m.randomNormal(new Shape(n, d)).toType(DataType.FLOAT64, false);
            NDArray w = m.randomNormal(new Shape(vocab, d)).toType(DataType.FLOAT64, false);
            long[] ys = new long[n];
            float[] mk = new float[n];
            for (int i = 0; i < n; i++) { ys[i] = (i * 7L) % vocab; mk[i] = i % 4 == 3 ? 0 : 1; }
            ys[2] = vocab - 1; // the last (partial) block holds a target
            NDArray y = m.create(ys), mask = m.create(mk).toType(DataType.FLOAT64, false);
            // Reference: full logits, log-softmax, gather, autograd.
            h.setRequiresGradient(true);
            w.setRequiresGradient(true);
            double refLoss;
            long refCorrect;
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray logits = Ops.linear(h, w, null);                                  // [N,V]
                NDArray ce = Ops.pt(Ops.logSoftmax(logits, -1)).gather(y.expandDims(1), 1).squeeze(1).neg(); // [N]
                NDArray loss = ce.mul(mask).sum();
                refLoss = loss.getDouble();
                refCorrect = Math.round(logits.argMax(1).eq(y).toType(DataType.FLOAT64, false).mul(mask).sum().getDouble());
                gc.backward(loss);
            }
            double[] refGh = h.getGradient().toDoubleArray(), refGw = w.getGradient().toDoubleArray();
            for (int block : new int[] {4, 23, 64}) { // blocks that split V unevenly, exactly, and not at all
                double gs = block == 64 ? 0.25 : 1; // gradients of gs × the loss (a mean's 1/tokens); the loss itself unscaled
                List<NDArray> out = Kernels.lmHeadLoss(h, w, y, mask, block, true, false, gs);
                assertEquals(refLoss, out.get(0).getDouble(), 1e-12, "loss, block " + block);
                assertEquals(refCorrect, Math.round(out.get(1).getDouble()), "correct, block " + block);
                assertArrayEquals(java.util.Arrays.stream(refGh).map(g -> gs * g).toArray(), out.get(2).toDoubleArray(), 1e-12, "d/dh, block " + block);
                assertArrayEquals(java.util.Arrays.stream(refGw).map(g -> gs * g).toArray(), out.get(3).toDoubleArray(), 1e-12, "d/dw, block " + block);
                assertEquals(2, Kernels.lmHeadLoss(h, w, y, mask, block, false, false, 1).size(), "no gradients asked, none computed");
            }
        }
    }

    static List<ModelParams> variants() {
        List<ModelParams> out = new ArrayList<>(Tiny.variants("torch-transformer"));
        out.add(Tiny.params("custom-transformer").with("norm_first", true).with("activation", "gelu"));
        return out;
    }

    /**
     * Whole model, float64: the training loss and the gradient of every parameter are the same with the fused kernels
     * (SDPA with the causal flag or the ALiBi mask, the blockwise LM-head loss) as with the explicit ops.
     */
    @org.junit.jupiter.params.ParameterizedTest(name = "{index}: {0}")
    @org.junit.jupiter.params.provider.MethodSource("variants")
    void aModelTrainsIdenticallyWithAndWithoutTheKernels(ModelParams mp) {
        try (NDManager base = NDManager.newBaseManager(); LM lm = new LM(mp, Tiny.V, base, 1, DataType.FLOAT64)) {
            Tiny.sharpenAttention(lm, 4f);
            double[] loss = new double[2];
            List<List<double[]>> grads = new ArrayList<>();
            for (int path = 0; path < 2; path++) {
                Kernels.setEnabled(path == 1);
                try (NDManager step = base.newSubManager()) {
                    NDArray ids = Tiny.randomIds(step, 5, 3, 10);
                    NDArray mask = step.ones(new Shape(3, 9));
                    mask.set(new ai.djl.ndarray.index.NDIndex("0, :4"), 0f); // some targets do not count
                    lm.parameters().values().forEach(a -> JniUtils.zeroGrad(Ops.pt(a)));
                    try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                        NDArray l = lm.loss(ids, mask).loss();
                        loss[path] = l.getDouble();
                        gc.backward(l);
                    }
                    List<double[]> g = new ArrayList<>();
                    lm.parameters().values().forEach(a -> g.add(a.getGradient().toDoubleArray()));
                    grads.add(g);
                } finally {
                    Kernels.setEnabled(true);
                }
            }
            assertEquals(loss[0], loss[1], 1e-12, "loss");
            String[] names = lm.parameters().keySet().toArray(String[]::new);
            for (int i = 0; i < names.length; i++) assertArrayEquals(grads.get(0).get(i), grads.get(1).get(i), 1e-11, names[i]);
            assertTrue(java.util.Arrays.stream(grads.get(1).get(0)).anyMatch(x -> x != 0), "gradients reach the embedding");
        }
    }

    /**
     * precision=bf16 on every variant (rotary, ALiBi's float32 mask, gated MLPs, RMSNorm...): a training pass runs,
     * computes something different from float32 and stays within bfloat16's precision of it, gradients included.
     */
    @org.junit.jupiter.params.ParameterizedTest(name = "{index}: {0}")
    @org.junit.jupiter.params.provider.MethodSource("variants")
    void bf16AutocastStaysCloseToFloat32OnEveryVariant(ModelParams mp) {
        try (NDManager base = NDManager.newBaseManager(); LM lm = new LM(mp, Tiny.V, base, 1)) {
            lm.setTraining(true);
            double[] loss = new double[2];
            double[][] embGrad = new double[2][];
            for (int path = 0; path < 2; path++) {
                lm.setPrecision(path == 0 ? TrainParams.Precision.FP32 : TrainParams.Precision.BF16);
                try (NDManager step = base.newSubManager()) {
                    NDArray ids = Tiny.randomIds(step, 5, 3, 10);
                    lm.parameters().values().forEach(a -> JniUtils.zeroGrad(Ops.pt(a)));
                    try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                        NDArray l = lm.loss(ids, step.ones(new Shape(3, 9))).loss();
                        loss[path] = l.getDouble();
                        gc.backward(l);
                    }
                    embGrad[path] = lm.parameters().get(LM.WTE).getGradient().toType(DataType.FLOAT64, false).toDoubleArray();
                }
            }
            assertTrue(loss[0] != loss[1], "bf16 must change the arithmetic");
            assertEquals(loss[0], loss[1], 0.01 * loss[0], "loss");
            double num = 0, den = 0;
            for (int i = 0; i < embGrad[0].length; i++) {
                num += (embGrad[0][i] - embGrad[1][i]) * (embGrad[0][i] - embGrad[1][i]);
                den += embGrad[0][i] * embGrad[0][i];
            }
            assertTrue(Math.sqrt(num / den) < 0.05, "embedding gradient relative error " + Math.sqrt(num / den));
        }
    }

    /** Every activation of the kernels is its explicit formula (float64, gradient included); gelu_new is one op. */
    @Test
    void eachActivationKernelIsItsExplicitFormula() {
        try (NDManager m = NDManager.newBaseManager()) {
            m.getEngine().setRandomSeed(5);
            NDArray h = m.randomNormal(new Shape(3, 5, 8)).mul(3).toType(DataType.FLOAT64, false);
            NDArray weigh = m.randomNormal(new Shape(3, 5, 8)).toType(DataType.FLOAT64, false);
            for (String act : Kernels.ACTIVATIONS) {
                ModelParams.Activation a = ModelParams.Activation.valueOf(act.toUpperCase());
                double[][] out = new double[2][], grad = new double[2][];
                for (int path = 0; path < 2; path++) {
                    Kernels.setEnabled(path == 1);
                    h.setRequiresGradient(true);
                    try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                        NDArray y;
                        if (path == 1) y = Kernels.activation(h, act);
                        else if (a.gated()) { // act(gate) * up over the two halves, as Layers.ffHidden
                            NDList parts = h.split(2, 2);
                            y = (a == ModelParams.Activation.SWIGLU ? Ops.silu(parts.get(0)) : Ops.gelu(parts.get(0))).mul(parts.get(1));
                        } else y = Layers.activation(h, a);
                        out[path] = y.toDoubleArray();
                        gc.backward(y.mul(weigh.get(y.getShape().get(2) < 8 ? ":, :, 0:4" : ":")).sum());
                    } finally {
                        Kernels.setEnabled(true);
                    }
                    grad[path] = h.getGradient().toDoubleArray();
                    JniUtils.zeroGrad(Ops.pt(h));
                }
                assertArrayEquals(out[0], out[1], 1e-12, act);
                assertArrayEquals(grad[0], grad[1], 1e-12, act + " gradient");
            }
        }
    }

    /**
     * Under bf16 autocast the block's two sub-layers run as one kernel each ({@link Kernels#mlpBf16},
     * {@link Kernels#attentionBf16}); they compute what their steps compute one by one (the bf16 linear kernel, the
     * activation, split into heads, QK-norm, rotary, the bf16 attention kernel), gradients included: their
     * intermediates are not cast to float32 and back, and those casts are exact.
     */
    @Test
    void theBf16SubLayerKernelsComputeWhatTheirStepsCompute() {
        int b = 2, t = 7, d = 16, heads = 4, hd = d / heads, ff = 32;
        try (NDManager m = NDManager.newBaseManager()) {
            m.getEngine().setRandomSeed(11);
            NDArray x = m.randomNormal(new Shape(b, t, d));
            NDArray target = m.randomNormal(new Shape(b, t, d)); // a loss that weighs every output differently
            // rotary tables [T,hd] for positions 0..T-1 ("rotate half" layout: feature i pairs with i + hd/2)
            double[] cos = new double[t * hd], sin = new double[t * hd];
            for (int p = 0; p < t; p++)
                for (int i = 0; i < hd; i++) {
                    double angle = p * Math.pow(10000, -2.0 * (i % (hd / 2)) / hd);
                    cos[p * hd + i] = Math.cos(angle);
                    sin[p * hd + i] = Math.sin(angle);
                }
            NDArray ropeCos = m.create(cos, new Shape(t, hd)).toType(DataType.FLOAT32, false);
            NDArray ropeSin = m.create(sin, new Shape(t, hd)).toType(DataType.FLOAT32, false);
            for (String act : List.of("gelu", "relu2", "swiglu")) {
                boolean bias = !act.equals("relu2");
                ModelParams.Activation a = ModelParams.Activation.valueOf(act.toUpperCase());
                NDArray fw = m.randomNormal(new Shape(a.gated() ? 2 * ff : ff, d)).div(4), pw = m.randomNormal(new Shape(d, ff)).div(6);
                NDArray fb = bias ? m.randomNormal(new Shape(a.gated() ? 2 * ff : ff)) : null, pb = bias ? m.randomNormal(new Shape(d)) : null;
                // a gated activation rounds act(gate) to bfloat16 before the product, as torch.autocast does: that
                // intermediate differs within bfloat16's precision; a single activation's output is the same
                assertSameFunction("mlp " + act, a.gated() ? 1e-2 : 1e-5, target, x, fw, fb, pw, pb,
                        () -> Ops.linear(Layers.ffHidden(x, fw, fb, a), pw, pb),
                        () -> Kernels.mlpBf16(x, fw, fb, pw, pb, act, 0));
            }
            for (boolean qkNorm : new boolean[] {false, true}) {
                NDArray w = m.randomNormal(new Shape(3 * d, d)).div(4), pw = m.randomNormal(new Shape(d, d)).div(4);
                NDArray bq = qkNorm ? null : m.randomNormal(new Shape(3 * d)), pb = qkNorm ? null : m.randomNormal(new Shape(d));
                NDArray rc = qkNorm ? ropeCos : null, rs = qkNorm ? ropeSin : null;
                assertSameFunction("attention" + (qkNorm ? " with qk-norm and rotary" : ""), 1e-5, target, x, w, bq, pw, pb, () -> {
                    NDList qkv = Ops.linear(x, w, bq).split(3, 2);
                    NDArray[] qkvHeads = new NDArray[3];
                    for (int i = 0; i < 3; i++) {
                        NDArray h = qkv.get(i).reshape(b, t, heads, hd).transpose(0, 2, 1, 3); // [B,H,T,hd]
                        if (i < 2 && qkNorm) h = Ops.rope(Ops.rmsNorm(h, null, 1e-5), rc, rs);
                        qkvHeads[i] = h;
                    }
                    NDArray z = Kernels.attention(qkvHeads[0], qkvHeads[1], qkvHeads[2], null, 0);
                    return Ops.linear(z.transpose(0, 2, 1, 3).reshape(b, t, d), pw, pb);
                }, () -> Kernels.attentionBf16(x, w, bq, pw, pb, heads, qkNorm, 1e-5, rc, rs, 0));
            }
        }
    }

    /** Both functions of (x, weights) under bf16 autocast: the same outputs and gradients, within relative error {@code tol}. */
    private static void assertSameFunction(String what, double tol, NDArray target, NDArray x, NDArray w1, NDArray b1, NDArray w2, NDArray b2,
                                           java.util.function.Supplier<NDArray> steps, java.util.function.Supplier<NDArray> kernel) {
        NDArray[] in = java.util.stream.Stream.of(x, w1, b1, w2, b2).filter(java.util.Objects::nonNull).toArray(NDArray[]::new);
        double[][] out = new double[2][];
        double[][][] grads = new double[2][in.length][];
        boolean was = Ops.autocast(true);
        try {
            for (int path = 0; path < 2; path++) {
                for (NDArray a : in) a.setRequiresGradient(true);
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    NDArray y = (path == 0 ? steps : kernel).get();
                    out[path] = y.toType(DataType.FLOAT64, false).toDoubleArray();
                    gc.backward(y.mul(target).sum());
                }
                for (int i = 0; i < in.length; i++) {
                    grads[path][i] = in[i].getGradient().toType(DataType.FLOAT64, false).toDoubleArray();
                    JniUtils.zeroGrad(Ops.pt(in[i]));
                }
            }
        } finally {
            Ops.autocast(was);
        }
        System.out.printf("%s: relative error of the output %.2e%n", what, relativeError(out[0], out[1]));
        assertTrue(relativeError(out[0], out[1]) < tol, what + ": output, relative error " + relativeError(out[0], out[1]));
        for (int i = 0; i < in.length; i++)
            assertTrue(relativeError(grads[0][i], grads[1][i]) < tol,
                    what + ": gradient of input " + i + ", relative error " + relativeError(grads[0][i], grads[1][i]));
    }

    private static double relativeError(double[] a, double[] b) {
        double num = 0, den = 0;
        for (int i = 0; i < a.length; i++) {
            num += (a[i] - b[i]) * (a[i] - b[i]);
            den += a[i] * a[i];
        }
        return Math.sqrt(num / den);
    }

    @Test
    void theArchiveIsTheSameBytesEveryTime() throws Exception {
        assertArrayEquals(Kernels.archive(), Kernels.archive());
    }
}
