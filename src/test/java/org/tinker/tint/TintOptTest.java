package org.tinker.tint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.tinker.config.ConfigError;
import org.tinker.config.TintParams;
import org.tinker.engine.SafeTensors;

/**
 * OPT auxiliary models (the original's tint_opt.py): a small random OPT written as an HF folder and loaded back by the
 * real loader; its forward against a direct transcription of HF OPT's forward; the construction against TinT-SGD;
 * the docs/models/tint.md, "Parameter count of the original" OPT-125M parameter counts; the refused OPT variants.
 */
class TintOptTest {
    /** An OPT's sizes: width, heads, layers, vocabulary, positions (max_position_embeddings), MLP width. */
    record Dims(int D, int H, int L, int V, int T, int F) {}

    static final int D = 24, H = 4, L = 2, V = 53, TAUX = 32, F = 96;
    static final Dims TINY = new Dims(D, H, L, V, TAUX, F);
    @TempDir static Path tmp;
    static Map<String, Tensor> hf;
    static AuxModel aux;
    static long[] ids;

    /** An HF tensor: shape and row-major data. */
    record Tensor(long[] shape, double[] data) {
        double get(int i, int j) {
            return data[i * (int) shape[1] + j];
        }
    }

    /** A random OPT under HF OPTForCausalLM names (Linear [out, in]); weight scales as the fixtures' (tint fixtures README). */
    static Map<String, Tensor> randomOpt(long seed, Dims z) {
        int D = z.D(), L = z.L(), V = z.V(), TAUX = z.T(), F = z.F();
        Random r = new Random(seed);
        Map<String, Tensor> m = new LinkedHashMap<>();
        String p = "model.decoder.";
        m.put(p + "embed_tokens.weight", gauss(r, 0.5, 0, V, D));
        m.put(p + "embed_positions.weight", gauss(r, 0.1, 0, TAUX + 2, D));
        for (int l = 0; l < L; l++) {
            String b = p + "layers." + l + ".";
            for (String ln : new String[] {"self_attn_layer_norm", "final_layer_norm"}) {
                m.put(b + ln + ".weight", gauss(r, 0.1, 1, D));
                m.put(b + ln + ".bias", gauss(r, 0.05, 0, D));
            }
            for (String proj : new String[] {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.out_proj"}) {
                m.put(b + proj + ".weight", gauss(r, 0.2, 0, D, D));
                m.put(b + proj + ".bias", gauss(r, 0.05, 0, D));
            }
            m.put(b + "fc1.weight", gauss(r, 0.2, 0, F, D));
            m.put(b + "fc1.bias", gauss(r, 0.05, 0, F));
            m.put(b + "fc2.weight", gauss(r, 0.2, 0, D, F));
            m.put(b + "fc2.bias", gauss(r, 0.05, 0, D));
        }
        m.put(p + "final_layer_norm.weight", gauss(r, 0.1, 1, D));
        m.put(p + "final_layer_norm.bias", gauss(r, 0.05, 0, D));
        return m;
    }

    static Tensor gauss(Random r, double std, double mean, long... shape) {
        int n = 1;
        for (long s : shape) n *= (int) s;
        double[] d = new double[n];
        for (int i = 0; i < n; i++) d[i] = (float) (mean + std * r.nextGaussian()); // float32 values, as an fp32 checkpoint
        return new Tensor(shape, d);
    }

    static JsonObject optConfig(Dims z) {
        int D = z.D(), H = z.H(), L = z.L(), V = z.V(), TAUX = z.T(), F = z.F();
        JsonObject c = new JsonObject();
        c.addProperty("model_type", "opt");
        c.addProperty("hidden_size", D);
        c.addProperty("num_attention_heads", H);
        c.addProperty("num_hidden_layers", L);
        c.addProperty("ffn_dim", F);
        c.addProperty("max_position_embeddings", TAUX);
        c.addProperty("vocab_size", V);
        c.addProperty("activation_function", "relu");
        c.addProperty("do_layer_norm_before", true);
        c.addProperty("word_embed_proj_dim", D);
        c.addProperty("enable_bias", true);
        return c;
    }

    /** config.json + model.safetensors (float64) with every key's "model.decoder." replaced by {@code root}. */
    static Path writeFolder(Path dir, Map<String, Tensor> t, String root, JsonObject config) {
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> nd = new LinkedHashMap<>();
            for (Map.Entry<String, Tensor> e : t.entrySet())
                nd.put(e.getKey().replace("model.decoder.", root), m.create(e.getValue().data(), new Shape(e.getValue().shape())).toType(DataType.FLOAT64, false));
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("config.json"), config.toString());
            SafeTensors.write(dir.resolve("model.safetensors"), nd);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return dir;
    }

    static AuxModel load(Path dir) {
        try (NDManager m = NDManager.newBaseManager()) {
            return TintInput.loadAux(dir, m, false, "layernorm");
        }
    }

    @BeforeAll
    static void build() {
        hf = randomOpt(7, TINY);
        aux = load(writeFolder(tmp.resolve("opt"), hf, "model.decoder.", optConfig(TINY)));
        Random r = new Random(3);
        ids = new long[24];
        for (int t = 0; t < ids.length; t++) ids[t] = r.nextInt(V);
    }

    /** Hard gates, float64 (the tolerances of docs/models/tint.md, "Checking an implementation numerically"); K=8, E=96, Hs=4 is valid for D=24, H=4. */
    static TintParams config() {
        return new TintSettings.Widths(8, 96, 4).applyTo(TintParams.DEFAULTS).with("gate_scale", 20).with("inner_lr", 1e-4);
    }

    // ------------------------------------------------------------------------------------------------ HF OPT, directly

    static double[] layerNorm(double[] x, Tensor g, Tensor b) {
        int n = x.length;
        double mu = 0, var = 0;
        for (double v : x) mu += v;
        mu /= n;
        for (double v : x) var += (v - mu) * (v - mu);
        var /= n;
        double[] y = new double[n];
        for (int i = 0; i < n; i++) y[i] = (x[i] - mu) / Math.sqrt(var + 1e-5) * g.data()[i] + b.data()[i];
        return y;
    }

    /** torch Linear: W [out, in] x + b. */
    static double[] linear(double[] x, Tensor w, Tensor b) {
        int out = (int) w.shape()[0];
        double[] y = new double[out];
        for (int i = 0; i < out; i++) {
            double s = b.data()[i];
            for (int j = 0; j < x.length; j++) s += w.get(i, j) * x[j];
            y[i] = s;
        }
        return y;
    }

    /**
     * HF OPTForCausalLM's forward as its code reads (pre-LN, do_layer_norm_before=True): positions p read row p+2 of
     * embed_positions; q_proj(x)·head_dim^-0.5 against k_proj(x), causal softmax, out_proj; fc1, ReLU, fc2; the
     * decoder's final_layer_norm; logits against embed_tokens (the tied lm_head).
     */
    static double[][] hfOptForward(Map<String, Tensor> w, long[] ids) {
        String p = "model.decoder.";
        int T = ids.length, d = D / H;
        double scaling = Math.pow(d, -0.5);
        double[][] h = new double[T][D];
        for (int t = 0; t < T; t++)
            for (int j = 0; j < D; j++) h[t][j] = w.get(p + "embed_tokens.weight").get((int) ids[t], j) + w.get(p + "embed_positions.weight").get(t + 2, j);
        for (int l = 0; l < L; l++) {
            String b = p + "layers." + l + ".";
            double[][] q = new double[T][], k = new double[T][], v = new double[T][];
            for (int t = 0; t < T; t++) {
                double[] x = layerNorm(h[t], w.get(b + "self_attn_layer_norm.weight"), w.get(b + "self_attn_layer_norm.bias"));
                q[t] = linear(x, w.get(b + "self_attn.q_proj.weight"), w.get(b + "self_attn.q_proj.bias"));
                for (int j = 0; j < D; j++) q[t][j] *= scaling;
                k[t] = linear(x, w.get(b + "self_attn.k_proj.weight"), w.get(b + "self_attn.k_proj.bias"));
                v[t] = linear(x, w.get(b + "self_attn.v_proj.weight"), w.get(b + "self_attn.v_proj.bias"));
            }
            double[][] next = new double[T][];
            for (int t = 0; t < T; t++) {
                double[] o = new double[D];
                for (int hh = 0; hh < H; hh++) {
                    double[] s = new double[t + 1];
                    double mx = Double.NEGATIVE_INFINITY, z = 0;
                    for (int u = 0; u <= t; u++) {
                        for (int a = 0; a < d; a++) s[u] += q[t][hh * d + a] * k[u][hh * d + a];
                        mx = Math.max(mx, s[u]);
                    }
                    for (int u = 0; u <= t; u++) z += Math.exp(s[u] - mx);
                    for (int u = 0; u <= t; u++)
                        for (int a = 0; a < d; a++) o[hh * d + a] += Math.exp(s[u] - mx) / z * v[u][hh * d + a];
                }
                double[] a = linear(o, w.get(b + "self_attn.out_proj.weight"), w.get(b + "self_attn.out_proj.bias"));
                double[] r = new double[D];
                for (int j = 0; j < D; j++) r[j] = h[t][j] + a[j];
                double[] f = linear(layerNorm(r, w.get(b + "final_layer_norm.weight"), w.get(b + "final_layer_norm.bias")), w.get(b + "fc1.weight"), w.get(b + "fc1.bias"));
                for (int j = 0; j < F; j++) f[j] = Math.max(0, f[j]);
                double[] m = linear(f, w.get(b + "fc2.weight"), w.get(b + "fc2.bias"));
                next[t] = new double[D];
                for (int j = 0; j < D; j++) next[t][j] = r[j] + m[j];
            }
            h = next;
        }
        double[][] logits = new double[T][V];
        Tensor e = w.get(p + "embed_tokens.weight");
        for (int t = 0; t < T; t++) {
            double[] z = layerNorm(h[t], w.get(p + "final_layer_norm.weight"), w.get(p + "final_layer_norm.bias"));
            for (int c = 0; c < V; c++)
                for (int j = 0; j < D; j++) logits[t][c] += z[j] * e.get(c, j);
        }
        return logits;
    }

    // ------------------------------------------------------------------------------------------------ tests

    @Test
    void loadedAuxComputesHfOptForward() {
        assertEquals(AuxModel.Family.OPT, aux.family);
        assertEquals(TAUX, aux.T);
        assertEquals(TAUX + 2, aux.wpe.rows);
        assertEquals("relu", aux.act);
        double[][] want = hfOptForward(hf, ids);
        Mat got = aux.forward(ids).logits;
        double worst = 0;
        for (int t = 0; t < ids.length; t++)
            for (int c = 0; c < V; c++) worst = Math.max(worst, Math.abs(got.get(t, c) - want[t][c]));
        System.out.printf("OPT aux forward vs HF OPT transcription: max abs %.3g (logits up to %.3g)%n", worst, got.maxAbs());
        assertTrue(worst < 1e-12, "max abs " + worst);
        // an OPTModel file (keys under decoder.) loads to the same model
        AuxModel bare = load(writeFolder(tmp.resolve("opt-decoder"), hf, "decoder.", optConfig(TINY)));
        assertArrayEquals(got.a, bare.forward(ids).logits.a);
    }

    @Test
    void hfNamesRoundTrip() {
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> out = aux.toHf(m, DataType.FLOAT64, 0, true);
            assertEquals(hf.keySet(), out.keySet(), "the written HF OPT names");
            for (Map.Entry<String, Tensor> e : hf.entrySet()) {
                NDArray a = out.get(e.getKey());
                assertArrayEquals(e.getValue().shape(), a.getShape().getShape(), e.getKey());
                assertArrayEquals(e.getValue().data(), a.toDoubleArray(), e.getKey());
            }
        }
    }

    static double maxRelWeights(AuxModel got, AuxModel ref, AuxModel orig) {
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> a = got.toHf(m, DataType.FLOAT64, 0, false), b = ref.toHf(m, DataType.FLOAT64, 0, false),
                    o = orig.toHf(m, DataType.FLOAT64, 0, false);
            double worst = 0;
            for (String k : b.keySet()) {
                Mat x = TintSgdTest.flat(a.get(k)), y = TintSgdTest.flat(b.get(k)), z = TintSgdTest.flat(o.get(k));
                if (TintFixtures.maxAbsDiff(y, z) == 0) assertEquals(0, TintFixtures.maxAbsDiff(x, z), k + " frozen");
                else worst = Math.max(worst, TintFixtures.relDelta(x, y, z, 0, 1));
            }
            return worst;
        }
    }

    @ParameterizedTest
    @EnumSource(TintFixtures.Backend.class)
    void constructionMatchesReference(TintFixtures.Backend backend) {
        int nTrain = 12;
        Mat base = aux.forward(ids).logits;
        for (int steps : new int[] {1, 2}) {
            TintParams c = config().with("n_forward_backward", steps);
            TintModel.Output out = backend.run(aux, c, ids, nTrain);
            AuxModel ref = TintSgd.train(aux, ids, nTrain, c.inner_lr(), steps, TintSgd.Switches.tint(c, aux));
            Mat fin = ref.forward(ids).logits;
            double orig = TintFixtures.maxAbsDiff(out.originalLogits, base);
            double rel = TintFixtures.relDelta(out.finalLogits, fin, base, 0, fin.rows);
            double w = maxRelWeights(out.updated, ref, aux);
            System.out.printf(backend + " OPT aux, %d step(s): first forward vs aux max abs %.3g; construction vs reference final rel(Δ) %.3g, weights max rel(Δw) %.3g;"
                    + " max |Δlogit| %.3g%n", steps, orig, rel, w, TintFixtures.maxAbsDiff(fin, base));
            assertTrue(orig < 1e-10, "original " + orig);
            assertTrue(rel < 1e-9, "final rel " + rel);
            assertTrue(w < 1e-9, "weights " + w);
        }
    }

    /** The dimension rules name the aux's keys as OPT's config.json does, not GPT-2's. */
    @Test
    void validationSpeaksOptKeyNames() {
        TintParams c = config().with("num_prefixes", 5).with("num_attention_heads", 2);
        String msg = assertThrows(ConfigError.class, () -> TintSettings.validate(c, aux, TAUX + 1)).getMessage();
        assertTrue(msg.contains("must divide the aux hidden_size=24") && msg.contains("the aux num_attention_heads=4")
                && msg.contains("more than the aux max_position_embeddings=32"), msg);
        // GPT-2's key names as whole words ("n_head" also occurs inside "num_attention_heads")
        assertFalse(java.util.regex.Pattern.compile("\\b(n_embd|n_head|n_positions)\\b").matcher(msg).find(), msg);
    }

    @ParameterizedTest
    @EnumSource(TintFixtures.Backend.class)
    void zeroLearningRateAndTopLayersOnly(TintFixtures.Backend backend) {
        TintParams c = config().with("inner_lr", 0);
        TintModel.Output o = backend.run(aux, c, ids, 12);
        assertArrayEquals(o.originalLogits.a, o.finalLogits.a, "inner_lr=0: final = original, bit for bit");
        c = config().with("n_simulation_layers", 1);
        o = backend.run(aux, c, ids, 12);
        AuxModel.Layer before = aux.layers.get(0), after = o.updated.layers.get(0);
        for (Mat[] pair : new Mat[][] {{before.wv, after.wv}, {before.wo, after.wo}, {before.w1, after.w1}, {before.w2, after.w2}, {before.b2, after.b2},
                {before.ln1B, after.ln1B}, {before.ln2B, after.ln2B}})
            assertArrayEquals(pair[0].a, pair[1].a, "layer 0 frozen with n_simulation_layers=1");
        assertTrue(TintFixtures.maxAbsDiff(aux.layers.get(1).wv, o.updated.layers.get(1).wv) > 0, "layer 1 updated");
        AuxModel ref = TintSgd.train(aux, ids, 12, c.inner_lr(), 1, TintSgd.Switches.tint(c, aux));
        double rel = TintFixtures.relDelta(o.finalLogits, ref.forward(ids).logits, o.originalLogits, 0, ids.length);
        System.out.printf(backend + " OPT aux, n_sim=1: construction vs reference rel(Δ) %.3g%n", rel);
        assertTrue(rel < 1e-9, "rel " + rel);
    }

    @Test
    void parameterCountsReproduceTintMdOpt125mRow() {
        // docs/models/tint.md, "Parameter count of the original" table, OPT-125M (V=50272, D=768, L=12, T_aux=2048, wpe 2050 rows), README settings E=3072, K=256, Hs=12
        TintParams g = new TintSettings.Widths(256, 3072, 12).applyTo(TintParams.DEFAULTS);
        AuxModel.Family opt = AuxModel.Family.OPT;
        long n12 = TintModel.repoParamCount(opt, 50272, 768, 12, 2048, 3072, g);
        long n6 = TintModel.repoParamCount(opt, 50272, 768, 12, 2048, 3072, g.with("n_simulation_layers", 6));
        long n3 = TintModel.repoParamCount(opt, 50272, 768, 12, 2048, 3072, g.with("n_simulation_layers", 3));
        long noReuse = TintModel.repoParamCount(opt, 50272, 768, 12, 2048, 3072, g.with("reuse_forward_blocks", false).with("reuse_backward_blocks", false));
        System.out.printf("OPT-125M repo-equivalent counts: n_sim=12 %,d; 6 %,d; 3 %,d; 12 without reuse %,d%n", n12, n6, n3, noReuse);
        assertEquals(1_669_324_018L, n12);
        assertEquals(1_220_708_254L, n6);
        assertEquals(996_400_372L, n3);
        assertEquals(2_212_104_610L, noReuse);
        TintModel t = new TintModel(aux, config());
        assertEquals(TintModel.repoParamCount(opt, V, D, L, TAUX, F, config()), t.repoParamCount());
        assertEquals(TintModel.repoParamCount(V, D, L, TAUX, TAUX + 2, F, config()), t.repoParamCount());
        System.out.printf("tiny OPT (D=%d, L=%d): repo-equivalent %,d, own %,d%n", D, L, t.repoParamCount(), t.ownParamCount());
    }

    @Test
    void unsupportedOptVariantsAreRefusedByKey() {
        JsonObject post = optConfig(TINY);
        post.addProperty("do_layer_norm_before", false);
        Path p = writeFolder(tmp.resolve("opt-post-ln"), hf, "model.decoder.", post);
        ConfigError e = assertThrows(ConfigError.class, () -> load(p));
        System.out.println("post-LN OPT: " + e.getMessage());
        assertTrue(e.getMessage().contains("do_layer_norm_before") && !e.getMessage().contains("\n"), e.getMessage());
        JsonObject proj = optConfig(TINY);
        proj.addProperty("word_embed_proj_dim", D / 2);
        Path q = writeFolder(tmp.resolve("opt-proj"), hf, "model.decoder.", proj);
        e = assertThrows(ConfigError.class, () -> load(q));
        assertTrue(e.getMessage().contains("word_embed_proj_dim") && !e.getMessage().contains("\n"), e.getMessage());
    }
}
