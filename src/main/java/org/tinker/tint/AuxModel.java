package org.tinker.tint;

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
 * The auxiliary (simulated) model: a pre-LN GPT-2 or OPT (docs/models/tint.md, "Notation and layout rules"; the original's {@code tint_gpt.py} and
 * {@code tint_opt.py}), its weights in torch-Linear layout [out, in] as {@link Mat}s, and a plain forward pass that keeps
 * what a backward pass needs. The two families compute the same block (OPT's q·head_dim^-0.5 is the same score
 * ⟨q,k⟩/√d); they differ only in the HF names and layouts ({@link Family}), the activation (GPT-2 gelu_new, OPT relu)
 * and OPT's learned-position offset of 2. {@code norm} is "layernorm" or "rmsnorm" (the extension beyond the original:
 * f(x) = x/√(mean(x²)+ε), still with the affine γ, β).
 */
public final class AuxModel {
    /**
     * Where a family keeps each tensor in an HF checkpoint, and its position offset. GPT-2 stores the projections as
     * Conv1D [in, out] with q|k|v fused in c_attn; OPT as torch Linear [out, in] with separate q/k/v_proj. OPT's
     * {@code embed_positions} has max_position_embeddings+2 rows and position p reads row p+2 (HF's offset).
     */
    public enum Family {
        GPT2("gpt2", 0, "transformer.", new String[] {""}, "wte", "wpe", "ln_f", "h.", "ln_1", null, "attn.c_attn", "attn.c_proj",
                "ln_2", "mlp.c_fc", "mlp.c_proj", true),
        OPT("opt", 2, "model.decoder.", new String[] {"decoder.", ""}, "embed_tokens", "embed_positions", "final_layer_norm", "layers.",
                "self_attn_layer_norm", new String[] {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"}, null,
                "self_attn.out_proj", "final_layer_norm", "fc1", "fc2", false);

        /** HF's model_type. */
        public final String modelType;
        /** wpe row of position p = p + posOffset. */
        public final int posOffset;
        final String root, wte, wpe, lnf, block, ln1, fusedQkv, out, ln2, fc1, fc2;
        final String[] otherRoots, qkv;
        final boolean conv1d;

        Family(String modelType, int posOffset, String root, String[] otherRoots, String wte, String wpe, String lnf, String block, String ln1,
               String[] qkv, String fusedQkv, String out, String ln2, String fc1, String fc2, boolean conv1d) {
            this.modelType = modelType; this.posOffset = posOffset; this.root = root; this.otherRoots = otherRoots; this.wte = wte; this.wpe = wpe;
            this.lnf = lnf; this.block = block; this.ln1 = ln1; this.qkv = qkv; this.fusedQkv = fusedQkv; this.out = out; this.ln2 = ln2;
            this.fc1 = fc1; this.fc2 = fc2; this.conv1d = conv1d;
        }

        public static Family of(String modelType, String where) {
            for (Family f : values()) if (f.modelType.equals(modelType)) return f;
            throw new ConfigError(where + ": model_type=" + modelType + ": TinT supports gpt2 and opt aux models");
        }

        /** config.json's key for the width D, as this family names it (messages speak the user's checkpoint's language). */
        public String widthKey() {
            return this == GPT2 ? "n_embd" : "hidden_size";
        }

        /** config.json's key for the number of heads H. */
        public String headsKey() {
            return this == GPT2 ? "n_head" : "num_attention_heads";
        }

        /** config.json's key for the number of positions T_aux. */
        public String positionsKey() {
            return this == GPT2 ? "n_positions" : "max_position_embeddings";
        }

        /** The key without the checkpoint's root (transformer. / model.decoder. / decoder.), or null if it has none of them. */
        String strip(String key) {
            if (key.startsWith(root)) return key.substring(root.length());
            for (String r : otherRoots) if (key.startsWith(r)) return key.substring(r.length());
            return null;
        }
    }

    public final Family family;
    public final int D, H, L, V, T, F;
    public final double eps;
    public final String act;
    public final String norm;
    public final boolean f32;
    /** wpe has T + family.posOffset rows. */
    public Mat wte, wpe, lnfW, lnfB;
    /**
     * ln_f's weight as a full D×D matrix (torch Linear layout [out, in]), or null when it is diag({@link #lnfW}). Only
     * TinT's {@code ln_update_bias_only=false} update (docs/models/tint.md, "Approximations relative to exact backprop") makes it non-diagonal; the norm output is then
     * y = M·f(x) + β, and {@link #lnfW} holds M's diagonal.
     */
    public Mat lnfM;
    public final List<Layer> layers = new ArrayList<>();

    /** One block. Q/K/V are GPT-2's c_attn column blocks transposed, or OPT's q/k/v_proj. */
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
        this(Family.GPT2, D, H, L, V, T, F, eps, act, norm, f32);
    }

    public AuxModel(Family family, int D, int H, int L, int V, int T, int F, double eps, String act, String norm, boolean f32) {
        this.family = family;
        this.D = D; this.H = H; this.L = L; this.V = V; this.T = T; this.F = F; this.eps = eps; this.act = act; this.norm = norm; this.f32 = f32;
        if (!act.equals("gelu_new") && !act.equals("relu"))
            throw new ConfigError("activation_function=" + act + ": TinT supports gelu_new (GPT-2) and relu (OPT)");
        if (!norm.equals("layernorm") && !norm.equals("rmsnorm")) throw new ConfigError("norm=" + norm + ": expected layernorm or rmsnorm");
        if (D % H != 0) throw new ConfigError("hidden width " + D + " is not a multiple of the number of heads " + H);
    }

    public AuxModel copy() {
        AuxModel c = new AuxModel(family, D, H, L, V, T, F, eps, act, norm, f32);
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

    /** From HF GPT-2 tensors (with or without the {@code transformer.} prefix; Conv1D [in, out]). {@code where} names the source in errors. */
    public static AuxModel fromHf(Map<String, NDArray> hf, int nHead, double eps, String act, String norm, boolean f32, String where) {
        return fromHf(hf, Family.GPT2, nHead, eps, act, norm, f32, where);
    }

    /**
     * From HF tensors of either family (keys with or without the family's roots; tensors outside them, such as a tied
     * {@code lm_head.weight}, are ignored). The sizes come from the tensors: D and V from wte, T from wpe's rows less
     * the position offset, L from the blocks present, F from the first MLP weight.
     */
    public static AuxModel fromHf(Map<String, NDArray> hf, Family fam, int nHead, double eps, String act, String norm, boolean f32, String where) {
        Map<String, NDArray> m = new LinkedHashMap<>();
        for (Map.Entry<String, NDArray> e : hf.entrySet()) {
            String k = fam.strip(e.getKey());
            if (k != null) m.putIfAbsent(k, e.getValue());
        }
        java.util.function.Function<String, Mat> get = k -> {
            NDArray a = m.get(k);
            if (a == null) throw new ConfigError(where + ": missing tensor " + fam.root + k);
            return mat(a, f32);
        };
        // a projection as [out, in]: GPT-2's Conv1D is stored [in, out]
        java.util.function.Function<String, Mat> linear = stem -> fam.conv1d ? get.apply(stem + ".weight").t() : get.apply(stem + ".weight");
        Mat wte = get.apply(fam.wte + ".weight"), wpe = get.apply(fam.wpe + ".weight");
        int D = wte.cols, V = wte.rows, T = wpe.rows - fam.posOffset;
        if (T < 1 || wpe.cols != D)
            throw new ConfigError(where + ": " + fam.root + fam.wpe + ".weight has shape [" + wpe.rows + ", " + wpe.cols + "], expected [positions+" + fam.posOffset + ", " + D + "]");
        int L = 0;
        while (m.containsKey(fam.block + L + "." + fam.ln1 + ".weight")) L++;
        if (L == 0) throw new ConfigError(where + ": no " + fam.root + fam.block + "0.* tensors (expected a " + fam.modelType + " checkpoint)");
        String b0 = fam.block + "0.";
        int F = linear.apply(b0 + fam.fc1).rows;
        AuxModel a = new AuxModel(fam, D, nHead, L, V, T, F, eps, act, norm, f32);
        a.wte = wte; a.wpe = wpe;
        a.lnfW = get.apply(fam.lnf + ".weight"); a.lnfB = get.apply(fam.lnf + ".bias");
        for (int l = 0; l < L; l++) {
            String p = fam.block + l + ".";
            Layer y = new Layer();
            y.ln1W = get.apply(p + fam.ln1 + ".weight"); y.ln1B = get.apply(p + fam.ln1 + ".bias");
            if (fam.fusedQkv != null) {
                Mat w = linear.apply(p + fam.fusedQkv); // [3D, D]: q | k | v rows
                Mat bias = get.apply(p + fam.fusedQkv + ".bias");
                y.wq = w.rows(0, D); y.wk = w.rows(D, 2 * D); y.wv = w.rows(2 * D, 3 * D);
                y.bq = bias.cols(0, D); y.bk = bias.cols(D, 2 * D); y.bv = bias.cols(2 * D, 3 * D);
            } else {
                y.wq = linear.apply(p + fam.qkv[0]); y.bq = get.apply(p + fam.qkv[0] + ".bias");
                y.wk = linear.apply(p + fam.qkv[1]); y.bk = get.apply(p + fam.qkv[1] + ".bias");
                y.wv = linear.apply(p + fam.qkv[2]); y.bv = get.apply(p + fam.qkv[2] + ".bias");
            }
            y.wo = linear.apply(p + fam.out); y.bo = get.apply(p + fam.out + ".bias");
            y.ln2W = get.apply(p + fam.ln2 + ".weight"); y.ln2B = get.apply(p + fam.ln2 + ".bias");
            y.w1 = linear.apply(p + fam.fc1); y.b1 = get.apply(p + fam.fc1 + ".bias");
            y.w2 = linear.apply(p + fam.fc2); y.b2 = get.apply(p + fam.fc2 + ".bias");
            Mat[] got = {y.wq, y.wk, y.wv, y.wo, y.w1, y.w2, y.b1};
            int[][] want = {{D, D}, {D, D}, {D, D}, {D, D}, {F, D}, {D, F}, {1, F}};
            for (int i = 0; i < got.length; i++)
                if (got[i].rows != want[i][0] || got[i].cols != want[i][1])
                    throw new ConfigError(where + ": block " + l + " has a " + got[i].shape() + " projection where [out, in] = " + want[i][0] + "×" + want[i][1]
                            + " was expected (D=" + D + " from wte, F=" + F + ")");
            a.layers.add(y);
        }
        return a;
    }

    static NDArray nd(NDManager mgr, Mat m, boolean vector, DataType dt) {
        NDArray a = mgr.create(m.a, vector ? new Shape(m.cols) : new Shape(m.rows, m.cols));
        return a.toType(dt, false);
    }

    /**
     * The weights under the family's HF names and layouts; {@code layersFrom}: only blocks ≥ it (plus the final norm),
     * {@code embeddings}: also wte and wpe. A norm weight that became a full matrix (docs/models/tint.md, "Approximations relative to exact backprop") is added as
     * {@code <norm>.weight_matrix} beside its diagonal.
     */
    public LinkedHashMap<String, NDArray> toHf(NDManager mgr, DataType dt, int layersFrom, boolean embeddings) {
        Family fam = family;
        LinkedHashMap<String, NDArray> out = new LinkedHashMap<>();
        java.util.function.BiConsumer<String, Mat> vec = (k, v) -> out.put(fam.root + k, nd(mgr, v, true, dt));
        java.util.function.BiConsumer<String, Mat> linear = (stem, w) -> out.put(fam.root + stem + ".weight", nd(mgr, fam.conv1d ? w.t() : w, false, dt));
        if (embeddings) {
            out.put(fam.root + fam.wte + ".weight", nd(mgr, wte, false, dt));
            out.put(fam.root + fam.wpe + ".weight", nd(mgr, wpe, false, dt));
        }
        for (int l = layersFrom; l < L; l++) {
            Layer y = layers.get(l);
            String p = fam.block + l + ".";
            vec.accept(p + fam.ln1 + ".weight", y.ln1W);
            if (y.ln1M != null) out.put(fam.root + p + fam.ln1 + ".weight_matrix", nd(mgr, y.ln1M, false, dt));
            vec.accept(p + fam.ln1 + ".bias", y.ln1B);
            if (fam.fusedQkv != null) {
                linear.accept(p + fam.fusedQkv, Mat.vstack(Mat.vstack(y.wq, y.wk), y.wv));
                vec.accept(p + fam.fusedQkv + ".bias", Mat.hstack(y.bq, y.bk, y.bv));
            } else {
                Mat[][] wb = {{y.wq, y.bq}, {y.wk, y.bk}, {y.wv, y.bv}};
                for (int i = 0; i < 3; i++) {
                    linear.accept(p + fam.qkv[i], wb[i][0]);
                    vec.accept(p + fam.qkv[i] + ".bias", wb[i][1]);
                }
            }
            linear.accept(p + fam.out, y.wo);
            vec.accept(p + fam.out + ".bias", y.bo);
            vec.accept(p + fam.ln2 + ".weight", y.ln2W);
            if (y.ln2M != null) out.put(fam.root + p + fam.ln2 + ".weight_matrix", nd(mgr, y.ln2M, false, dt));
            vec.accept(p + fam.ln2 + ".bias", y.ln2B);
            linear.accept(p + fam.fc1, y.w1);
            vec.accept(p + fam.fc1 + ".bias", y.b1);
            linear.accept(p + fam.fc2, y.w2);
            vec.accept(p + fam.fc2 + ".bias", y.b2);
        }
        vec.accept(fam.lnf + ".weight", lnfW);
        if (lnfM != null) out.put(fam.root + fam.lnf + ".weight_matrix", nd(mgr, lnfM, false, dt));
        vec.accept(fam.lnf + ".bias", lnfB);
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
        return embed(ids, IclInput.NONE);
    }

    /** wte(x_t) + wpe(position of t), with OPT's offset on the wpe row. */
    public Mat embed(long[] ids, IclInput icl) {
        Mat x = new Mat(ids.length, D, f32);
        for (int t = 0; t < ids.length; t++) {
            int row = wpeRow(t, icl);
            for (int j = 0; j < D; j++) x.set(t, j, wte.get((int) ids[t], j) + wpe.get(row, j));
        }
        return x;
    }

    /** The wpe row that token t reads. */
    int wpeRow(int t, IclInput icl) {
        return icl.position(t) + family.posOffset;
    }

    public LayerCache block(int l, Mat x, IclInput icl) {
        Layer y = layers.get(l);
        LayerCache c = new LayerCache();
        c.x = x;
        c.z1 = normalize(x);
        c.u1 = affine(c.z1, y.ln1W, y.ln1M, y.ln1B);
        c.q = c.u1.mmT(y.wq).addRow(y.bq);
        c.k = c.u1.mmT(y.wk).addRow(y.bk);
        c.v = c.u1.mmT(y.wv).addRow(y.bv);
        int d = D / H;
        c.attn = new Mat[H];
        c.o = x.like();
        for (int i = 0; i < H; i++) {
            Mat qi = c.q.cols(i * d, (i + 1) * d), ki = c.k.cols(i * d, (i + 1) * d), vi = c.v.cols(i * d, (i + 1) * d);
            // HF OPT scales q (bias included) by d^-0.5 before ⟨q,k⟩: the same score as GPT-2's ⟨q,k⟩/√d
            Mat s = qi.mmT(ki).scale(1 / Math.sqrt(d));
            c.attn[i] = maskedSoftmax(s, icl);
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

    /**
     * Row softmax over the allowed keys u ≤ t ({@link IclInput#attends}); the others get exactly 0, as the original's
     * finfo.min scores do after exp. With every key allowed the arithmetic is that of the plain causal softmax.
     */
    static Mat maskedSoftmax(Mat s, IclInput icl) {
        Mat p = s.like();
        for (int t = 0; t < s.rows; t++) {
            double m = Double.NEGATIVE_INFINITY;
            for (int u = 0; u <= t; u++) if (icl.attends(t, u)) m = Math.max(m, s.get(t, u));
            double z = 0;
            double[] e = new double[t + 1];
            for (int u = 0; u <= t; u++) {
                if (!icl.attends(t, u)) continue;
                e[u] = Math.exp(s.get(t, u) - m);
                z += e[u];
            }
            for (int u = 0; u <= t; u++) if (icl.attends(t, u)) p.set(t, u, e[u] / z);
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
        return forward(ids, IclInput.NONE);
    }

    public Forward forward(long[] ids, IclInput icl) {
        Forward f = hidden(ids, icl);
        f.logits = head(f.hf);
        return f;
    }

    /** The forward up to the final norm's output hf, without the [T, V] logits (callers that read a few of them). */
    public Forward hidden(long[] ids, IclInput icl) {
        if (ids.length > T) throw new ConfigError("input of " + ids.length + " tokens is longer than the aux model's " + T + " positions");
        icl.check(ids.length, T);
        Forward f = new Forward();
        f.x0 = embed(ids, icl);
        Mat x = f.x0;
        for (int l = 0; l < L; l++) {
            LayerCache c = block(l, x, icl);
            f.layers.add(c);
            x = c.out;
        }
        f.xf = x;
        f.zf = normalize(x);
        f.hf = affine(f.zf, lnfW, lnfM, lnfB);
        return f;
    }
}
