package org.tinker.tint;

import java.util.ArrayList;
import java.util.List;
import org.tinker.config.TintParams;

/**
 * The TinT construction (docs/models/tint.md, "The construction"): a transformer acting on the sequence [K prefix rows; T token rows] of width E
 * whose forward pass simulates the aux model's forward pass, its (approximate) backward pass and SGD on the train
 * part, then the forward pass with the updated weights. The aux weights live only in the prefix rows (the
 * "trainable biases", {@link #prefixes}); every module below is a fixed TinT layer (linear attention, softmax
 * attention, parameter-free normalisation, elementwise activation, dense linear layers, gates) whose weights do not
 * depend on the aux model. The loss gradient at the top is computed outside the modules from the logits, as the
 * original does ({@link LossGradient}: prediction loss, use_quad or the mean option).
 *
 * <p>Modules of the same kind share their fixed matrices (weight tying; the original's {@code reuse_*} flags do the
 * same for some of them), so {@link #ownParamCount} counts each once.
 */
public final class TintModel implements TintPass {
    public final AuxModel aux; // only dimensions, family, σ, normalisation kind, wte/wpe (embedding and LM head) are used
    public final TintParams cfg;
    final int D, K, E, S, P, Taux, R, Hs, hd;
    final boolean f32;
    /** Per aux layer: ln1, q, k, v, o, ln2, then per MLP chunk: fc_k, proj_k (each K×E); and ln_f. */
    public final List<Mat[]> prefixes = new ArrayList<>();
    public Mat lnfPrefix;

    // the fixed modules
    final LinAttn lf, lb, ld, ldBias;
    final Gates keepReplace, addPrefix;
    final Mat placeK, placeV, fdIn, fdOut, memCopy, qkCopy, passRest;
    final SoftAttn attn;
    final PrefixLayout layout;

    public TintModel(AuxModel aux, TintParams cfg) {
        this.aux = aux;
        this.cfg = cfg;
        D = aux.D; K = cfg.num_prefixes(); E = cfg.hidden_size(); S = D / K; Taux = aux.T; P = Taux + K; R = aux.F / aux.D;
        Hs = cfg.num_attention_heads(); hd = E / Hs;
        f32 = cfg.f32();
        lf = LinAttn.forward(D, K, E, Taux, f32);
        lb = LinAttn.backward(D, K, E, Taux, f32);
        ld = LinAttn.descent(D, K, E, Taux, cfg.inner_lr(), false, f32);
        // LayerNorm descent: β only, or (ln_update_bias_only=false) the whole stored matrix M ← M − η Σ δy zᵀ with z from
        // the memory slot [E−2D, E−D); M stops being diagonal, as in the original (docs/models/tint.md, "Approximations relative to exact backprop"): not the γ gradient
        ldBias = LinAttn.descent(D, K, E, Taux, cfg.inner_lr(), cfg.ln_update_bias_only(), E - 2 * D, f32);
        keepReplace = Gates.keepPrefixReplaceTokens(P, Taux, K, cfg.gate_scale(), f32);
        addPrefix = Gates.addToPrefix(P, Taux, K, cfg.gate_scale(), f32);
        placeK = shift(0, D, D);
        placeV = shift(0, 2 * D, D);
        memCopy = shift(0, E - D, D);
        qkCopy = shift(0, E - 3 * D, 2 * D);
        passRest = new Mat(E, E, f32);
        for (int i = D; i < E; i++) passRest.set(i, i, 1);
        // finite difference: [0,D) ← x + δ/N (x in memory [E−D,E)), then [0,D) ← N·(f − stored) (stored at [E−2D,E−D) or [E−D,E))
        double N = cfg.scale_embeddings();
        fdIn = passRest.copy();
        for (int i = 0; i < D; i++) {
            fdIn.set(E - D + i, i, 1);
            fdIn.set(i, i, 1 / N);
        }
        fdOut = passRest.copy();
        for (int i = 0; i < D; i++) fdOut.set(i, i, N);
        attn = new SoftAttn(aux.D, aux.H, E, Hs, f32);
        layout = new PrefixLayout(D, K, E, R, f32);
        for (int l = 0; l < aux.L; l++) prefixes.add(layout.encodeLayer(aux.layers.get(l)));
        lnfPrefix = layout.encodeFinalNorm(aux);
    }

    Mat shift(int from, int to, int width) {
        Mat m = new Mat(E, E, f32);
        for (int i = 0; i < width; i++) m.set(from + i, to + i, 1);
        return m;
    }

    // ------------------------------------------------------------------------------------------------ prefix encoding

    /** Prefix j holds rows jS..jS+S−1 of W at [s·D, (s+1)·D) and the whole bias at [S·D, S·D+D) ({@link PrefixLayout}). */
    public Mat encode(Mat w, Mat b) {
        return layout.encode(w, b);
    }

    /** W (D×D) from a prefix. */
    public Mat decodeW(Mat p) {
        return layout.decodeW(p);
    }

    /** b from prefix 0 (the only bias that is read or updated). */
    public Mat decodeB(Mat p) {
        return layout.decodeB(p);
    }

    /** The aux model that a set of prefixes holds (embeddings from the original aux). */
    public AuxModel decode(List<Mat[]> pre, Mat lnf) {
        return layout.decode(aux, pre, lnf);
    }

    // ------------------------------------------------------------------------------------------------ module steps

    /** Prefix rows overwritten with a module's weights. */
    Mat withPrefix(Mat X, Mat prefix) {
        Mat Y = X.copy();
        Y.put(0, 0, prefix);
        return Y;
    }

    /** Token rows: δ at [0,D) (from X), the stacked memory at [E−width, E); prefix rows = {@code prefix}. */
    Mat withMemory(Mat X, Mat mem, Mat prefix) {
        Mat Y = new Mat(X.rows, E, f32);
        Y.put(0, 0, prefix);
        Y.put(K, 0, X.rows(K, X.rows).cols(0, D));
        Y.put(K, E - mem.cols, mem);
        return Y;
    }

    /** Token rows ← X·M (a dense TinT linear layer), prefix rows kept (gated). */
    Mat dense(Mat X, Mat M, Seq s) {
        return keepReplace.apply(X, X.mm(M), s);
    }

    /** Linear forward module: y = Wx + b at [0,D), x copied to memory [E−D,E). */
    Mat linearForward(Mat X, Mat prefix, Seq s) {
        Mat Xp = withPrefix(X, prefix);
        Mat y = lf.apply(Xp, s, cfg.restrict_prefixes()).add(Xp.mm(memCopy));
        return keepReplace.apply(Xp, y, s);
    }

    /** Linear backward + descent in parallel: token rows δx = Wᵀδy (memory passes through), prefix rows W − ηΣδy xᵀ. */
    Mat linearDescentBackward(Mat Xp, boolean biasOnlyDescent, Seq s) {
        Mat back = keepReplace.apply(Xp, lb.apply(Xp, s, cfg.restrict_prefixes()).add(Xp.mm(passRest)), s);
        Mat desc = addPrefix.apply(Xp, (biasOnlyDescent ? ldBias : ld).apply(Xp, s, cfg.restrict_prefixes()), s);
        Mat out = back.copy();
        out.put(0, 0, desc.rows(0, K));
        return out;
    }

    /** Parameter-free normalisation of [0,D) on token rows; memory: z → [E−2D,E−D), x → [E−D,E). */
    Mat normalize(Mat X, Seq s, boolean memory) {
        Mat x = X.rows(K, X.rows).cols(0, D);
        Mat z = normalizeRows(x);
        Mat y = new Mat(X.rows, E, f32);
        y.put(K, 0, z);
        if (memory) {
            y.put(K, E - 2 * D, z);
            y.put(K, E - D, x);
        } else {
            y.put(K, D, X.rows(K, X.rows).cols(D, E));
        }
        return keepReplace.apply(X, y, s);
    }

    Mat normalizeRows(Mat x) {
        AuxModel shadow = new AuxModel(aux.family, D, aux.H, 1, 1, 1, aux.F, cfg.epsilon(), aux.act, aux.norm, f32);
        return shadow.normalize(x);
    }

    /** σ elementwise on [0,D) (and on [E−D,E) when {@code alsoMemory}); {@code memory}: copy the pre-activation to [E−D,E). */
    Mat activation(Mat X, Seq s, boolean memory, boolean alsoMemory) {
        Mat y = X.copy();
        for (int t = K; t < X.rows; t++) {
            for (int i = 0; i < D; i++) {
                double h = X.get(t, i);
                y.set(t, i, aux.sigma(h));
                if (memory) y.set(t, E - D + i, h);
                if (alsoMemory) y.set(t, E - D + i, aux.sigma(X.get(t, E - D + i)));
            }
        }
        return keepReplace.apply(X, y, s);
    }

    /** Residual add of the [0,D) coordinates of the token rows; prefix rows from {@code a}. */
    Mat residual(Mat a, Mat b) {
        Mat y = new Mat(a.rows, E, f32);
        y.put(0, 0, a.rows(0, K));
        y.put(K, 0, a.rows(K, a.rows).cols(0, D).add(b.rows(K, b.rows).cols(0, D)));
        return y;
    }

    Mat tokens(Mat X, int c0, int c1) {
        return X.rows(K, X.rows).cols(c0, c1);
    }

    // ------------------------------------------------------------------------------------------------ blocks

    /** What one aux layer's forward left for its backward: the memory slices (token rows) of each unit. */
    static final class Record {
        Mat ln1, v, qk, o, ln2;
        Mat[] fc, act, proj;
    }

    Mat layerNormForward(Mat X, Mat prefix, Seq s, Mat[] memOut) {
        Mat n = normalize(X, s, true);
        memOut[0] = tokens(n, E - 2 * D, E);
        return linearForward(n, prefix, s);
    }

    Mat blockForward(Mat X, Mat[] pre, Seq s, Record rec) {
        Mat[] mem = new Mat[1];
        Mat u = layerNormForward(X, pre[0], s, mem);
        rec.ln1 = mem[0];
        Mat q = linearForward(u, pre[1], s), k = linearForward(u, pre[2], s), v = linearForward(u, pre[3], s);
        rec.v = tokens(v, E - D, E);
        Mat qkv = q.copy();
        Mat placed = k.mm(placeK).add(v.mm(placeV));
        for (int t = K; t < qkv.rows; t++)
            for (int i = 0; i < E; i++) qkv.set(t, i, i < D ? q.get(t, i) : placed.get(t, i));
        Mat o = keepReplace.apply(qkv, attn.forward(qkv, s).add(qkv.mm(qkCopy)), s);
        rec.qk = tokens(o, E - 3 * D, E - D);
        Mat a = linearForward(o, pre[4], s);
        rec.o = tokens(a, E - D, E);
        Mat xm = residual(X, a);
        Mat u2 = layerNormForward(xm, pre[5], s, mem);
        rec.ln2 = mem[0];
        rec.fc = new Mat[R];
        rec.act = new Mat[R];
        rec.proj = new Mat[R];
        Mat out = xm;
        for (int c = 0; c < R; c++) {
            Mat h = linearForward(u2, pre[6 + 2 * c], s);
            rec.fc[c] = tokens(h, E - D, E);
            Mat act = activation(h, s, true, false);
            rec.act[c] = tokens(act, E - D, E);
            Mat m = linearForward(act, pre[7 + 2 * c], s);
            rec.proj[c] = tokens(m, E - D, E);
            out = residual(out, m);
        }
        return out;
    }

    /**
     * LayerNorm backward unit: δz = γ⊙δy (Mᵀδy for a full matrix) with the β descent (and, with
     * ln_update_bias_only=false, the full-matrix descent of the stored weight), then N·(f(x + δz/N) − f(x)). Returns δx and the new prefix. */
    Mat layerNormBackward(Mat G, Mat mem, Mat prefix, Seq s, Mat[] newPrefix) {
        Mat Y = linearDescentBackward(withMemory(G, mem, prefix), true, s);
        newPrefix[0] = Y.rows(0, K);
        Mat r = dense(Y, fdIn, s);
        Mat f = normalize(r, s, false);
        return dense(f, fdOut(2 * D), s);
    }

    Mat fdOut(int storedAt) {
        Mat m = fdOut.copy();
        for (int i = 0; i < D; i++) m.set(E - storedAt + i, i, -cfg.scale_embeddings());
        return m;
    }

    /** Activation backward: N·(σ(h + δa/N) − σ(h)) with h from memory. */
    Mat activationBackward(Mat G, Mat mem, Seq s) {
        Mat Y = withMemory(G, mem, new Mat(K, E, f32));
        Mat r = dense(Y, fdIn, s);
        Mat a = activation(r, s, false, true);
        return dense(a, fdOut(D), s);
    }

    /** Backward + descent of one aux layer; {@code newPre} receives the updated prefixes. Returns the input gradient. */
    Mat blockBackward(Mat G, Mat[] pre, Record rec, Seq s, Mat[] newPre) {
        Mat[] np = new Mat[1];
        Mat du = null;
        for (int c = 0; c < R; c++) {
            Mat y = linearDescentBackward(withMemory(G, rec.proj[c], pre[7 + 2 * c]), false, s);
            newPre[7 + 2 * c] = y.rows(0, K);
            y = activationBackward(y, rec.act[c], s);
            y = linearDescentBackward(withMemory(y, rec.fc[c], pre[6 + 2 * c]), false, s);
            newPre[6 + 2 * c] = y.rows(0, K);
            du = du == null ? y : residual(du, y);
        }
        Mat gmid = residual(G, layerNormBackward(du, rec.ln2, pre[5], s, np));
        newPre[5] = np[0];
        Mat y = linearDescentBackward(withMemory(gmid, rec.o, pre[4]), false, s);
        newPre[4] = y.rows(0, K);
        if (cfg.backprop_through_attention()) {
            Mat yq = withMemory(y, new Mat(y.rows - K, 0, f32), new Mat(K, E, f32));
            yq.put(K, E - 3 * D, rec.qk);
            y = keepReplace.apply(yq, attn.backward(yq, s).add(yq.mm(passRest)), s);
        }
        y = linearDescentBackward(withMemory(y, rec.v, pre[3]), false, s);
        newPre[3] = y.rows(0, K);
        newPre[1] = pre[1];
        newPre[2] = pre[2]; // W_Q, W_K and their biases are passed through (A2)
        Mat gin = residual(gmid, layerNormBackward(y, rec.ln1, pre[0], s, np));
        newPre[0] = np[0];
        return gin;
    }

    // ------------------------------------------------------------------------------------------------ the whole pass

    /** The outputs of one TinT forward pass. */
    public static final class Output {
        public Mat originalLogits, finalLogits;
        public List<Mat[]> prefixes; // the updated prefixes used by the final re-forward
        public Mat lnfPrefix;
        public AuxModel updated; // decoded from the prefixes
    }

    /** The TinT forward pass with the original's icl_mask / position_ids (single-FT ICL, docs/models/tint.md, "Train part, eval part and single-pass ICL"). */
    @Override
    public Output forward(long[] ids, int nTrain, IclInput icl) {
        TintSettings.validate(cfg, aux, ids.length);
        icl.check(ids.length, aux.T);
        int T = ids.length, L = aux.L, nSim = cfg.nSim(L);
        Seq s = new Seq(K, T, nTrain, Taux, icl, f32);
        Mat X = new Mat(K + T, E, f32);
        X.put(K, 0, aux.embed(ids, icl));
        List<Mat[]> pre = new ArrayList<>(prefixes);
        Mat lnf = lnfPrefix;
        Record[] recs = new Record[L];
        Mat cached = null;
        for (int l = 0; l < L; l++) {
            if (l == L - nSim) cached = X;
            recs[l] = new Record();
            X = blockForward(X, pre.get(l), s, recs[l]);
        }
        Mat[] lnfMem = new Mat[1];
        Mat hf = layerNormForward(X, lnf, s, lnfMem);
        Output out = new Output();
        out.originalLogits = tokens(hf, 0, D).mmT(aux.wte);
        Mat logits = out.originalLogits;
        for (int step = 0; step < cfg.n_forward_backward(); step++) {
            Mat G = new Mat(K + T, E, f32);
            G.put(K, 0, lossGradient(logits, ids, nTrain, icl));
            Mat[] np = new Mat[1];
            G = layerNormBackward(G, lnfMem[0], lnf, s, np);
            Mat newLnf = np[0];
            List<Mat[]> newPre = new ArrayList<>(pre);
            for (int l = L - 1; l >= L - nSim; l--) {
                Mat[] p = new Mat[6 + 2 * R];
                G = blockBackward(G, pre.get(l), recs[l], s, p);
                newPre.set(l, p);
            }
            pre = newPre;
            lnf = newLnf;
            X = cached;
            for (int l = L - nSim; l < L; l++) {
                recs[l] = new Record();
                X = blockForward(X, pre.get(l), s, recs[l]);
            }
            hf = layerNormForward(X, lnf, s, lnfMem);
            logits = tokens(hf, 0, D).mmT(aux.wte);
        }
        out.finalLogits = logits;
        out.prefixes = pre;
        out.lnfPrefix = lnf;
        out.updated = decode(pre, lnf);
        return out;
    }

    /**
     * δh_f on the train targets t ≤ nTrain−2, zero elsewhere: Eᵀ(softmax(E h_f) − e_{x_{t+1}}), or the use_quad /
     * mean option ({@link LossGradient}, shared with the reference).
     */
    Mat lossGradient(Mat logits, long[] ids, int nTrain, IclInput icl) {
        return LossGradient.hidden(logits, aux.wte, ids, nTrain, icl, cfg.loss(), f32);
    }

    // ------------------------------------------------------------------------------------------------ parameter counts

    /** tinker's own count: the distinct stored numbers (shared module matrices once, prefixes, gates, wte, wpe). */
    public long ownParamCount() {
        long n = lf.paramCount() + lb.paramCount() + ld.paramCount() + ldBias.paramCount();
        n += keepReplace.paramCount() + addPrefix.paramCount();
        n += 7L * E * E; // placeK, placeV, fdIn, fdOut, memCopy, qkCopy, passRest
        n += attn.paramCount();
        n += (long) prefixes.size() * (6 + 2 * R) * K * E + (long) K * E;
        n += (long) aux.wte.a.length + aux.wpe.a.length;
        return n;
    }

    /** The original code's count (docs/models/tint.md, "Parameter count of the original" formula) for this model's aux. */
    public long repoParamCount() {
        return repoParamCount(aux.family, aux.V, aux.D, aux.L, aux.T, aux.F, cfg);
    }

    /** docs/models/tint.md, "Parameter count of the original" for an aux family: wpe has T_aux rows for GPT-2 and T_aux+2 for OPT (R in the formula). */
    public static long repoParamCount(AuxModel.Family family, int V, int D, int L, int Taux, int F, TintParams c) {
        return repoParamCount(V, D, L, Taux, Taux + family.posOffset, F, c);
    }

    /**
     * The original code's count (docs/models/tint.md, "Parameter count of the original" formula). {@code wpeRows}: T_aux for GPT-2, T_aux+2 for OPT (HF's position
     * offset); TinT's one-hot positions have T_aux + K coordinates for both.
     */
    public static long repoParamCount(int V, int D, int L, int Taux, int wpeRows, int F, TintParams c) {
        long E = c.hidden_size(), K = c.num_prefixes(), Hs = c.num_attention_heads(), P = Taux + K, hd = E / Hs, r = F / D;
        int nSim = c.nSim(L);
        long d = D;
        long LF = 3 * E * K + 4 * E * E / K + 9 * E + 3 * K * P + 3 * K + 4 * E / K + 2 * P + 2 + E * d + E * E / d;
        long LDB = 2 * (E * d + E * E / d + 2 * E * K + 3 * E * E / K + 7 * E + 3 * K * P + 3 * K + 4 * E / K + 2 * P + 2);
        long SA = 3 * E * hd + 4 * E * Hs + 7 * E + 3 * hd * P + 3 * hd + 4 * Hs;
        long ACTF = E * Hs + E * hd + 2 * E + 2 * P + 2;
        long PB = (6 + 3 * r) * K * E;
        long Fwd = 6 * LF + 6 * P + 6 + SA + ACTF + PB;
        long Bwd = 6 * LDB + 6 * E * Hs + 6 * E + 6 * P + 6 + SA;
        long G = LF + LDB + 2 * E * Hs + 2 * E + 4 * P + 4 + K * E;
        long steps = c.n_forward_backward();
        return V * d + (long) wpeRows * d + L * Fwd + G + nSim * Bwd * (c.reuse_backward_blocks() ? 1 : steps)
                + (c.reuse_forward_blocks() ? 0 : steps * nSim * (Fwd - PB));
    }
}
