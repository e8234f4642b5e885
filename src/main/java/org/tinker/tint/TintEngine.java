package org.tinker.tint;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import java.util.ArrayList;
import java.util.List;
import org.tinker.config.Choice;
import org.tinker.config.ModelParams;
import org.tinker.config.TintParams;
import org.tinker.engine.Kernels;
import org.tinker.engine.Ops;
import org.tinker.model.Layers;

/**
 * The TinT construction (docs/models/tint.md, "The construction") as DJL tensor operations on the model's device, batched over sequences: the same
 * modules as {@link TintModel} (which stays the float64 reference), written with their structure instead of dense E×E
 * matrices.
 *
 * <ul>
 *   <li>Token rows are E wide: the unit's output in [0, D), zeros, and the memory slots at the end ([E−3D, E−D) for the
 *       attention's [q, k], [E−2D, E−D) for the normalised z, [E−D, E) for a linear unit's input x). Memory copies,
 *       shifts and "pass the rest through" layers are slicing and concatenation.
 *   <li>The three linear-attention modules (docs/models/tint.md, "The construction": linear forward, backward, descent)
 *       read the aux weights from the prefix rows, one [K, E] block per module ([B, K, E] once the descent has given each
 *       sequence its own weights). Their E/K heads of size K are batched matmuls: head (s, r) of the forward scores chunk
 *       r of x_t against chunk r of row jS+s of every prefix j (value e_j, so the head output is its score), the output
 *       projection sums over r and puts the score at neuron jS+s; the bias heads read prefix 0's bias slot. The
 *       backward's heads query (δy_t)_{jS+s} over j and return chunk r of row jS+s; the descent's prefixes query the
 *       train tokens with keys (δy_t)_{jS+s} and values −η·x_t. The scores of tokens against tokens, which
 *       restrict_prefixes leaves out and which are zero by construction, are never formed.
 *   <li>Softmax attention: TinT head i = aux head i on the [q | k | v] slots (heads i ≥ H have zero weights and are
 *       skipped); the backward recomputes A from the stored [q, k] and applies Aᵀ.
 *   <li>Normalisation, activation and their finite-difference backward N·(f(x + δ/N) − f(x)), the residual adds and the
 *       gates tanh(±g) are elementwise; the gate factors come from {@link Gates}.
 * </ul>
 *
 * <p>Precision: float64, float32, or bfloat16 (every matmul in bfloat16 with float32 accumulation via
 * {@link Kernels#matmulBf16}; tensors, norms, the finite differences and softmax stay float32 — the finite difference
 * δ/N would vanish below a bfloat16 x). Memory: each pass runs in a sub-manager of the caller's, each layer in a
 * sub-manager of the pass; only the records the backward needs (D-wide memory slots of the simulated layers) and the
 * new prefixes outlive their layer.
 */
public final class TintEngine implements TintPass {
    /** The arithmetic of the engine construction. */
    public enum Precision {
        FLOAT64, FLOAT32, BFLOAT16;

        public DataType storage() {
            return this == FLOAT64 ? DataType.FLOAT64 : DataType.FLOAT32;
        }

        /** float32 and bfloat16 runs read the aux weights as float32 (the Mat reference's f32 flag). */
        public boolean f32() {
            return this != FLOAT64;
        }
    }

    public final AuxModel aux;
    public final TintParams cfg;
    public final Precision precision;
    final int D, K, E, S, R, H, d, L, nSim;
    final double eta, N, attnScale;
    final DataType dt;
    final PrefixLayout layout;
    private final NDManager model;
    /** Per aux layer the 6 + 2R prefixes [1, K, E] (order of {@link PrefixLayout#encodeLayer}), and ln_f's. */
    final List<NDArray[]> prefixes = new ArrayList<>();
    final NDArray lnfPrefix;
    final NDArray wte, wteT, wpe;
    /** Gate factors: keep-prefix/replace-tokens on token rows (new), add-to-prefix on prefix rows (in, new). */
    final double keepTok, addIn, addNew;

    public TintEngine(AuxModel aux, TintParams cfg, Device device, Precision precision) {
        this.aux = aux;
        this.cfg = cfg;
        this.precision = precision;
        D = aux.D; K = cfg.num_prefixes(); E = cfg.hidden_size(); S = D / K; R = aux.F / aux.D; H = aux.H; d = D / H; L = aux.L;
        nSim = cfg.nSim(L);
        boolean f32 = precision.f32();
        eta = f32 ? (float) cfg.inner_lr() : cfg.inner_lr();
        N = cfg.scale_embeddings();
        int Hs = cfg.num_attention_heads(), hd = E / Hs;
        // SoftAttn's query scale initial_scale/√hd with initial_scale = √(E/D·H/Hs): 1/√d for the aux head
        attnScale = Math.sqrt((double) E / D * H / Hs) / Math.sqrt(hd);
        dt = precision.storage();
        int Taux = aux.T, P = Taux + K;
        Gates keep = Gates.keepPrefixReplaceTokens(P, Taux, K, cfg.gate_scale(), f32), add = Gates.addToPrefix(P, Taux, K, cfg.gate_scale(), f32);
        // the gate weights sit only on the prefix position coordinates: every token row (position t < Taux) has the
        // factors of coordinate 0, every prefix row those of coordinate Taux
        keepTok = keep.factors(0, f32)[1];
        double[] ap = add.factors(Taux, f32);
        addIn = ap[0];
        addNew = ap[1];
        if (keep.factors(0, f32)[0] != 0 || add.factors(0, f32)[1] != 0)
            throw new IllegalStateException("gates: a token row mixes input and output");
        layout = new PrefixLayout(D, K, E, R, f32);
        model = NDManager.newBaseManager(device);
        for (int l = 0; l < L; l++) {
            Mat[] p = layout.encodeLayer(aux.layers.get(l));
            NDArray[] nd = new NDArray[p.length];
            for (int i = 0; i < p.length; i++) nd[i] = tensor(p[i], 1, K, E);
            prefixes.add(nd);
        }
        lnfPrefix = tensor(layout.encodeFinalNorm(aux), 1, K, E);
        wte = tensor(aux.wte, aux.V, D);
        wteT = wte.transpose(1, 0);
        wpe = tensor(aux.wpe, aux.wpe.rows, D);
    }

    private NDArray tensor(Mat m, long... shape) {
        return model.create(m.a, new Shape(shape)).toType(dt, false);
    }

    public Device device() {
        return model.getDevice();
    }

    @Override
    public void close() {
        model.close();
    }

    // ------------------------------------------------------------------------------------------------ parameter counts

    /**
     * The numbers the engine construction stores: the prefixes (the aux weights), the final norm's prefix, wte, wpe and
     * the two gates' position weights. Its modules are code (slices, reshapes, head-batched matmuls), not matrices.
     */
    public long ownParamCount() {
        long P = aux.T + K;
        return (long) L * (6 + 2 * R) * K * E + (long) K * E + (long) aux.V * D + (long) aux.wpe.rows * D + 2 * (2 * P + 2);
    }

    /** The original code's count (docs/models/tint.md, "Parameter count of the original"). */
    public long repoParamCount() {
        return TintModel.repoParamCount(aux.family, aux.V, aux.D, aux.L, aux.T, aux.F, cfg);
    }

    // ------------------------------------------------------------------------------------------------ memory

    /**
     * Estimated peak memory (bytes) of building this construction for an aux of these dimensions and running one pass
     * on B sequences of T tokens: the aux as Java doubles (and the float32 tensors it was read from), the prefixes,
     * wte and wpe on the device, and per pass the new prefixes, the simulated layers' memory slots, the logits and
     * loss-gradient temporaries [B, T, V], the attention scores [B, H, T, T] and a layer's working set of E-wide rows;
     * plus a fixed 1.5 GB for the JVM and libtorch. Calibrated on the GPT-2 124M run (measured peak RSS 9.8 GB; docs/results/tint-scale.md).
     */
    public static long estimateBytes(int D, int L, int H, int V, int wpeRows, int F, TintParams cfg, Precision precision, int B, int T) {
        long b = precision == Precision.FLOAT64 ? 8 : 4;
        long K = cfg.num_prefixes(), E = cfg.hidden_size(), R = F / D, nSim = cfg.nSim(L);
        long auxParams = (long) V * D + (long) wpeRows * D + L * (4L * D * D + 2L * D * F + 9L * D + F) + 2L * D;
        long heap = auxParams * 8 + auxParams * 4;
        long constants = ((long) L * (6 + 2 * R) * K * E + K * E + (long) V * D + (long) wpeRows * D) * b;
        long perPass = (nSim * (4 + 2 * R) * K * E + K * E) * B * b // new prefixes (Q and K are not updated)
                + nSim * (8 + 3 * R) * D * T * B * b // memory slots
                + 10L * B * T * V * b // original and final logits, softmax, the gradient's temporaries (and their float64 log-softmax)
                + 4L * B * H * T * T * b + 2L * B * T * T * b // scores, softmax, masks
                + 180L * B * T * E * b; // one layer's E-wide rows and allocator slack
        return heap + constants + perPass + (3L << 29);
    }

    // ------------------------------------------------------------------------------------------------ the batched pass

    /** The outputs of a batched pass: logits [B, T, V] before and after the internal update, and the new prefixes. */
    public static final class Result {
        public NDArray originalLogits, finalLogits;
        /** Per aux layer the prefixes the final re-forward used ([1, K, E] for frozen layers, else [B, K, E]). */
        public List<NDArray[]> prefixes;
        public NDArray lnfPrefix;
    }

    /** Per-pass constants: the batch's train rows and masks. */
    private final class Pass {
        final int B, T;
        final NDArray trainRows, lossRows, attnMask, backMask;

        Pass(NDManager m, long[][] ids, int[] nTrain, IclInput[] icl) {
            B = ids.length;
            T = ids[0].length;
            float[] train = new float[B * T], loss = new float[B * T], mask = new float[B * T * T], back = new float[B * T * T];
            for (int b = 0; b < B; b++) {
                for (int t = 0; t < T; t++) {
                    train[b * T + t] = t < nTrain[b] ? 1 : 0;
                    loss[b * T + t] = t <= nTrain[b] - 2 && icl[b].inLoss(t) ? 1 : 0;
                    for (int u = 0; u < T; u++) {
                        int i = (b * T + t) * T + u;
                        mask[i] = icl[b].attends(t, u) ? 0 : Float.NEGATIVE_INFINITY;
                        // the attention backward keeps A[t,u] for the diagonal and the train queries only
                        back[i] = t == u || t < nTrain[b] ? 1 : 0;
                    }
                }
            }
            trainRows = m.create(train, new Shape(B, T, 1)).toType(dt, false);
            lossRows = m.create(loss, new Shape(B, T, 1)).toType(dt, false);
            attnMask = m.create(mask, new Shape(B, 1, T, T)).toType(dt, false);
            backMask = m.create(back, new Shape(B, 1, T, T)).toType(dt, false);
        }
    }

    /** What one aux layer's forward leaves for its backward: the D-wide memory slots of each unit. */
    private static final class Record {
        NDArray ln1, v, qk, o, ln2;
        NDArray[] fc, act, proj;

        List<NDArray> all() {
            List<NDArray> a = new ArrayList<>(List.of(ln1, v, qk, o, ln2));
            a.addAll(List.of(fc));
            a.addAll(List.of(act));
            a.addAll(List.of(proj));
            return a;
        }
    }

    /**
     * The TinT forward pass on a batch of sequences of one length T ({@code ids[b]}, train part [0, nTrain[b]), its own
     * icl mask and positions). Results land in {@code scope}; everything else is freed before returning.
     */
    public Result forward(NDManager scope, long[][] ids, int[] nTrain, IclInput[] icl) {
        int B = ids.length, T = ids[0].length;
        for (int b = 0; b < B; b++) {
            if (ids[b].length != T) throw new IllegalArgumentException("a batch of sequences of one length: " + ids[b].length + " != " + T);
            TintSettings.validate(cfg, aux, T);
            icl[b].check(T, aux.T);
        }
        try (NDManager m = scope.newSubManager(model.getDevice())) {
            Pass p = new Pass(m, ids, nTrain, icl);
            long[] flat = new long[B * T], pos = new long[B * T];
            for (int b = 0; b < B; b++)
                for (int t = 0; t < T; t++) {
                    flat[b * T + t] = ids[b][t];
                    pos[b * T + t] = aux.wpeRow(t, icl[b]);
                }
            NDArray idsNd = m.create(flat, new Shape(B, T)), posNd = m.create(pos, new Shape(B, T));
            // token rows [wte(x_t) + wpe(p_t) | 0]
            NDArray X = pad(Ops.embedding(idsNd, wte).add(Ops.embedding(posNd, wpe)), E);
            List<NDArray[]> pre = new ArrayList<>(prefixes);
            NDArray lnf = lnfPrefix;
            Record[] recs = new Record[L];
            NDArray cached = null;
            for (int l = 0; l < L; l++) {
                if (l == L - nSim) cached = X;
                recs[l] = l >= L - nSim ? new Record() : null;
                X = blockForward(X, pre.get(l), recs[l], p);
            }
            NDArray[] lnfMem = new NDArray[1];
            NDArray hf = layerNormForward(X, lnf, lnfMem);
            Result out = new Result();
            out.originalLogits = mm(cols(hf, 0, D), wteT);
            NDArray logits = out.originalLogits;
            NDArray targets = m.create(shifted(ids), new Shape(B, T));
            for (int step = 0; step < cfg.n_forward_backward(); step++) {
                NDArray G = pad(lossGradient(logits, targets, p), E);
                NDArray[] np = new NDArray[1];
                G = layerNormBackward(G, lnfMem[0], lnf, p, np);
                NDArray newLnf = np[0];
                List<NDArray[]> newPre = new ArrayList<>(pre);
                for (int l = L - 1; l >= L - nSim; l--) {
                    NDArray[] q = new NDArray[6 + 2 * R];
                    G = blockBackward(G, pre.get(l), recs[l], p, q);
                    newPre.set(l, q);
                }
                pre = newPre;
                lnf = newLnf;
                X = cached;
                for (int l = L - nSim; l < L; l++) {
                    recs[l] = new Record();
                    X = blockForward(X, pre.get(l), recs[l], p);
                }
                hf = layerNormForward(X, lnf, lnfMem);
                logits = mm(cols(hf, 0, D), wteT);
            }
            out.finalLogits = logits;
            out.prefixes = pre;
            out.lnfPrefix = lnf;
            out.originalLogits.attach(scope);
            out.finalLogits.attach(scope);
            for (int l = L - nSim; l < L; l++) for (NDArray a : pre.get(l)) if (a.getManager() != model) a.attach(scope);
            if (lnf.getManager() != model) lnf.attach(scope);
            return out;
        }
    }

    /** y_t = x_{t+1} (the last row's target is never used). */
    private static long[] shifted(long[][] ids) {
        int B = ids.length, T = ids[0].length;
        long[] y = new long[B * T];
        for (int b = 0; b < B; b++)
            for (int t = 0; t + 1 < T; t++) y[b * T + t] = ids[b][t + 1];
        return y;
    }

    /** One sequence, the outputs as {@link Mat}s (tests, `runner tint forward`). */
    @Override
    public TintModel.Output forward(long[] ids, int nTrain, IclInput icl) {
        try (NDManager scope = model.newSubManager()) {
            Result r = forward(scope, new long[][] {ids}, new int[] {nTrain}, new IclInput[] {icl});
            TintModel.Output o = new TintModel.Output();
            boolean f32 = precision.f32();
            o.originalLogits = mat(r.originalLogits, f32);
            o.finalLogits = mat(r.finalLogits, f32);
            o.prefixes = new ArrayList<>();
            for (NDArray[] p : r.prefixes) {
                Mat[] q = new Mat[p.length];
                for (int i = 0; i < p.length; i++) q[i] = mat(p[i], f32);
                o.prefixes.add(q);
            }
            o.lnfPrefix = mat(r.lnfPrefix, f32);
            o.updated = layout.decode(aux, o.prefixes, o.lnfPrefix);
            return o;
        }
    }

    /** The first batch element of [B, rows, cols] as a Mat (a batch of one: the whole array). */
    static Mat mat(NDArray a, boolean f32) {
        Shape s = a.getShape();
        int rows = (int) s.get(1), cols = (int) s.get(2);
        double[] all = a.toType(DataType.FLOAT64, false).toDoubleArray();
        return new Mat(rows, cols, all.length == rows * cols ? all : java.util.Arrays.copyOf(all, rows * cols), f32);
    }

    // ------------------------------------------------------------------------------------------------ tensor helpers

    /** Columns [c0, c1) of [B, T, W] rows (a view). */
    static NDArray cols(NDArray x, int c0, int c1) {
        return x.get(":, :, " + c0 + ":" + c1);
    }

    /** [x | 0]: x widened with zero columns to {@code width}. */
    static NDArray pad(NDArray x, int width) {
        Shape s = x.getShape();
        long w = s.get(2);
        if (w == width) return x;
        return x.concat(x.getManager().zeros(new Shape(s.get(0), s.get(1), width - w), x.getDataType()), 2);
    }

    /** Token rows [first | 0 | mem]: a unit's output at [0, D) and a memory slot at the end. */
    NDArray rows(NDArray first, NDArray mem) {
        Shape s = first.getShape();
        long gap = E - s.get(2) - mem.getShape().get(2);
        if (gap == 0) return first.concat(mem, 2);
        return NDArrays.concat(new NDList(first, first.getManager().zeros(new Shape(s.get(0), s.get(1), gap), first.getDataType()), mem), 2);
    }

    /** A module's token rows through the keep-prefix/replace-tokens gate: tanh(g)·new. */
    NDArray keep(NDArray neu) {
        return keepTok == 1 ? neu : neu.mul(keepTok);
    }

    /** A view of a long-lived tensor (a prefix) in {@code like}'s manager, so that what is computed from it lands there. */
    static NDArray local(NDArray a, NDArray like) {
        long[] shape = a.getShape().getShape(), zero = new long[shape.length], one = new long[shape.length];
        java.util.Arrays.fill(one, 1);
        return JniUtils.index(Ops.pt(a), zero, shape, one, Ops.pt(like).getManager());
    }

    /** a·b (torch.matmul, batched, broadcasting), in bfloat16 with float32 accumulation in that mode. */
    NDArray mm(NDArray a, NDArray b) {
        return precision == Precision.BFLOAT16 && Kernels.available() ? Kernels.matmulBf16(a, b) : Ops.matmul(a, b);
    }

    /** Keeps {@code keep} (and returns the first) after closing the layer scope {@code sub}: they move to {@code parent}. */
    private static NDArray leave(NDManager sub, NDManager parent, NDArray result, List<NDArray> keep) {
        result.attach(parent);
        for (NDArray a : keep) a.attach(parent);
        sub.close();
        return result;
    }

    // ------------------------------------------------------------------------------------------------ the modules

    /** Linear forward's heads (docs/models/tint.md, "The construction": linear forward): y = W x + b from prefix P [Bp, K, E] for x [B, T, D]. */
    NDArray linear(NDArray x, NDArray P) {
        Shape s = x.getShape();
        long B = s.get(0), T = s.get(1), Bp = P.getShape().get(0);
        P = local(P, x);
        // query of head (s, r): chunk r of x_t  [B,T,D] → [B,1,c,T,K]
        NDArray q = x.reshape(B, T, S, K).transpose(0, 2, 1, 3).expandDims(1);
        // key of head (s, r) for prefix j: chunk r of row jS+s at [s·D + r·K, +K)  [Bp,K,S·D] → [Bp,S,c,K_i,K_j]
        NDArray w = cols(P, 0, S * D).reshape(Bp, K, S, S, K).transpose(0, 2, 3, 4, 1);
        // value e_j: a head's output is its score; the output projection sums the c chunks and writes neuron jS+s
        NDArray y = mm(q, w).sum(new int[] {2}).transpose(0, 2, 3, 1).reshape(B, T, D); // [B,S,T,K_j] → [B,T,K_j,S]
        // bias heads: constant query e_0 against keys e_j read prefix 0's bias slot
        return y.add(P.get(":, 0:1, " + S * D + ":" + (S * D + D)));
    }

    /** Linear backward's heads (docs/models/tint.md, "The construction": linear backward): δx = Wᵀ δy with δy [B, T, D]. */
    NDArray linearT(NDArray dy, NDArray P) {
        Shape s = dy.getShape();
        long B = s.get(0), T = s.get(1), Bp = P.getShape().get(0);
        P = local(P, dy);
        // head (s, r) queries (δy_t)_{jS+s} over j: [B,T,D] → [B,T,K_j,S] → [B,S,1,T,K_j]
        NDArray q = dy.reshape(B, T, K, S).transpose(0, 3, 1, 2).expandDims(2);
        // key e_j, value chunk r of row jS+s: [Bp,K_j,S,c,K_i] → [Bp,S,c,K_j,K_i]
        NDArray v = cols(P, 0, S * D).reshape(Bp, K, S, S, K).transpose(0, 2, 3, 1, 4);
        // the output projection sums over s and writes chunk r  [B,c,T,K_i] → [B,T,c,K_i]
        return mm(q, v).sum(new int[] {1}).transpose(0, 2, 1, 3).reshape(B, T, D);
    }

    /**
     * Linear descent's heads (docs/models/tint.md, "The construction": linear descent): prefix j queries the train
     * tokens with keys (δy_t)_{jS+s} and values −η·x_t (x from the slot at {@code valueAt}); bias heads (key e_0 for every token, value −η δy_t) reach prefix 0's bias slot.
     * Returns the new prefix, through the add-to-prefix gate.
     */
    NDArray descent(NDArray X, NDArray P, boolean biasOnly, int valueAt, Pass p) {
        long B = p.B, T = p.T;
        NDArray dy = cols(X, 0, D).mul(p.trainRows); // keys only on the train rows
        NDManager m = X.getManager();
        NDArray dw;
        if (biasOnly) dw = m.zeros(new Shape(B, K, S * D), dt);
        else {
            NDArray keys = dy.reshape(B, T, K, S).transpose(0, 3, 2, 1); // [B,S,K_j,T]
            NDArray vals = cols(X, valueAt, valueAt + D).mul(-eta).expandDims(1); // [B,1,T,D]
            dw = mm(keys, vals).transpose(0, 2, 1, 3).reshape(B, K, S * D); // [B,S,K_j,D] → [B,K_j,S·D]
        }
        NDArray db = dy.mul(-eta).sum(new int[] {1}, true); // [B,1,D], prefix 0 only
        NDArray bias = K == 1 ? db : db.concat(m.zeros(new Shape(B, K - 1, D), dt), 1);
        NDArray delta = NDArrays.concat(new NDList(dw, bias, m.zeros(new Shape(B, K, E - (S + 1) * D), dt)), 2);
        NDArray Pl = local(P, X);
        // prefix rows: tanh(g)·(P + Δ)
        if (addIn == 1 && addNew == 1) return delta.add(Pl);
        return delta.mul(addNew).add(Pl.mul(addIn));
    }

    /** Linear forward unit: token rows [W x + b | 0 | x]. */
    NDArray linearForward(NDArray X, NDArray P) {
        NDArray x = cols(X, 0, D);
        return keep(rows(linear(x, P), x));
    }

    /** Linear backward and descent in parallel: token rows [Wᵀ δy | rest passed through], {@code newP[0]} = the new prefix. */
    NDArray linearDescentBackward(NDArray X, NDArray P, boolean biasOnly, int valueAt, Pass p, NDArray[] newP) {
        newP[0] = descent(X, P, biasOnly, valueAt, p);
        return keep(linearT(cols(X, 0, D), P).concat(cols(X, D, E), 2));
    }

    /** The parameter-free normalisation f of x [B, T, D] (LayerNorm or RMSNorm without affine). */
    NDArray f(NDArray x) {
        NDArray c = aux.norm.equals("layernorm") ? x.sub(x.mean(new int[] {2}, true)) : x;
        NDArray var = c.mul(c).mean(new int[] {2}, true);
        return c.mul(var.add(cfg.epsilon()).sqrt().pow(-1));
    }

    /** Normalisation unit: [f(x) | 0 | f(x) | x] ({@code memory}) or [f(x) | rest]. */
    NDArray normalize(NDArray X, boolean memory) {
        NDArray x = cols(X, 0, D), z = f(x);
        return keep(memory ? rows(z, z.concat(x, 2)) : z.concat(cols(X, D, E), 2));
    }

    NDArray sigma(NDArray h) {
        return Layers.activation(h, Choice.parse(ModelParams.Activation.class, aux.act));
    }

    /** Activation unit: σ on [0, D); {@code memory}: the pre-activation to [E−D, E); {@code alsoMemory}: σ there too. */
    NDArray activation(NDArray X, boolean memory, boolean alsoMemory) {
        NDArray h = cols(X, 0, D);
        NDArray tail = memory ? h : alsoMemory ? sigma(cols(X, E - D, E)) : cols(X, E - D, E);
        return keep(NDArrays.concat(new NDList(sigma(h), cols(X, D, E - D), tail), 2));
    }

    /** Finite-difference input: [0, D) ← x + δ/N with x from the slot [E−D, E); the rest passes. */
    NDArray fdIn(NDArray X) {
        return keep(cols(X, 0, D).mul(1 / N).add(cols(X, E - D, E)).concat(cols(X, D, E), 2));
    }

    /** Finite-difference output: [0, D) ← N·f − N·(the value stored at E − storedAt); the rest passes. */
    NDArray fdOut(NDArray X, int storedAt) {
        NDArray y = cols(X, 0, D).mul(N).add(cols(X, E - storedAt, E - storedAt + D).mul(-N));
        return keep(y.concat(cols(X, D, E), 2));
    }

    /** Residual add of the [0, D) coordinates; the other coordinates are zero. */
    NDArray residual(NDArray a, NDArray b) {
        return pad(cols(a, 0, D).add(cols(b, 0, D)), E);
    }

    /** [B, T, D] → [B, H, T, d]. */
    NDArray heads(NDArray x) {
        Shape s = x.getShape();
        return x.reshape(s.get(0), s.get(1), H, d).transpose(0, 2, 1, 3);
    }

    /** [B, H, T, d] → [B, T, D]. */
    NDArray merge(NDArray x) {
        Shape s = x.getShape();
        return x.transpose(0, 2, 1, 3).reshape(s.get(0), s.get(2), D);
    }

    /** Softmax over the allowed keys (causal and icl mask), in float32 at least. */
    NDArray attention(NDArray q, NDArray k, Pass p) {
        NDArray s = mm(heads(q).mul(attnScale), heads(k).transpose(0, 1, 3, 2)).add(p.attnMask);
        return Ops.softmax(s, -1);
    }

    /** Softmax attention unit: rows [A v | 0 | q, k | 0]. */
    NDArray attnForward(NDArray X, Pass p) {
        NDArray q = cols(X, 0, D), k = cols(X, D, 2 * D), v = cols(X, 2 * D, 3 * D);
        NDArray o = merge(mm(attention(q, k, p), heads(v)));
        return keep(rows(o, NDArrays.concat(new NDList(q, k, X.getManager().zeros(new Shape(p.B, p.T, D), dt)), 2)));
    }

    /** Attention backward unit (stop-gradient through the scores): δv = Aᵀ δo, A recomputed from the stored [q, k]. */
    NDArray attnBackward(NDArray X, Pass p) {
        NDArray q = cols(X, E - 3 * D, E - 2 * D), k = cols(X, E - 2 * D, E - D);
        NDArray A = attention(q, k, p).mul(p.backMask);
        NDArray dv = merge(mm(A.transpose(0, 1, 3, 2), heads(cols(X, 0, D))));
        return keep(dv.concat(cols(X, D, E), 2));
    }

    /**
     * δh_f [B, T, D] on the train targets t ≤ nTrain−2 (docs/models/tint.md, "The construction" 2a, {@link LossGradient}'s options):
     * (p − e_y)·wte written as p·wte − wte[y], with p = softmax(logits), logits, or the uniform 1/V.
     */
    NDArray lossGradient(NDArray logits, NDArray targets, Pass p) {
        NDArray target = Ops.embedding(targets, wte);
        NDArray g = switch (cfg.loss()) {
            case PREDICTION -> mm(Ops.softmax(logits, -1), wte).sub(target);
            case QUAD -> mm(logits, wte).sub(target);
            case MEAN -> target.mul(-1).add(local(wte, target).mean(new int[] {0}));
        };
        return g.mul(p.lossRows);
    }

    // ------------------------------------------------------------------------------------------------ blocks

    NDArray layerNormForward(NDArray X, NDArray P, NDArray[] memOut) {
        NDArray n = normalize(X, true);
        memOut[0] = cols(n, E - 2 * D, E).duplicate();
        return linearForward(n, P);
    }

    /**
     * One aux layer's forward (the modules of docs/models/tint.md, "The construction"); {@code rec} (null for layers below
     * the simulated ones) receives the memory slots.
     */
    NDArray blockForward(NDArray X0, NDArray[] pre, Record rec, Pass p) {
        NDManager parent = X0.getManager(), sub = parent.newSubManager();
        NDArray X = X0;
        X.tempAttach(sub);
        NDArray[] mem = new NDArray[1];
        NDArray u = layerNormForward(X, pre[0], mem);
        NDArray ln1 = mem[0];
        NDArray q = linearForward(u, pre[1]), k = linearForward(u, pre[2]), v = linearForward(u, pre[3]);
        NDArray qkv = pad(NDArrays.concat(new NDList(cols(q, 0, D), cols(k, 0, D), cols(v, 0, D)), 2), E);
        NDArray o = attnForward(qkv, p);
        NDArray a = linearForward(o, pre[4]);
        NDArray xm = residual(X, a);
        NDArray u2 = layerNormForward(xm, pre[5], mem);
        NDArray out = xm;
        NDArray[] fc = new NDArray[R], act = new NDArray[R], proj = new NDArray[R];
        for (int c = 0; c < R; c++) {
            NDArray h = linearForward(u2, pre[6 + 2 * c]);
            NDArray s = activation(h, true, false);
            NDArray m = linearForward(s, pre[7 + 2 * c]);
            fc[c] = cols(h, E - D, E).duplicate();
            act[c] = cols(s, E - D, E).duplicate();
            proj[c] = cols(m, E - D, E).duplicate();
            out = residual(out, m);
        }
        if (rec == null) return leave(sub, parent, out, List.of());
        rec.ln1 = ln1; rec.ln2 = mem[0];
        rec.v = cols(v, E - D, E).duplicate();
        rec.qk = cols(o, E - 3 * D, E - D).duplicate();
        rec.o = cols(a, E - D, E).duplicate();
        rec.fc = fc; rec.act = act; rec.proj = proj;
        return leave(sub, parent, out, rec.all());
    }

    /** LayerNorm backward unit: δz through the stored weight and β's descent, then N·(f(x + δz/N) − f(x)). */
    NDArray layerNormBackward(NDArray G, NDArray mem, NDArray P, Pass p, NDArray[] newP) {
        NDArray Y = linearDescentBackward(rows(cols(G, 0, D), mem), P, cfg.ln_update_bias_only(), E - 2 * D, p, newP);
        return fdOut(normalize(fdIn(Y), false), 2 * D);
    }

    /** Activation backward: N·(σ(h + δ/N) − σ(h)) with h from memory. */
    NDArray activationBackward(NDArray G, NDArray mem) {
        return fdOut(activation(fdIn(rows(cols(G, 0, D), mem)), false, true), D);
    }

    /** Backward and descent of one aux layer; {@code newPre} receives its updated prefixes. Returns the input gradient. */
    NDArray blockBackward(NDArray G0, NDArray[] pre, Record rec, Pass p, NDArray[] newPre) {
        NDManager parent = G0.getManager(), sub = parent.newSubManager();
        NDArray G = G0;
        G.tempAttach(sub);
        NDArray[] np = new NDArray[1];
        NDArray du = null;
        for (int c = 0; c < R; c++) {
            NDArray y = linearDescentBackward(rows(cols(G, 0, D), rec.proj[c]), pre[7 + 2 * c], false, E - D, p, np);
            newPre[7 + 2 * c] = np[0];
            y = activationBackward(y, rec.act[c]);
            y = linearDescentBackward(rows(cols(y, 0, D), rec.fc[c]), pre[6 + 2 * c], false, E - D, p, np);
            newPre[6 + 2 * c] = np[0];
            du = du == null ? y : residual(du, y);
        }
        NDArray gmid = residual(G, layerNormBackward(du, rec.ln2, pre[5], p, np));
        newPre[5] = np[0];
        NDArray y = linearDescentBackward(rows(cols(gmid, 0, D), rec.o), pre[4], false, E - D, p, np);
        newPre[4] = np[0];
        if (cfg.backprop_through_attention())
            y = attnBackward(rows(cols(y, 0, D), NDArrays.concat(new NDList(rec.qk, y.getManager().zeros(new Shape(p.B, p.T, D), dt)), 2)), p);
        y = linearDescentBackward(rows(cols(y, 0, D), rec.v), pre[3], false, E - D, p, np);
        newPre[3] = np[0];
        newPre[1] = pre[1];
        newPre[2] = pre[2]; // W_Q, W_K and their biases are passed through (A2)
        NDArray gin = residual(gmid, layerNormBackward(y, rec.ln1, pre[0], p, np));
        newPre[0] = np[0];
        List<NDArray> keep = new ArrayList<>();
        for (int i : new int[] {0, 3, 4, 5}) keep.add(newPre[i]);
        for (int i = 6; i < newPre.length; i++) keep.add(newPre[i]);
        return leave(sub, parent, gin, keep);
    }
}
