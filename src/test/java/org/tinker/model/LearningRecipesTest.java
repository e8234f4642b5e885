package org.tinker.model;

import static org.junit.jupiter.api.Assertions.*;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tinker.config.ModelParams;

/**
 * Today's training recipes that live in the model, each proved against a computation written out here in plain Java
 * (or, for dropout, against what each site may and may not change): QK-norm, ReLU², zero-initialised output
 * projections, logit soft-capping, U-net skips, the three dropouts and label smoothing. That cached decoding stays exact
 * with each is {@link GenerationTest}'s job (it enumerates every boolean and choice of ModelParams).
 */
class LearningRecipesTest extends WithBaseManager {
    private static final ModelParams PRE = Tiny.params("torch-transformer").with("norm_first", true);

    /** Records the tensors at these hook points (in a pass over {@code ids}). */
    private static Map<String, NDArray> record(LM lm, NDArray ids, String... points) {
        Map<String, NDArray> got = new LinkedHashMap<>();
        Hooks hooks = new Hooks();
        for (String p : points) hooks.add(p, (name, value, ctx) -> {
            got.put(name, value);
            return value;
        });
        lm.forward(ids, ForwardOptions.withHooks(hooks));
        return got;
    }

    private static double[] values(NDArray a) {
        return a.toType(DataType.FLOAT64, false).toDoubleArray();
    }

    /** LayerNorm of each row of {@code x [n, d]} with gain and bias, in doubles. */
    private static double[] layerNorm(double[] x, int d, double[] w, double[] b, double eps) {
        double[] out = new double[x.length];
        for (int r = 0; r < x.length / d; r++) {
            double mean = 0, var = 0;
            for (int i = 0; i < d; i++) mean += x[r * d + i] / d;
            for (int i = 0; i < d; i++) var += (x[r * d + i] - mean) * (x[r * d + i] - mean) / d;
            for (int i = 0; i < d; i++) out[r * d + i] = (x[r * d + i] - mean) / Math.sqrt(var + eps) * w[i] + b[i];
        }
        return out;
    }

    /** {@code x [n, in] @ wᵀ (+ bias)}, w {@code [out, in]}. */
    private static double[] linear(double[] x, int in, double[] w, double[] bias) {
        int n = x.length / in, out = w.length / in;
        double[] y = new double[n * out];
        for (int r = 0; r < n; r++)
            for (int o = 0; o < out; o++) {
                double s = bias == null ? 0 : bias[o];
                for (int i = 0; i < in; i++) s += x[r * in + i] * w[o * in + i];
                y[r * out + o] = s;
            }
        return y;
    }

    @Test
    void relu2IsTheSquareOfRelu() {
        try (NDManager m = base.newSubManager()) {
            double[] x = {-2, -0.5, 0, 0.3, 1.5, 4};
            // the feed-forward hidden layer with c_fc = identity, so what comes out is the activation alone
            NDArray eye = m.eye(x.length, x.length, 0, DataType.FLOAT64), zero = m.zeros(new Shape(x.length), DataType.FLOAT64);
            double[] y = values(Layers.ffHidden(m.create(x).reshape(1, x.length), eye, zero, ModelParams.Activation.RELU2));
            for (int i = 0; i < x.length; i++) assertEquals(Math.pow(Math.max(0, x[i]), 2), y[i], 1e-12);
        }
    }

    /** Scores of head h at (query, key) = (q_h / rms(q_h)) · (k_h / rms(k_h)) / √hd, from ln_1 and c_attn by hand. */
    @Test
    void qkNormScoresAreDotProductsOfRmsNormalisedHeads() {
        ModelParams mp = PRE.with("n_layers", 1).with("qk_norm", true);
        try (LM lm = new LM(mp, Tiny.V, base, 5); NDManager m = base.newSubManager()) {
            Tiny.sharpenAttention(lm, 6); // queries and keys far from unit RMS, so the norm has something to do
            int t = 7, d = mp.dim(), hd = mp.headDim(), heads = mp.n_heads();
            NDArray ids = Tiny.randomIds(m, 2, 1, t);
            Map<String, NDArray> got = record(lm, ids, Hooks.EMBED, Hooks.attnScores(0));
            var p = lm.parameters();
            double[] h = layerNorm(values(got.get(Hooks.EMBED)), d, values(p.get("transformer.h.0.ln_1.weight")),
                    values(p.get("transformer.h.0.ln_1.bias")), mp.layer_norm_eps());
            double[] qkv = linear(h, d, values(p.get("transformer.h.0.attn.c_attn.weight")), values(p.get("transformer.h.0.attn.c_attn.bias")));
            double[] scores = values(got.get(Hooks.attnScores(0))); // [1,H,T,T]
            double maxRawDiff = 0;
            for (int head = 0; head < heads; head++)
                for (int i = 0; i < t; i++)
                    for (int j = 0; j < t; j++) {
                        double qq = 0, kk = 0, qk = 0;
                        for (int c = 0; c < hd; c++) {
                            double q = qkv[i * 3 * d + head * hd + c], k = qkv[j * 3 * d + d + head * hd + c];
                            qq += q * q;
                            kk += k * k;
                            qk += q * k;
                        }
                        double expected = qk / Math.sqrt(qq / hd + mp.layer_norm_eps()) / Math.sqrt(kk / hd + mp.layer_norm_eps()) / Math.sqrt(hd);
                        double got1 = scores[(head * t + i) * t + j];
                        assertEquals(expected, got1, 1e-4 * Math.max(1, Math.abs(expected)), "head " + head + " (" + i + "," + j + ")");
                        assertTrue(Math.abs(got1) <= Math.sqrt(hd) + 1e-4, "a normalised score is at most √hd");
                        maxRawDiff = Math.max(maxRawDiff, Math.abs(qk / Math.sqrt(hd) - got1));
                    }
            assertTrue(maxRawDiff > 1, "without the norm the scores would differ: " + maxRawDiff);
        }
    }

    /** With zero_init_proj every block starts as the identity: logits = ln_f(wte[ids] + wpe) @ lm_headᵀ, by hand. */
    @Test
    void zeroInitProjectionsMakeEveryBlockTheIdentityAtInit() {
        ModelParams mp = PRE.with("zero_init_proj", true);
        try (LM lm = new LM(mp, Tiny.V, base, 9); NDManager m = base.newSubManager()) {
            var p = lm.parameters();
            for (int l = 0; l < mp.n_layers(); l++)
                for (String w : new String[] {"attn.c_proj.weight", "mlp.c_proj.weight"})
                    assertEquals(0.0, Tiny.scalar(p.get("transformer.h." + l + "." + w).abs().max()), "layer " + l + " " + w);
            int t = 6, d = mp.dim();
            long[] idv = {3, 1, 4, 1, 5, 9};
            NDArray ids = m.create(idv, new Shape(1, t));
            double[] wte = values(p.get(LM.WTE)), wpe = values(p.get(LM.WPE));
            double[] x = new double[t * d];
            for (int i = 0; i < t; i++) for (int c = 0; c < d; c++) x[i * d + c] = wte[(int) idv[i] * d + c] + wpe[i * d + c];
            double[] h = layerNorm(x, d, values(p.get(LM.LN_F_W)), values(p.get(LM.LN_F_B)), mp.layer_norm_eps());
            double[] expected = linear(h, d, values(p.get(LM.LM_HEAD)), null);
            double[] logits = values(lm.forward(ids).logits());
            for (int i = 0; i < expected.length; i++) assertEquals(expected[i], logits[i], 1e-5, "logit " + i);
            // and the blocks still learn: the output projections get a gradient
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray seq = m.create(new long[] {3, 1, 4, 1, 5, 9, 2}, new Shape(1, 7));
                gc.backward(lm.loss(seq, m.ones(new Shape(1, 6))).loss());
            }
            NDArray g = p.get("transformer.h.0.mlp.c_proj.weight").getGradient();
            assertTrue(Tiny.scalar(g.abs().max()) > 0, "c_proj gets a gradient");
            lm.zeroGradients();
        }
    }

    /** Soft-capped logits are c·tanh(z/c) of the uncapped model's z (same weights); the loss is their cross-entropy. */
    @Test
    void softCappedLogitsAreCTanhOfThePlainLogits() {
        double c = 1.5;
        try (LM plain = new LM(PRE, Tiny.V, base, 4); LM capped = new LM(PRE.with("logit_softcap", c), Tiny.V, base, 4);
             NDManager m = base.newSubManager()) {
            for (LM lm : new LM[] {plain, capped}) lm.parameters().get(LM.LM_HEAD).muli(30f); // logits well beyond c
            NDArray ids = Tiny.randomIds(m, 3, 2, 8);
            double[] z = values(plain.forward(ids.get(":, :-1")).logits());
            double[] capd = values(capped.forward(ids.get(":, :-1")).logits());
            double maxZ = 0, ce = 0;
            for (int i = 0; i < z.length; i++) {
                assertEquals(c * Math.tanh(z[i] / c), capd[i], 1e-5, "logit " + i);
                maxZ = Math.max(maxZ, Math.abs(z[i]));
            }
            assertTrue(maxZ > 2 * c, "the plain logits go beyond the cap: " + maxZ);
            long[] y = ids.get(":, 1:").toLongArray();
            int v = Tiny.V;
            for (int r = 0; r < y.length; r++) {
                double max = Double.NEGATIVE_INFINITY, sum = 0;
                for (int k = 0; k < v; k++) max = Math.max(max, capd[r * v + k]);
                for (int k = 0; k < v; k++) sum += Math.exp(capd[r * v + k] - max);
                ce += (max + Math.log(sum) - capd[r * v + (int) y[r]]) / y.length;
            }
            assertEquals(ce, Tiny.scalar(capped.loss(ids, m.ones(new Shape(2, 7))).loss()), 1e-5);
        }
    }

    /**
     * U-net skips on 4 layers: block 2 reads resid_post(1)·(1 + w₁), block 3 reads resid_post(2) + w₀·resid_post(0),
     * blocks 0 and 1 read the plain stream; and the skip weights learn.
     */
    @Test
    void unetSkipsAddEarlyOutputsToLateInputsWithLearnedWeights() {
        ModelParams mp = PRE.with("n_layers", 4).with("unet_skips", true);
        try (LM lm = new LM(mp, Tiny.V, base, 8); NDManager m = base.newSubManager()) {
            NDArray w = lm.parameters().get(LM.SKIP_WEIGHTS);
            assertEquals(new Shape(2), w.getShape());
            assertArrayEquals(new float[] {1, 1}, w.toFloatArray(), "skip weights start at 1");
            w.set(new float[] {0.5f, -0.25f});
            NDArray ids = Tiny.randomIds(m, 6, 2, 9);
            Map<String, NDArray> r = record(lm, ids, "blocks.*.resid_pre", "blocks.*.resid_post");
            double[] post0 = values(r.get(Hooks.residPost(0))), post1 = values(r.get(Hooks.residPost(1))),
                    post2 = values(r.get(Hooks.residPost(2)));
            double[] pre1 = values(r.get(Hooks.residPre(1))), pre2 = values(r.get(Hooks.residPre(2))), pre3 = values(r.get(Hooks.residPre(3)));
            for (int i = 0; i < post0.length; i++) {
                assertEquals(post0[i], pre1[i], 1e-6, "block 1 reads block 0's output as it is");
                assertEquals(post1[i] * (1 - 0.25), pre2[i], 1e-5, "block 2: + w1 · block 1's output");
                assertEquals(post2[i] + 0.5 * post0[i], pre3[i], 1e-5, "block 3: + w0 · block 0's output");
            }
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                gc.backward(lm.loss(ids, m.ones(new Shape(2, 8))).loss());
            }
            NDArray g = w.getGradient();
            assertTrue(Tiny.scalar(g.abs().min()) > 0, "both skip weights get a gradient");
            lm.zeroGradients();
        }
    }

    /**
     * Each dropout acts at its own site only: embedding dropout zeroes or rescales the embedding (by 1/(1−p)) and nothing
     * else; attention dropout leaves the block's input alone but changes its attention output; residual dropout leaves
     * layer 0's attention output alone (its input and pattern are untouched) but changes the residual stream.
     */
    @Test
    void embeddingAttentionAndResidualDropoutActAtTheirOwnSites() {
        ModelParams mp = PRE.with("n_layers", 1);
        try (LM lm = new LM(mp, Tiny.V, base, 12); NDManager m = base.newSubManager()) {
            Tiny.sharpenAttention(lm, 4);
            NDArray ids = Tiny.randomIds(m, 1, 4, 10);
            String[] points = {Hooks.EMBED, Hooks.residPre(0), Hooks.attnOut(0), Hooks.residMid(0)};
            Map<String, NDArray> eval = record(lm, ids, points);
            lm.setTraining(true);
            try {
                lm.setDropout(new LM.Dropout(0.5, 0, 0));
                Map<String, NDArray> e = record(lm, ids, points);
                double[] emb = values(e.get(Hooks.EMBED)), in = values(e.get(Hooks.residPre(0)));
                int zeros = 0;
                for (int i = 0; i < emb.length; i++) {
                    if (in[i] == 0) zeros++;
                    else assertEquals(2 * emb[i], in[i], 1e-5, "kept embedding features are scaled by 1/(1-p)");
                }
                assertTrue(zeros > emb.length / 4 && zeros < 3 * emb.length / 4, "about half dropped: " + zeros + "/" + emb.length);

                lm.setDropout(new LM.Dropout(0, 0.5, 0));
                Map<String, NDArray> a = record(lm, ids, points);
                assertEquals(0.0, Tiny.maxAbsDiff(a.get(Hooks.residPre(0)), eval.get(Hooks.residPre(0))), "no embedding dropout");
                assertTrue(Tiny.maxAbsDiff(a.get(Hooks.attnOut(0)), eval.get(Hooks.attnOut(0))) > 1e-3, "the pattern is dropped");

                lm.setDropout(new LM.Dropout(0, 0, 0.5));
                Map<String, NDArray> r = record(lm, ids, points);
                assertEquals(0.0, Tiny.maxAbsDiff(r.get(Hooks.residPre(0)), eval.get(Hooks.residPre(0))), "no embedding dropout");
                assertEquals(0.0, Tiny.maxAbsDiff(r.get(Hooks.attnOut(0)), eval.get(Hooks.attnOut(0))), 1e-6, "no attention dropout");
                assertTrue(Tiny.maxAbsDiff(r.get(Hooks.residMid(0)), eval.get(Hooks.residMid(0))) > 1e-3, "the branch output is dropped");
            } finally {
                lm.setTraining(false);
                lm.setDropout(LM.Dropout.NONE);
            }
        }
    }

    /** Training loss with smoothing ε = mean over tokens of (1−ε)·(−log p[y]) + ε·mean_v(−log p[v]); evaluation is plain. */
    @Test
    void labelSmoothingMixesTheMeanNegativeLogProbabilityIntoTheTrainingLoss() {
        double eps = 0.2;
        try (LM lm = new LM(PRE, Tiny.V, base, 6); NDManager m = base.newSubManager()) {
            NDArray ids = Tiny.randomIds(m, 7, 2, 9);
            NDArray x = ids.get(":, :-1"), y = ids.get(":, 1:"), mask = m.ones(new Shape(2, 8));
            double[] z = values(lm.forward(x).logits());
            long[] yv = y.toLongArray();
            int v = Tiny.V;
            double ce = 0, smooth = 0;
            for (int r = 0; r < yv.length; r++) {
                double max = Double.NEGATIVE_INFINITY, sum = 0, meanNll = 0;
                for (int k = 0; k < v; k++) max = Math.max(max, z[r * v + k]);
                for (int k = 0; k < v; k++) sum += Math.exp(z[r * v + k] - max);
                double lse = max + Math.log(sum);
                for (int k = 0; k < v; k++) meanNll += (lse - z[r * v + k]) / v;
                double nll = lse - z[r * v + (int) yv[r]];
                ce += nll / yv.length;
                smooth += ((1 - eps) * nll + eps * meanNll) / yv.length;
            }
            lm.setLabelSmoothing(eps);
            assertEquals(ce, Tiny.scalar(lm.loss(ids, mask).loss()), 1e-5, "evaluation reports the plain cross-entropy");
            lm.setTraining(true); // dropout is 0: the same forward
            try {
                assertEquals(smooth, Tiny.scalar(lm.loss(x, y, mask, ForwardOptions.DEFAULT).loss()), 1e-5);
                assertNotEquals(ce, smooth, 1e-3);
            } finally {
                lm.setTraining(false);
                lm.setLabelSmoothing(0);
            }
        }
    }
}
