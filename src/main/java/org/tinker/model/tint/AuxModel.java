package org.tinker.model.tint;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tinker.config.ConfigError;

/**
 * The auxiliary (simulated) GPT-2: its weights in torch-Linear layout [out, in] as {@link Mat}s, and a plain forward
 * pass that keeps what a backward pass needs. {@code norm} is "layernorm" (GPT-2) or "rmsnorm" (the extension beyond
 * the original: f(x) = x/√(mean(x²)+ε), still with the affine γ, β).
 */
public final class AuxModel {
    public final int D, H, L, V, T, F;
    public final double eps;
    public final String act;
    public final String norm;
    public final boolean f32;
    public Mat wte, wpe, lnfW, lnfB;
    /**
     * ln_f's weight as a full D×D matrix (torch Linear layout [out, in]), or null when it is diag({@link #lnfW}). Only
     * TinT's {@code ln_update_bias_only=false} update (tint.md §1.4) makes it non-diagonal; the norm output is then
     * y = M·f(x) + β, and {@link #lnfW} holds M's diagonal.
     */
    public Mat lnfM;
    public final List<Layer> layers = new ArrayList<>();

    /** One block. Q/K/V are the three column blocks of HF's c_attn, transposed. */
    public static final class Layer {
        public Mat ln1W, ln1B, wq, bq, wk, bk, wv, bv, wo, bo, ln2W, ln2B, w1, b1, w2, b2;
        /** ln_1 / ln_2 weight as a full D×D matrix, or null when diagonal (see {@link AuxModel#lnfM}). */
        public Mat ln1M, ln2M;

        Layer copy() {
            Layer c = new Layer();
            c.ln1W = ln1W.copy(); c.ln1B = ln1B.copy(); c.wq = wq.copy(); c.bq = bq.copy(); c.wk = wk.copy(); c.bk = bk.copy();
            c.wv = wv.copy(); c.bv = bv.copy(); c.wo = wo.copy(); c.bo = bo.copy(); c.ln2W = ln2W.copy(); c.ln2B = ln2B.copy();
            c.w1 = w1.copy(); c.b1 = b1.copy(); c.w2 = w2.copy(); c.b2 = b2.copy();
            c.ln1M = ln1M == null ? null : ln1M.copy(); c.ln2M = ln2M == null ? null : ln2M.copy();
            return c;
        }
    }

    public AuxModel(int D, int H, int L, int V, int T, int F, double eps, String act, String norm, boolean f32) {
        this.D = D; this.H = H; this.L = L; this.V = V; this.T = T; this.F = F; this.eps = eps; this.act = act; this.norm = norm; this.f32 = f32;
        if (!act.equals("gelu_new") && !act.equals("relu"))
            throw new ConfigError("activation_function=" + act + ": TinT supports gelu_new (GPT-2) and relu");
        if (!norm.equals("layernorm") && !norm.equals("rmsnorm")) throw new ConfigError("norm=" + norm + ": expected layernorm or rmsnorm");
        if (D % H != 0) throw new ConfigError("n_embd=" + D + " is not a multiple of n_head=" + H);
    }

    public AuxModel copy() {
        AuxModel c = new AuxModel(D, H, L, V, T, F, eps, act, norm, f32);
        c.wte = wte.copy(); c.wpe = wpe.copy(); c.lnfW = lnfW.copy(); c.lnfB = lnfB.copy();
        c.lnfM = lnfM == null ? null : lnfM.copy();
        for (Layer l : layers) c.layers.add(l.copy());
        return c;
    }

    // ------------------------------------------------------------------------------------------------ HF conversion

    static Mat mat(NDArray a, boolean f32) {
        Shape s = a.getShape();
        double[] d = a.toType(DataType.FLOAT64, false).toDoubleArray();
        if (s.dimension() == 1) return new Mat(1, (int) s.get(0), d, f32);
        if (s.dimension() != 2) throw new ConfigError(a.getName() + ": expected a 1-D or 2-D tensor, got " + s);
        return new Mat((int) s.get(0), (int) s.get(1), d, f32);
    }

    /**
     * From HF GPT-2 tensors (with or without the {@code transformer.} prefix; Conv1D [in, out]).
     * {@code where} names the source in errors.
     */
    public static AuxModel fromHf(Map<String, NDArray> hf, int nHead, double eps, String act, String norm, boolean f32, String where) {
        Map<String, NDArray> m = new LinkedHashMap<>();
        for (Map.Entry<String, NDArray> e : hf.entrySet()) {
            String k = e.getKey().startsWith("transformer.") ? e.getKey().substring("transformer.".length()) : e.getKey();
            m.put(k, e.getValue());
        }
        java.util.function.Function<String, Mat> get = k -> {
            NDArray a = m.get(k);
            if (a == null) throw new ConfigError(where + ": missing tensor transformer." + k);
            return mat(a, f32);
        };
        Mat wte = get.apply("wte.weight"), wpe = get.apply("wpe.weight");
        int D = wte.cols, V = wte.rows, T = wpe.rows;
        int L = 0;
        while (m.containsKey("h." + L + ".ln_1.weight")) L++;
        if (L == 0) throw new ConfigError(where + ": no transformer.h.0.* tensors (expected a GPT-2 checkpoint)");
        int F = (int) m.get("h.0.mlp.c_fc.weight").getShape().get(1);
        AuxModel a = new AuxModel(D, nHead, L, V, T, F, eps, act, norm, f32);
        a.wte = wte; a.wpe = wpe;
        a.lnfW = get.apply("ln_f.weight"); a.lnfB = get.apply("ln_f.bias");
        for (int l = 0; l < L; l++) {
            String p = "h." + l + ".";
            Layer y = new Layer();
            y.ln1W = get.apply(p + "ln_1.weight"); y.ln1B = get.apply(p + "ln_1.bias");
            Mat cat = get.apply(p + "attn.c_attn.weight").t(); // [3D, D]
            Mat cab = get.apply(p + "attn.c_attn.bias");
            y.wq = cat.rows(0, D); y.wk = cat.rows(D, 2 * D); y.wv = cat.rows(2 * D, 3 * D);
            y.bq = cab.cols(0, D); y.bk = cab.cols(D, 2 * D); y.bv = cab.cols(2 * D, 3 * D);
            y.wo = get.apply(p + "attn.c_proj.weight").t(); y.bo = get.apply(p + "attn.c_proj.bias");
            y.ln2W = get.apply(p + "ln_2.weight"); y.ln2B = get.apply(p + "ln_2.bias");
            y.w1 = get.apply(p + "mlp.c_fc.weight").t(); y.b1 = get.apply(p + "mlp.c_fc.bias");
            y.w2 = get.apply(p + "mlp.c_proj.weight").t(); y.b2 = get.apply(p + "mlp.c_proj.bias");
            a.layers.add(y);
        }
        return a;
    }

    static NDArray nd(NDManager mgr, Mat m, boolean vector, DataType dt) {
        NDArray a = mgr.create(m.a, vector ? new Shape(m.cols) : new Shape(m.rows, m.cols));
        return a.toType(dt, false);
    }

    /** The weights under HF names (Conv1D [in, out]); {@code layersFrom}: only blocks ≥ it (plus ln_f), or all with 0 and embeddings. */
    public LinkedHashMap<String, NDArray> toHf(NDManager mgr, DataType dt, int layersFrom, boolean embeddings) {
        LinkedHashMap<String, NDArray> out = new LinkedHashMap<>();
        if (embeddings) {
            out.put("transformer.wte.weight", nd(mgr, wte, false, dt));
            out.put("transformer.wpe.weight", nd(mgr, wpe, false, dt));
        }
        for (int l = layersFrom; l < L; l++) {
            Layer y = layers.get(l);
            String p = "transformer.h." + l + ".";
            out.put(p + "ln_1.weight", nd(mgr, y.ln1W, true, dt));
            if (y.ln1M != null) out.put(p + "ln_1.weight_matrix", nd(mgr, y.ln1M, false, dt));
            out.put(p + "ln_1.bias", nd(mgr, y.ln1B, true, dt));
            out.put(p + "attn.c_attn.weight", nd(mgr, Mat.vstack(Mat.vstack(y.wq, y.wk), y.wv).t(), false, dt));
            out.put(p + "attn.c_attn.bias", nd(mgr, Mat.hstack(y.bq, y.bk, y.bv), true, dt));
            out.put(p + "attn.c_proj.weight", nd(mgr, y.wo.t(), false, dt));
            out.put(p + "attn.c_proj.bias", nd(mgr, y.bo, true, dt));
            out.put(p + "ln_2.weight", nd(mgr, y.ln2W, true, dt));
            if (y.ln2M != null) out.put(p + "ln_2.weight_matrix", nd(mgr, y.ln2M, false, dt));
            out.put(p + "ln_2.bias", nd(mgr, y.ln2B, true, dt));
            out.put(p + "mlp.c_fc.weight", nd(mgr, y.w1.t(), false, dt));
            out.put(p + "mlp.c_fc.bias", nd(mgr, y.b1, true, dt));
            out.put(p + "mlp.c_proj.weight", nd(mgr, y.w2.t(), false, dt));
            out.put(p + "mlp.c_proj.bias", nd(mgr, y.b2, true, dt));
        }
        out.put("transformer.ln_f.weight", nd(mgr, lnfW, true, dt));
        if (lnfM != null) out.put("transformer.ln_f.weight_matrix", nd(mgr, lnfM, false, dt));
        out.put("transformer.ln_f.bias", nd(mgr, lnfB, true, dt));
        return out;
    }

    // ------------------------------------------------------------------------------------------------ math

    /** The parameter-free normalisation f (per row): LayerNorm (x−μ)/√(var+ε) or RMSNorm x/√(mean x²+ε). */
    public Mat normalize(Mat x) {
        Mat z = x.like();
        for (int i = 0; i < x.rows; i++) {
            double mu = 0, var = 0;
            if (norm.equals("layernorm")) {
                for (int j = 0; j < x.cols; j++) mu += x.get(i, j);
                mu /= x.cols;
            }
            for (int j = 0; j < x.cols; j++) {
                double c = x.get(i, j) - mu;
                var += c * c;
            }
            var /= x.cols;
            double inv = 1 / Math.sqrt(var + eps);
            for (int j = 0; j < x.cols; j++) z.set(i, j, (x.get(i, j) - mu) * inv);
        }
        return z;
    }

    /** Exact Jᵀδ of f at x (J is symmetric for LayerNorm; for RMSNorm Jᵀ is used). */
    public Mat normalizeBackward(Mat x, Mat delta) {
        Mat z = normalize(x);
        Mat out = x.like();
        int n = x.cols;
        for (int i = 0; i < x.rows; i++) {
            double mu = 0, var = 0;
            if (norm.equals("layernorm")) {
                for (int j = 0; j < n; j++) mu += x.get(i, j);
                mu /= n;
            }
            for (int j = 0; j < n; j++) var += (x.get(i, j) - mu) * (x.get(i, j) - mu);
            var /= n;
            double inv = 1 / Math.sqrt(var + eps);
            double md = 0, mdz = 0;
            for (int j = 0; j < n; j++) {
                md += delta.get(i, j);
                mdz += delta.get(i, j) * z.get(i, j);
            }
            md /= n;
            mdz /= n;
            if (!norm.equals("layernorm")) md = 0;
            for (int j = 0; j < n; j++) out.set(i, j, inv * (delta.get(i, j) - md - z.get(i, j) * mdz));
        }
        return out;
    }

    static final double SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

    public double sigma(double x) {
        if (act.equals("relu")) return Math.max(0, x);
        return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
    }

    public double sigmaPrime(double x) {
        if (act.equals("relu")) return x > 0 ? 1 : 0;
        double u = SQRT_2_OVER_PI * (x + 0.044715 * x * x * x);
        double th = Math.tanh(u);
        return 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x);
    }

    /** Everything a backward pass needs from one block's forward. */
    public static final class LayerCache {
        public Mat x, z1, u1, q, k, v, o, xm, z2, u2, h, a, out;
        public Mat[] attn; // per head [T, T]
    }

    public static final class Forward {
        public final List<LayerCache> layers = new ArrayList<>();
        public Mat x0, xf, zf, hf, logits;
    }

    public Mat embed(long[] ids) {
        Mat x = new Mat(ids.length, D, f32);
        for (int t = 0; t < ids.length; t++)
            for (int j = 0; j < D; j++) x.set(t, j, wte.get((int) ids[t], j) + wpe.get(t, j));
        return x;
    }

    public LayerCache block(int l, Mat x) {
        Layer y = layers.get(l);
        LayerCache c = new LayerCache();
        c.x = x;
        c.z1 = normalize(x);
        c.u1 = affine(c.z1, y.ln1W, y.ln1M, y.ln1B);
        c.q = c.u1.mmT(y.wq).addRow(y.bq);
        c.k = c.u1.mmT(y.wk).addRow(y.bk);
        c.v = c.u1.mmT(y.wv).addRow(y.bv);
        int d = D / H, n = x.rows;
        c.attn = new Mat[H];
        c.o = x.like();
        for (int i = 0; i < H; i++) {
            Mat qi = c.q.cols(i * d, (i + 1) * d), ki = c.k.cols(i * d, (i + 1) * d), vi = c.v.cols(i * d, (i + 1) * d);
            Mat s = qi.mmT(ki).scale(1 / Math.sqrt(d));
            c.attn[i] = causalSoftmax(s);
            c.o.put(0, i * d, c.attn[i].mm(vi));
        }
        c.xm = x.add(c.o.mmT(y.wo).addRow(y.bo));
        c.z2 = normalize(c.xm);
        c.u2 = affine(c.z2, y.ln2W, y.ln2M, y.ln2B);
        c.h = c.u2.mmT(y.w1).addRow(y.b1);
        c.a = c.h.map(this::sigma);
        c.out = c.xm.add(c.a.mmT(y.w2).addRow(y.b2));
        return c;
    }

    static Mat causalSoftmax(Mat s) {
        Mat p = s.like();
        for (int t = 0; t < s.rows; t++) {
            double m = Double.NEGATIVE_INFINITY;
            for (int u = 0; u <= t; u++) m = Math.max(m, s.get(t, u));
            double z = 0;
            double[] e = new double[t + 1];
            for (int u = 0; u <= t; u++) {
                e[u] = Math.exp(s.get(t, u) - m);
                z += e[u];
            }
            for (int u = 0; u <= t; u++) p.set(t, u, e[u] / z);
        }
        return p;
    }

    /** The norm's affine part: z⊙γ + β, or z·Mᵀ + β when the weight is a full matrix M (non-null). */
    static Mat affine(Mat z, Mat gamma, Mat M, Mat beta) {
        return (M == null ? z.mul(rowsOf(gamma, z.rows)) : z.mmT(M)).addRow(beta);
    }

    /** δz from δy through the affine part: γ⊙δy, or Mᵀδy per row. */
    static Mat affineBack(Mat dy, Mat gamma, Mat M) {
        return M == null ? dy.mul(rowsOf(gamma, dy.rows)) : dy.mm(M);
    }

    /** diag(v) for a 1×n row v. */
    static Mat diag(Mat v) {
        Mat m = new Mat(v.cols, v.cols, v.f32);
        for (int i = 0; i < v.cols; i++) m.set(i, i, v.get(0, i));
        return m;
    }

    /** The diagonal of a square matrix as a 1×n row. */
    static Mat diagOf(Mat m) {
        Mat v = new Mat(1, m.rows, m.f32);
        for (int i = 0; i < m.rows; i++) v.set(0, i, m.get(i, i));
        return v;
    }

    static Mat rowsOf(Mat v, int n) {
        Mat m = new Mat(n, v.cols, v.f32);
        for (int i = 0; i < n; i++) System.arraycopy(v.a, 0, m.a, i * v.cols, v.cols);
        return m;
    }

    public Mat head(Mat hf) {
        return hf.mmT(wte);
    }

    public Forward forward(long[] ids) {
        if (ids.length > T) throw new ConfigError("input of " + ids.length + " tokens is longer than the aux model's n_positions=" + T);
        Forward f = new Forward();
        f.x0 = embed(ids);
        Mat x = f.x0;
        for (int l = 0; l < L; l++) {
            LayerCache c = block(l, x);
            f.layers.add(c);
            x = c.out;
        }
        f.xf = x;
        f.zf = normalize(x);
        f.hf = affine(f.zf, lnfW, lnfM, lnfB);
        f.logits = head(f.hf);
        return f;
    }
}
