package org.tinker.model.hierarchical;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.tinker.config.ModelParams;
import org.tinker.engine.Ops;
import org.tinker.model.ModelBody;

/**
 * A hierarchical transformer in the design of lucidrains' simple-hierarchical-transformer (docs/models/hierarchical.md, "Hierarchical
 * transformer"), written for tinker: {@code layer_architecture="hierarchical"}. {@link org.tinker.model.LM} owns the
 * parameters (created from {@link #layout()}) and calls {@link #forward}; training goes through the normal Trainer.
 *
 * <pre>
 *   x0 = wte[ids]                                             [B,T,Dmax]   one shared embedding, Dmax = max width
 *   per hierarchy i (factor c, stride s, width d):
 *     c = 1: h_i = proj(x0) (identity when d = Dmax)
 *     c > 1: causal convolution: position t sees tokens t−c+1 … t (zero-padded on the left):
 *            h_i = out(SiLU(conv([x0_{t−c+1} | … | x0_t])))       then every s-th position (windows ending at js+s−1)
 *     h_i = RMSNorm(h_i)                                      [B, ⌈T/s⌉, d]
 *   per layer, per hierarchy: axial split into c/s interleaved sub-sequences (each attends only to itself), then
 *     x = x + attn(shift(x));  x = x + ff(shift(x))           shift = token shift: the second half of the features
 *                                                             comes from the previous position
 *     attn = RMSNorm → q,k,v (no bias) → rotary → causal softmax, within a sliding window of w (None = full, 0 = skip)
 *     ff   = RMSNorm → Linear → GELU → Linear (no bias)
 *   then the merge: every hierarchy brought to token positions (a strided token j appears from position js+s−1 on,
 *     the end of its window), concatenated → RMSNorm → Linear(2·out) → SiLU → Linear(out), added to the predicting
 *     hierarchy (or split and added back to all with hierarchy_merge_all)
 *   logits = lm_head(RMSNorm(h_predict))
 * </pre>
 * Auxiliary losses (only when asked, i.e. in training): for every compressed hierarchy, the reconstruction
 * cross-entropy of the c tokens each position's window covers, from that position's final state, and the
 * hierarchical-AR loss {@code 1 − cos(Linear(h_j), sg(h_{j+c/s}))} (predict the next non-overlapping state).
 *
 * <p>Inspection (when asked): the residual stream is the predicting hierarchy's {@code h_predict} before layer 0 and
 * after each layer's merge, {@code [B,L+1,T,d]}; {@link #decode} is its {@code lm_head(RMSNorm(·))}, so the last
 * row decodes to the logits. The attention patterns are the predicting hierarchy's, one {@code [B,H,T,T]} per layer
 * at token positions: its axial sub-sequences put together, a key outside the query's sub-sequence (or window) at 0.
 *
 * <p>Everything it creates lives in the manager of {@code ids}; the rotary and window-mask constants are cached in
 * the manager passed to the constructor (the LM's), one per head width and one per window, at max_seq_len.
 */
public final class HierarchicalTransformer implements ModelBody {

    public static final String WTE = "transformer.wte.weight";
    public static final String LM_HEAD = "lm_head.weight";
    private static final double EPS = 1e-6;

    private final HierarchicalSpec spec;
    private final int vocab;
    private final int depth;
    private final int dmax;
    private final int maxLen;
    private final NDManager constants;
    private final DataType dtype;
    private final Map<String, NDArray> cache = new HashMap<>();

    public HierarchicalTransformer(ModelParams mp, int vocab, NDManager constants, DataType dtype) {
        this.spec = HierarchicalSpec.of(mp);
        this.vocab = vocab;
        this.depth = mp.n_layers();
        int m = 0;
        for (int d : spec.dims()) m = Math.max(m, d);
        this.dmax = m;
        this.maxLen = mp.max_seq_len();
        this.constants = constants;
        this.dtype = dtype;
    }

    public HierarchicalSpec spec() {
        return spec;
    }

    private static String h(int i) {
        return "hier." + i + ".";
    }

    private int mergeOut() {
        int sum = 0;
        for (int d : spec.dims()) sum += d;
        return spec.mergeAll() ? sum : spec.dims()[spec.predict()];
    }

    @Override
    public List<Param> layout() {
        List<Param> ps = new ArrayList<>();
        double std = 0.02, proj = 0.02 / Math.sqrt(2.0 * depth);
        int n = spec.count();
        int sumD = 0;
        for (int d : spec.dims()) sumD += d;
        ps.add(new Param(WTE, new long[] {vocab, dmax}, "normal", std));
        for (int i = 0; i < n; i++) {
            int c = spec.factors()[i], d = spec.dims()[i];
            if (c == 1) {
                if (d != dmax) ps.add(new Param(h(i) + "compress.proj.weight", new long[] {d, dmax}, "normal", std));
            } else {
                ps.add(new Param(h(i) + "compress.conv.weight", new long[] {2L * d, (long) c * dmax}, "normal", std));
                ps.add(new Param(h(i) + "compress.conv.bias", new long[] {2L * d}, "zeros", 0));
                ps.add(new Param(h(i) + "compress.out.weight", new long[] {d, 2L * d}, "normal", std));
                ps.add(new Param(h(i) + "compress.out.bias", new long[] {d}, "zeros", 0));
            }
            ps.add(new Param(h(i) + "compress.norm.weight", new long[] {d}, "ones", 0));
        }
        for (int l = 0; l < depth; l++) {
            for (int i = 0; i < n; i++) {
                int d = spec.dims()[i], inner = spec.heads()[i] * spec.dimHeads()[i], ff = d * spec.ffMults()[i];
                String p = h(i) + "layers." + l + ".";
                if (spec.windows()[i] != 0) {
                    ps.add(new Param(p + "attn_norm.weight", new long[] {d}, "ones", 0));
                    for (String qkv : new String[] {"q", "k", "v"})
                        ps.add(new Param(p + "attn." + qkv + ".weight", new long[] {inner, d}, "normal", std));
                    ps.add(new Param(p + "attn.o.weight", new long[] {d, inner}, "normal", proj));
                }
                ps.add(new Param(p + "ff_norm.weight", new long[] {d}, "ones", 0));
                ps.add(new Param(p + "ff.fc.weight", new long[] {ff, d}, "normal", std));
                ps.add(new Param(p + "ff.proj.weight", new long[] {d, ff}, "normal", proj));
            }
            if (n > 1) {
                int out = mergeOut();
                ps.add(new Param("merge." + l + ".norm.weight", new long[] {sumD}, "ones", 0));
                ps.add(new Param("merge." + l + ".fc.weight", new long[] {2L * out, sumD}, "normal", std));
                ps.add(new Param("merge." + l + ".proj.weight", new long[] {out, 2L * out}, "normal", proj));
            }
        }
        for (int i = 0; i < n; i++) {
            int c = spec.factors()[i], d = spec.dims()[i];
            ps.add(new Param(h(i) + "norm_out.weight", new long[] {d}, "ones", 0));
            if (c > 1) {
                ps.add(new Param(h(i) + "recon.weight", new long[] {(long) c * vocab, d}, "normal", std));
                ps.add(new Param(h(i) + "ar.weight", new long[] {d, d}, "normal", std));
            }
        }
        ps.add(new Param(LM_HEAD, new long[] {vocab, spec.dims()[spec.predict()]}, "normal", std));
        return ps;
    }

    /**
     * @param ids  {@code [B,T]} int64 (T ≤ max_seq_len)
     * @param p    the parameters by name (the LM's, or LoRA-effective ones)
     * @param aux  also compute the auxiliary losses
     * @param attns     also return the predicting hierarchy's patterns {@code [B,L,H,T,T]} (see the class comment)
     * @param residuals also return its stream {@code [B,L+1,T,d]}
     */
    @Override
    public Output forward(NDArray ids, Map<String, NDArray> p, boolean aux, boolean attns, boolean residuals) {
        long b = ids.getShape().get(0);
        int t = Math.toIntExact(ids.getShape().get(1));
        int n = spec.count();
        int k = spec.predict();
        if (attns && attentionLayers().isEmpty())
            throw new IllegalArgumentException("hierarchical: the predicting hierarchy (factor " + spec.factors()[k] + ") has "
                    + (spec.windows()[k] == 0 ? "no attention (window_sizes 0)" : "stride " + spec.strides()[k] + ", not token positions")
                    + ", so there are no token-level attention patterns");
        NDArray x0 = Ops.embedding(ids, p.get(WTE)); // [B,T,Dmax]

        // Compression: one sequence per hierarchy.
        NDArray[] hs = new NDArray[n];
        for (int i = 0; i < n; i++) {
            int c = spec.factors()[i], s = spec.strides()[i];
            NDArray y;
            if (c == 1) {
                NDArray w = p.get(h(i) + "compress.proj.weight");
                y = w == null ? x0 : Ops.linear(x0, w, null);
            } else {
                NDArray padded = padTime(x0, ceilDiv(t, s) * s); // zeros after the last token (causal-safe)
                NDList window = new NDList(c);
                for (int j = 0; j < c; j++) window.add(shiftRight(padded, c - 1 - j)); // oldest token first
                NDArray cat = NDArrayConcat.features(window);                              // [B,T',c·Dmax]
                NDArray mid = silu(Ops.linear(cat, p.get(h(i) + "compress.conv.weight"), p.get(h(i) + "compress.conv.bias")));
                y = Ops.linear(mid, p.get(h(i) + "compress.out.weight"), p.get(h(i) + "compress.out.bias"));
                if (s > 1) y = y.get(":, " + (s - 1) + "::" + s);                           // windows ending at js+s−1
            }
            hs[i] = Ops.rmsNorm(y, p.get(h(i) + "compress.norm.weight"), EPS);
        }

        List<NDArray> patterns = attns ? new ArrayList<>(depth) : null; // per layer [B,H,T,T]
        NDList stream = residuals ? new NDList(depth + 1) : null;       // h_predict, per layer [B,T,d]
        if (stream != null) stream.add(hs[k]);
        for (int l = 0; l < depth; l++) {
            for (int i = 0; i < n; i++) hs[i] = block(i, l, hs[i], p, i == k ? patterns : null);
            if (n > 1) merge(l, hs, t, p);
            if (stream != null) stream.add(hs[k]);
        }
        NDArray attnOut = patterns == null ? null : NDArrays.stack(new NDList(patterns), 1); // [B,L,H,T,T]
        NDArray streamOut = stream == null ? null : NDArrays.stack(stream, 1);              // [B,L+1,T,d]

        NDArray[] finals = new NDArray[n];
        for (int i = 0; i < n; i++) finals[i] = Ops.rmsNorm(hs[i], p.get(h(i) + "norm_out.weight"), EPS);
        NDArray logits = Ops.linear(finals[k], head(p), null);
        if (!aux) return new Output(logits, List.of(), attnOut, streamOut);

        long[] idv = ids.toLongArray();
        NDArray recon = null, ar = null;
        int compressed = 0;
        for (int i = 0; i < n; i++) {
            if (spec.factors()[i] == 1) continue;
            compressed++;
            NDArray r = reconLoss(i, finals[i], idv, b, t, p);
            recon = recon == null ? r : recon.add(r);
            NDArray a = arLoss(i, finals[i], p);
            if (a != null) ar = ar == null ? a : ar.add(a);
        }
        if (compressed > 1) {
            recon = Ops.div(recon, compressed);
            if (ar != null) ar = Ops.div(ar, compressed);
        }
        List<Aux> out = new ArrayList<>();
        if (recon != null) out.add(new Aux("recon_loss", recon, spec.reconWeight()));
        if (ar != null) out.add(new Aux("hier_ar_loss", ar, spec.arWeight()));
        return new Output(logits, out, attnOut, streamOut);
    }

    @Override
    public int layers() {
        return depth;
    }

    /** Every layer has patterns when the predicting hierarchy attends, at token positions (stride 1); else none. */
    @Override
    public List<Integer> attentionLayers() {
        int k = spec.predict();
        if (spec.windows()[k] == 0 || spec.strides()[k] != 1) return List.of();
        return java.util.stream.IntStream.range(0, depth).boxed().toList();
    }

    @Override
    public NDArray finalNorm(NDArray residual, Map<String, NDArray> p) {
        return Ops.rmsNorm(residual, p.get(h(spec.predict()) + "norm_out.weight"), EPS);
    }

    @Override
    public NDArray head(Map<String, NDArray> p) {
        return p.get(LM_HEAD);
    }

    /**
     * One layer of hierarchy i on its sequence {@code [B,L,d]}: axial split, token shift, attention, feed-forward.
     * With {@code patterns}, the attention pattern {@code [B,H,L,L]} is added to it.
     */
    private NDArray block(int i, int l, NDArray x, Map<String, NDArray> p, List<NDArray> patterns) {
        long b = x.getShape().get(0);
        int len = Math.toIntExact(x.getShape().get(1));
        int d = spec.dims()[i];
        int groups = Math.max(1, spec.factors()[i] / spec.strides()[i]);
        int padded = ceilDiv(len, groups) * groups;
        int m = padded / groups;
        // b (m g) d -> (b g) m d: sub-sequence r holds positions r, r+g, r+2g, …
        NDArray y = padTime(x, padded).reshape(b, m, groups, d).transpose(0, 2, 1, 3).reshape(b * groups, m, d);
        String pre = h(i) + "layers." + l + ".";
        if (spec.windows()[i] != 0) {
            List<NDArray> sub = patterns == null ? null : new ArrayList<>(1);
            y = y.add(attention(i, pre, tokenShift(y), p, sub));
            if (patterns != null) patterns.add(ungroup(sub.get(0), b, groups, m, len));
        }
        NDArray ffIn = Ops.rmsNorm(tokenShift(y), p.get(pre + "ff_norm.weight"), EPS);
        NDArray hidden = JniUtils.gelu(Ops.pt(Ops.linear(ffIn, p.get(pre + "ff.fc.weight"), null)));
        y = y.add(Ops.linear(hidden, p.get(pre + "ff.proj.weight"), null));
        NDArray back = y.reshape(b, groups, m, d).transpose(0, 2, 1, 3).reshape(b, padded, d);
        return padded == len ? back : back.get(":, 0:" + len);
    }

    /**
     * The axial sub-sequences' patterns {@code [(B g),H,m,m]} as one pattern over the sequence {@code [B,H,len,len]}:
     * sub-sequence r holds positions r, r+g, r+2g, … and a query reads only its own, so every other key gets 0.
     */
    static NDArray ungroup(NDArray w, long b, int g, int m, int len) {
        if (g == 1) return w; // m = len: nothing to put together
        long heads = w.getShape().get(1);
        NDArray per = w.reshape(b, g, heads, m, m).transpose(0, 2, 3, 1, 4);                     // [B,H,m(i),g(r),m(j)]
        NDArray same = w.getManager().eye(g).toType(w.getDataType(), false).reshape(g, 1, g);    // δ(r, r')
        NDArray full = per.expandDims(5).mul(same).reshape(b, heads, (long) m * g, (long) m * g); // query i·g+r, key j·g+r'
        return full.get(":, :, 0:" + len + ", 0:" + len);                                        // drop the padding
    }

    /** With {@code patterns}, the softmax weights {@code [B,H,m,m]} are added to it. */
    private NDArray attention(int i, String pre, NDArray x, Map<String, NDArray> p, List<NDArray> patterns) {
        long b = x.getShape().get(0);
        int m = Math.toIntExact(x.getShape().get(1));
        int heads = spec.heads()[i], dh = spec.dimHeads()[i];
        NDArray xn = Ops.rmsNorm(x, p.get(pre + "attn_norm.weight"), EPS);
        NDArray q = split(Ops.linear(xn, p.get(pre + "attn.q.weight"), null), b, m, heads, dh);
        NDArray k = split(Ops.linear(xn, p.get(pre + "attn.k.weight"), null), b, m, heads, dh);
        NDArray v = split(Ops.linear(xn, p.get(pre + "attn.v.weight"), null), b, m, heads, dh);
        if (dh % 2 == 0) {
            NDArray[] rot = rope(dh);
            NDArray cos = Ops.slice2(rot[0], 0, m, 0, dh, x), sin = Ops.slice2(rot[1], 0, m, 0, dh, x);
            q = Ops.rope(q, cos, sin);
            k = Ops.rope(k, cos, sin);
        }
        NDArray scores = Ops.matmul(Ops.mul(q, 1.0 / Math.sqrt(dh)), k.swapAxes(2, 3))
                .add(Ops.slice2(windowMask(spec.windows()[i]), 0, m, 0, m, x));
        NDArray weights = Ops.softmax(scores, -1);
        if (patterns != null) patterns.add(weights);
        NDArray z = Ops.matmul(weights, v).transpose(0, 2, 1, 3).reshape(b, m, (long) heads * dh);
        return Ops.linear(z, p.get(pre + "attn.o.weight"), null);
    }

    private static NDArray split(NDArray y, long b, int m, int heads, int dh) {
        return y.reshape(b, m, heads, dh).transpose(0, 2, 1, 3);
    }

    /** After layer l: every hierarchy at token positions → concat → RMSNorm → MLP → added to the target(s). */
    private void merge(int l, NDArray[] hs, int t, Map<String, NDArray> p) {
        int n = hs.length;
        NDList fine = new NDList(n);
        for (int i = 0; i < n; i++) fine.add(toTokenPositions(hs[i], spec.strides()[i], t));
        NDArray cat = NDArrayConcat.features(fine);
        NDArray mid = silu(Ops.linear(Ops.rmsNorm(cat, p.get("merge." + l + ".norm.weight"), EPS),
                p.get("merge." + l + ".fc.weight"), null));
        NDArray merged = Ops.linear(mid, p.get("merge." + l + ".proj.weight"), null); // [B,T,out]
        if (!spec.mergeAll()) {
            int k = spec.predict();
            hs[k] = hs[k].add(merged);
            return;
        }
        int off = 0;
        for (int i = 0; i < n; i++) {
            int d = spec.dims()[i], s = spec.strides()[i];
            NDArray part = merged.get(":, :, " + off + ":" + (off + d));
            off += d;
            if (s > 1) {
                int len = Math.toIntExact(hs[i].getShape().get(1));
                // the state at token position js+s−1 (the end of strided token j's window) goes back to token j
                part = padTime(part, len * s).get(":, " + (s - 1) + "::" + s);
            }
            hs[i] = hs[i].add(part);
        }
    }

    /**
     * A hierarchy's sequence {@code [B,L,d]} at token positions {@code [B,T,d]}. Stride 1: position t already
     * summarises tokens ≤ t. Stride s: token j (window ending at js+s−1) is repeated s times and shifted s−1 later,
     * so it appears from js+s−1 on, the last position of its window (never before); earlier positions get zeros.
     */
    static NDArray toTokenPositions(NDArray x, int s, int t) {
        if (s == 1) return x.getShape().get(1) == t ? x : x.get(":, 0:" + t);
        long b = x.getShape().get(0), len = x.getShape().get(1), d = x.getShape().get(2);
        NDArray rep = x.expandDims(2).broadcast(b, len, s, d).reshape(b, len * s, d);
        NDArray shifted = shiftRight(rep, s - 1);
        return padTime(shifted, t).get(":, 0:" + t);
    }

    /** Reconstruction cross-entropy: compressed position j re-predicts the c tokens of its window. */
    private NDArray reconLoss(int i, NDArray hFinal, long[] ids, long b, int t, Map<String, NDArray> p) {
        int c = spec.factors()[i], s = spec.strides()[i];
        int len = Math.toIntExact(hFinal.getShape().get(1));
        NDArray logp = Ops.logSoftmax(Ops.linear(hFinal, p.get(h(i) + "recon.weight"), null).reshape(b, len, c, vocab), -1);
        long[] target = new long[Math.toIntExact(b * len * c)];
        float[] valid = new float[target.length];
        int count = 0;
        for (int r = 0; r < b; r++)
            for (int j = 0; j < len; j++) {
                int end = j * s + s - 1;
                for (int k = 0; k < c; k++) {
                    int pos = end - c + 1 + k;
                    int at = (r * len + j) * c + k;
                    if (pos >= 0 && pos < t) {
                        target[at] = ids[r * t + pos];
                        valid[at] = 1;
                        count++;
                    }
                }
            }
        NDManager m = hFinal.getManager();
        NDArray tgt = m.create(target, new Shape(b, len, c, 1));
        NDArray mask = m.create(valid, new Shape(b, len, c)).toType(hFinal.getDataType(), false);
        NDArray picked = Ops.pt(logp).gather(tgt, 3).squeeze(3);
        return Ops.div(picked.mul(mask).sum().neg(), Math.max(count, 1));
    }

    /** Hierarchical AR: {@code 1 − cos(Linear(h_j), stopgrad(h_{j+g}))}, g = c/s (the next non-overlapping state). */
    private NDArray arLoss(int i, NDArray hFinal, Map<String, NDArray> p) {
        int g = Math.max(1, spec.factors()[i] / spec.strides()[i]);
        int len = Math.toIntExact(hFinal.getShape().get(1));
        if (len <= g) return null;
        NDArray pred = Ops.linear(hFinal.get(":, 0:" + (len - g)), p.get(h(i) + "ar.weight"), null);
        NDArray next = hFinal.get(":, " + g + ":").stopGradient();
        NDArray dot = pred.mul(next).sum(new int[] {2});
        NDArray norms = pred.mul(pred).sum(new int[] {2}).sqrt().mul(next.mul(next).sum(new int[] {2}).sqrt()).add(1e-8);
        return dot.div(norms).neg().add(1).mean();
    }

    // ------------------------------------------------------------------------------------------------
    // small tensor helpers (results in the input's manager)

    /** Token shift: the second half of the features comes from the previous position (zeros at position 0). */
    static NDArray tokenShift(NDArray x) {
        long d = x.getShape().get(2);
        long half = d / 2;
        NDArray keep = x.get(":, :, 0:" + (d - half));
        NDArray moved = shiftRight(x.get(":, :, " + (d - half) + ":"), 1);
        return keep.concat(moved, 2);
    }

    /** {@code x [B,L,…]} moved k positions later along time, zeros in front, same length. */
    static NDArray shiftRight(NDArray x, int k) {
        if (k == 0) return x;
        Shape s = x.getShape();
        long len = s.get(1);
        long[] zs = s.getShape().clone();
        zs[1] = Math.min(k, len);
        NDArray zeros = x.getManager().zeros(new Shape(zs), x.getDataType());
        if (k >= len) return zeros;
        return zeros.concat(x.get(":, 0:" + (len - k)), 1);
    }

    /** Zeros appended along time up to length {@code to} (no-op when already that long). */
    static NDArray padTime(NDArray x, long to) {
        Shape s = x.getShape();
        if (s.get(1) >= to) return x;
        long[] zs = s.getShape().clone();
        zs[1] = to - s.get(1);
        return x.concat(x.getManager().zeros(new Shape(zs), x.getDataType()), 1);
    }

    private static NDArray silu(NDArray x) {
        return x.mul(JniUtils.sigmoid(Ops.pt(x)));
    }

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }

    /** Concatenation along the last axis. */
    private static final class NDArrayConcat {
        static NDArray features(NDList xs) {
            NDArray out = xs.get(0);
            int axis = out.getShape().dimension() - 1;
            for (int i = 1; i < xs.size(); i++) out = out.concat(xs.get(i), axis);
            return out;
        }
    }

    // ------------------------------------------------------------------------------------------------
    // cached constants (in the LM's manager, at max_seq_len, one per head width / window)

    private synchronized NDArray[] rope(int dh) {
        String key = "rope" + dh;
        if (!cache.containsKey(key)) {
            double[] c = new double[maxLen * dh], s = new double[maxLen * dh];
            for (int pos = 0; pos < maxLen; pos++)
                for (int i = 0; i < dh; i++) {
                    double theta = pos * Math.pow(10000.0, -2.0 * (i % (dh / 2)) / dh);
                    c[pos * dh + i] = Math.cos(theta);
                    s[pos * dh + i] = Math.sin(theta);
                }
            cache.put(key, constant(c, new Shape(maxLen, dh)));
            cache.put(key + "s", constant(s, new Shape(maxLen, dh)));
        }
        return new NDArray[] {cache.get(key), cache.get(key + "s")};
    }

    /** {@code [S,S]} additive mask: 0 where 0 ≤ q−k < w (w = FULL: q ≥ k), −inf elsewhere. */
    private synchronized NDArray windowMask(int w) {
        String key = "window" + w;
        if (!cache.containsKey(key)) {
            double[] m = new double[maxLen * maxLen];
            for (int q = 0; q < maxLen; q++)
                for (int k = 0; k < maxLen; k++) {
                    boolean ok = k <= q && (w == HierarchicalSpec.FULL || q - k < w);
                    m[q * maxLen + k] = ok ? 0 : Double.NEGATIVE_INFINITY;
                }
            cache.put(key, constant(m, new Shape(maxLen, maxLen)));
        }
        return cache.get(key);
    }

    private NDArray constant(double[] v, Shape shape) {
        if (dtype == DataType.FLOAT64) return constants.create(v, shape);
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) f[i] = (float) v[i];
        return constants.create(f, shape);
    }
}
