package org.tinker.tint;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.tinker.config.ConfigError;
import org.tinker.config.Params;
import org.tinker.config.TintParams;
import org.tinker.engine.SafeTensors;
import org.tinker.gpt2.Gpt2Config;
import org.tinker.gpt2.Gpt2Pretrained;
import org.tinker.model.LM;

/**
 * Saving and loading a constructed TinT model: a folder with {@code tint.json} (the TinT settings and the aux
 * dimensions) and {@code tint.safetensors} (every TinT tensor: the fixed module matrices, the gates, the prefixes
 * holding the aux weights, wte and wpe) for a GPT-2 or OPT aux. Loading rebuilds the aux weights from the prefixes alone.
 */
public final class TintStore {
    private TintStore() {}

    public static final String JSON = "tint.json", TENSORS = "tint.safetensors";

    /** Every TinT tensor by name (the live matrices: loading writes into them). */
    static LinkedHashMap<String, Mat> tensors(TintModel t) {
        LinkedHashMap<String, Mat> m = new LinkedHashMap<>();
        for (Map.Entry<String, LinAttn> e : Map.of("linear_forward", t.lf, "linear_backward", t.lb, "linear_descent", t.ld, "ln_descent", t.ldBias).entrySet()) {
            LinAttn a = e.getValue();
            String p = e.getKey() + ".";
            m.put(p + "wq", a.wq); m.put(p + "pq", a.pq); m.put(p + "bq", a.bq);
            m.put(p + "wk", a.wk); m.put(p + "pk", a.pk); m.put(p + "bk", a.bk);
            m.put(p + "wv", a.wv); m.put(p + "pv", a.pv); m.put(p + "wo", a.wo);
        }
        m.put("gates.keep.a", t.keepReplace.a); m.put("gates.keep.b", t.keepReplace.b);
        m.put("gates.add.a", t.addPrefix.a); m.put("gates.add.b", t.addPrefix.b);
        m.put("place.k", t.placeK); m.put("place.v", t.placeV); m.put("fd.in", t.fdIn); m.put("fd.out", t.fdOut);
        m.put("memory.copy", t.memCopy); m.put("memory.qk", t.qkCopy); m.put("memory.pass", t.passRest);
        m.put("attn.wq", t.attn.wq); m.put("attn.wk", t.attn.wk); m.put("attn.wv", t.attn.wv); m.put("attn.wo", t.attn.wo);
        m.put("attn.wq_memory", t.attn.wqMem); m.put("attn.wk_memory", t.attn.wkMem);
        for (int l = 0; l < t.prefixes.size(); l++)
            for (int i = 0; i < t.prefixes.get(l).length; i++) m.put("prefix.h." + l + "." + i, t.prefixes.get(l)[i]);
        m.put("prefix.ln_f", t.lnfPrefix);
        m.put("aux.wte", t.aux.wte);
        m.put("aux.wpe", t.aux.wpe);
        return m;
    }

    /** tint.json: the aux dimensions, every TinT setting, both parameter counts. */
    static JsonObject settingsJson(AuxModel a, TintParams c, long repo, long own) {
        JsonObject o = new JsonObject();
        o.addProperty("model_type", a.family.modelType);
        o.addProperty("n_embd", a.D); o.addProperty("n_head", a.H); o.addProperty("n_layer", a.L); o.addProperty("vocab_size", a.V);
        o.addProperty("n_positions", a.T); o.addProperty("n_inner", a.F); o.addProperty("layer_norm_epsilon", a.eps);
        o.addProperty("activation_function", a.act); o.addProperty("norm", a.norm);
        Params.toJsonObject(c).entrySet().forEach(e -> o.add(e.getKey(), e.getValue()));
        o.addProperty("repo_param_count", repo);
        o.addProperty("own_param_count", own);
        return o;
    }

    /**
     * The engine construction's own numbers ({@code "layout": "structured"}): the prefixes ({@code prefix.h.L.I} [K, E],
     * {@code prefix.ln_f}), wte, wpe and the gates' position weights. Its modules are code, so there is nothing else;
     * {@link #load} rebuilds the aux from the prefixes.
     */
    public static void save(TintEngine t, Path dir) {
        JsonObject o = settingsJson(t.aux, t.cfg, t.repoParamCount(), t.ownParamCount());
        o.addProperty("layout", "structured");
        o.addProperty("engine_precision", t.precision.name().toLowerCase());
        int K = t.K, E = t.E, P = t.aux.T + K;
        try (NDManager mgr = NDManager.newBaseManager()) {
            LinkedHashMap<String, NDArray> out = new LinkedHashMap<>();
            for (int l = 0; l < t.prefixes.size(); l++)
                for (int i = 0; i < t.prefixes.get(l).length; i++) out.put("prefix.h." + l + "." + i, cpu(t.prefixes.get(l)[i], mgr).reshape(K, E));
            out.put("prefix.ln_f", cpu(t.lnfPrefix, mgr).reshape(K, E));
            out.put("aux.wte", cpu(t.wte, mgr));
            out.put("aux.wpe", cpu(t.wpe, mgr));
            boolean f32 = t.precision.f32();
            Gates keep = Gates.keepPrefixReplaceTokens(P, t.aux.T, K, t.cfg.gate_scale(), f32), add = Gates.addToPrefix(P, t.aux.T, K, t.cfg.gate_scale(), f32);
            DataType dt = t.dt;
            out.put("gates.keep.a", AuxModel.nd(mgr, keep.a, false, dt)); out.put("gates.keep.b", AuxModel.nd(mgr, keep.b, false, dt));
            out.put("gates.add.a", AuxModel.nd(mgr, add.a, false, dt)); out.put("gates.add.b", AuxModel.nd(mgr, add.b, false, dt));
            Files.createDirectories(dir);
            Files.writeString(dir.resolve(JSON), new GsonBuilder().setPrettyPrinting().create().toJson(o) + "\n");
            SafeTensors.write(dir.resolve(TENSORS), out);
        } catch (IOException e) {
            throw new ConfigError(dir + ": cannot write the TinT model (" + e.getMessage() + ")");
        }
    }

    /** A copy of a device tensor on the CPU in {@code mgr}. */
    private static NDArray cpu(NDArray a, NDManager mgr) {
        NDArray c = a.toDevice(mgr.getDevice(), true);
        c.attach(mgr);
        return c;
    }

    public static void save(TintModel t, Path dir) {
        AuxModel a = t.aux;
        TintParams c = t.cfg;
        JsonObject o = settingsJson(a, c, t.repoParamCount(), t.ownParamCount());
        DataType dt = c.f32() ? DataType.FLOAT32 : DataType.FLOAT64;
        try (NDManager mgr = NDManager.newBaseManager()) {
            LinkedHashMap<String, NDArray> out = new LinkedHashMap<>();
            for (Map.Entry<String, Mat> e : tensors(t).entrySet()) out.put(e.getKey(), AuxModel.nd(mgr, e.getValue(), false, dt));
            Files.createDirectories(dir);
            Files.writeString(dir.resolve(JSON), new GsonBuilder().setPrettyPrinting().create().toJson(o) + "\n");
            SafeTensors.write(dir.resolve(TENSORS), out);
        } catch (IOException e) {
            throw new ConfigError(dir + ": cannot write the TinT model (" + e.getMessage() + ")");
        }
    }

    public static TintModel load(Path dir) {
        Path js = dir.resolve(JSON);
        if (!Files.isRegularFile(js)) throw new ConfigError(dir + ": no " + JSON + " (expected a folder written by `runner tint create --save`)");
        JsonObject o;
        String text;
        try {
            text = Files.readString(js);
            o = JsonParser.parseString(text).getAsJsonObject();
        } catch (IOException | RuntimeException e) {
            throw new ConfigError(js + ": not a TinT settings file (" + e.getMessage() + ")");
        }
        TintParams c = TintSettings.fromJson(text, js.toString());
        boolean f32 = c.f32();
        int D = o.get("n_embd").getAsInt(), H = o.get("n_head").getAsInt(), L = o.get("n_layer").getAsInt(), V = o.get("vocab_size").getAsInt();
        int T = o.get("n_positions").getAsInt(), F = o.get("n_inner").getAsInt();
        // tint.json files written before OPT support have no model_type: they are GPT-2
        AuxModel.Family fam = AuxModel.Family.of(o.has("model_type") ? o.get("model_type").getAsString() : "gpt2", js.toString());
        AuxModel a = new AuxModel(fam, D, H, L, V, T, F, o.get("layer_norm_epsilon").getAsDouble(), o.get("activation_function").getAsString(),
                o.get("norm").getAsString(), f32);
        a.wte = new Mat(V, D, f32); a.wpe = new Mat(T + fam.posOffset, D, f32); a.lnfW = new Mat(1, D, f32); a.lnfB = new Mat(1, D, f32);
        for (int l = 0; l < L; l++) {
            AuxModel.Layer y = new AuxModel.Layer();
            y.ln1W = new Mat(1, D, f32); y.ln1B = new Mat(1, D, f32); y.ln2W = new Mat(1, D, f32); y.ln2B = new Mat(1, D, f32);
            y.wq = new Mat(D, D, f32); y.wk = new Mat(D, D, f32); y.wv = new Mat(D, D, f32); y.wo = new Mat(D, D, f32);
            y.bq = new Mat(1, D, f32); y.bk = new Mat(1, D, f32); y.bv = new Mat(1, D, f32); y.bo = new Mat(1, D, f32);
            y.w1 = new Mat(F, D, f32); y.b1 = new Mat(1, F, f32); y.w2 = new Mat(D, F, f32); y.b2 = new Mat(1, D, f32);
            a.layers.add(y);
        }
        if (o.has("layout") && o.get("layout").getAsString().equals("structured")) {
            // prefixes → aux weights (the layout of PrefixLayout), embeddings as stored
            PrefixLayout layout = new PrefixLayout(D, c.num_prefixes(), c.hidden_size(), F / D, f32);
            try (NDManager mgr = NDManager.newBaseManager()) {
                Map<String, NDArray> in = SafeTensors.read(dir.resolve(TENSORS), mgr);
                java.util.function.BiFunction<String, Mat, Mat> get = (k, like) -> {
                    NDArray nd = in.get(k);
                    if (nd == null) throw new ConfigError(dir.resolve(TENSORS) + ": missing tensor " + k);
                    double[] d = nd.toType(DataType.FLOAT64, false).toDoubleArray();
                    if (d.length != like.a.length) throw new ConfigError(dir.resolve(TENSORS) + ": " + k + " has " + d.length + " numbers, expected " + like.a.length);
                    return new Mat(like.rows, like.cols, d, f32);
                };
                java.util.List<Mat[]> pre = new java.util.ArrayList<>();
                Mat shape = new Mat(c.num_prefixes(), c.hidden_size(), f32);
                for (int l = 0; l < L; l++) {
                    Mat[] p = new Mat[6 + 2 * (F / D)];
                    for (int i = 0; i < p.length; i++) p[i] = get.apply("prefix.h." + l + "." + i, shape);
                    pre.add(p);
                }
                a.wte = get.apply("aux.wte", a.wte);
                a.wpe = get.apply("aux.wpe", a.wpe);
                Mat lnf = get.apply("prefix.ln_f", shape);
                TintModel t = new TintModel(layout.decode(a, pre, lnf), c);
                // the stored prefixes themselves (re-encoding the decoded MLP bias b₂ = Σ b₂/R would round differently)
                for (int l = 0; l < L; l++) t.prefixes.set(l, pre.get(l));
                t.lnfPrefix = lnf;
                return t;
            }
        }
        TintModel t = new TintModel(a, c);
        try (NDManager mgr = NDManager.newBaseManager()) {
            Map<String, NDArray> in = SafeTensors.read(dir.resolve(TENSORS), mgr);
            for (Map.Entry<String, Mat> e : tensors(t).entrySet()) {
                NDArray nd = in.get(e.getKey());
                if (nd == null) throw new ConfigError(dir.resolve(TENSORS) + ": missing tensor " + e.getKey());
                double[] d = nd.toType(DataType.FLOAT64, false).toDoubleArray();
                Mat m = e.getValue();
                if (d.length != m.a.length) throw new ConfigError(dir.resolve(TENSORS) + ": " + e.getKey() + " has " + d.length + " numbers, expected " + m.a.length);
                System.arraycopy(d, 0, m.a, 0, d.length);
            }
        }
        AuxModel dec = t.decode(t.prefixes, t.lnfPrefix);
        a.layers.clear();
        a.layers.addAll(dec.layers);
        a.lnfW = dec.lnfW;
        a.lnfM = dec.lnfM;
        a.lnfB = dec.lnfB;
        return t;
    }

    /** The aux model of a tinker LM of GPT-2 architecture (trained or imported). */
    public static AuxModel fromLm(LM lm, boolean f32, String norm) {
        String why = Gpt2Config.whyNotGpt2(lm.params());
        if (why != null) throw new ConfigError("TinT needs an aux model of GPT-2 architecture: " + why);
        if (!lm.params().tie_embed_deembed()) throw new ConfigError("TinT needs the LM head tied to wte (tie_embed_deembed=True), as GPT-2");
        Map<String, NDArray> hf = new LinkedHashMap<>();
        for (Map.Entry<String, NDArray> e : lm.parameters().entrySet()) {
            String k = e.getKey();
            String rest = k.startsWith("transformer.h.") ? k.substring(k.indexOf('.', "transformer.h.".length()) + 1) : "";
            hf.put(k, Gpt2Pretrained.CONV1D.contains(rest) ? e.getValue().transpose(1, 0) : e.getValue());
        }
        return AuxModel.fromHf(hf, lm.params().n_heads(), lm.params().layer_norm_eps(), lm.params().activation().spelling(), norm, f32, "model");
    }
}
