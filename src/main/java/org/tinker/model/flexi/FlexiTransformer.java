package org.tinker.model.flexi;

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
import org.tinker.config.ModelParams.PosEncoding;
import org.tinker.config.ModelParams;
import org.tinker.engine.Ops;
import org.tinker.model.Layers;
import org.tinker.model.ModelBody;

/**
 * Heterogeneous layers in the FlexiBERT design space, as a causal decoder ({@code layer_architecture="flexi"},
 * {@code model_dict} in the config; docs/models/flexibert.md). Layer i has its own width h_i, heads
 * n_i, operation and stack of feed-forward layers; a projection {@code proj_head} follows a layer whose width differs
 * from the next one's.
 * <pre>
 *   x = wte[ids] (+ wpe)                                   width h_0
 *   layer i:  x = x + op(norm(x))   (norm_first)   or   x = norm(x + op(x))   (post-norm, BERT's)
 *             x = x + ff(norm(x))                  or   x = norm(x + ff(x))     ff = Linear→GELU→…→Linear(f_last→h_i)
 *             x = proj_head(x)   when h_i ≠ h_{i+1}
 *   logits = lm_head(ln_f(x))                              width h_last
 * </pre>
 * Operations, all causal (position t reads positions ≤ t only):
 * <ul>
 *   <li>{@code sa sdp}: multi-head softmax(q·kᵀ/√d) with the causal mask. {@code sa wma}: weighted multiplicative,
 *       softmax(q·W·kᵀ/√d), one d×d matrix W per layer (init U(−0.1, 0.1)).
 *   <li>{@code l dft}: FNet's Re(DFT_seq(DFT_hidden(x))) made causal: the sequence transform is the DFT basis
 *       truncated to the past, {@code F[t,s] = e^{−2πi·ts/N}/√(t+1)} for s ≤ t and 0 after, with the period N fixed at
 *       max_seq_len (so a prefix never depends on what follows or on the batch's length); the hidden transform is the
 *       full DFT over the h features, scaled 1/√h. Re(F·x·G) = Re(F)·x·Re(G) − Im(F)·x·Im(G). No parameters.
 *   <li>{@code l dct}: the 2-D DCT-II likewise: {@code D[t,s] = cos(π(s+½)t/N)/√(t+1)} for s ≤ t over the sequence,
 *       the orthonormal DCT-II over the features.
 *   <li>{@code c k}: a causal lightweight convolution: values = Linear(x); each head has a k-tap filter over the
 *       current and k−1 previous positions, softmax-normalised, shared by the head's channels; then Linear. (The
 *       reference's ConvBERT span-based dynamic convolution is replaced by this simpler static form.)
 * </ul>
 * Inspection (when asked): the attention patterns of the {@code sa} layers, {@code [B,L_sa,H,T,T]} in layer order
 * (only when they all have the same number of heads), and the residual stream before each layer and after the last
 * (before ln_f), {@code [B,L+1,T,h]} (only when every layer has the same width h: a narrower stream has no head to
 * decode it). {@link #decode} is ln_f then the head, so the last row decodes to the logits.
 */
public final class FlexiTransformer implements ModelBody {
    private final FlexiSpec spec;
    private final ModelParams mp;
    private final int vocab;
    private final int maxLen;
    private final NDManager constants;
    private final DataType dtype;
    private final Map<String, NDArray> cache = new HashMap<>();

    public static final String WTE = "transformer.wte.weight";
    public static final String WPE = "transformer.wpe.weight";
    public static final String LN_F_W = "transformer.ln_f.weight";
    public static final String LN_F_B = "transformer.ln_f.bias";
    public static final String LM_HEAD = "lm_head.weight";

    public FlexiTransformer(ModelParams mp, int vocab, NDManager constants, DataType dtype) {
        this.spec = FlexiSpec.of(mp);
        checkSupported(mp, spec);
        this.mp = mp;
        this.vocab = vocab;
        this.maxLen = mp.max_seq_len();
        this.constants = constants;
        this.dtype = dtype;
    }

    static void checkSupported(ModelParams mp, FlexiSpec spec) {
        if (mp.pos_encoding() != PosEncoding.LEARNED && mp.pos_encoding() != PosEncoding.NONE)
            throw new IllegalArgumentException("flexi supports pos_encoding learned or none, got " + mp.pos_encoding());
        if (mp.tie_embed_deembed() && spec.hidden()[0] != spec.hidden()[spec.layers() - 1])
            throw new IllegalArgumentException("tie_embed_deembed needs the first and last widths equal, got h=" + spec.hidden()[0]
                    + " and " + spec.hidden()[spec.layers() - 1]);
    }

    public FlexiSpec spec() {
        return spec;
    }

    private static String pre(int i) {
        return "flexi." + i + ".";
    }

    private boolean layerNorm() {
        return mp.norm().hasBias();
    }

    @Override
    public List<Param> layout() {
        List<Param> ps = new ArrayList<>();
        double std = 0.02, proj = 0.02 / Math.sqrt(2.0 * spec.layers());
        int h0 = spec.hidden()[0];
        ps.add(new Param(WTE, new long[] {vocab, h0}, "normal", std));
        if (mp.pos_encoding() == PosEncoding.LEARNED) ps.add(new Param(WPE, new long[] {maxLen, h0}, "normal", std));
        for (int i = 0; i < spec.layers(); i++) {
            String p = pre(i);
            long h = spec.hidden()[i];
            switch (spec.ops().get(i)) {
                case "sa" -> {
                    ps.add(new Param(p + "attn.c_attn.weight", new long[] {3 * h, h}, "normal", std));
                    ps.add(new Param(p + "attn.c_attn.bias", new long[] {3 * h}, "zeros", 0));
                    if (spec.params().get(i).equals("wma")) {
                        long hd = h / spec.heads()[i];
                        ps.add(new Param(p + "attn.wma", new long[] {hd, hd}, "uniform", 0.1));
                    }
                    ps.add(new Param(p + "attn.c_proj.weight", new long[] {h, h}, "normal", proj));
                    ps.add(new Param(p + "attn.c_proj.bias", new long[] {h}, "zeros", 0));
                }
                case "c" -> {
                    ps.add(new Param(p + "conv.value.weight", new long[] {h, h}, "normal", std));
                    ps.add(new Param(p + "conv.value.bias", new long[] {h}, "zeros", 0));
                    ps.add(new Param(p + "conv.kernel", new long[] {spec.heads()[i], spec.kernel(i)}, "normal", std));
                    ps.add(new Param(p + "conv.proj.weight", new long[] {h, h}, "normal", proj));
                    ps.add(new Param(p + "conv.proj.bias", new long[] {h}, "zeros", 0));
                }
                default -> { } // "l": no parameters
            }
            for (String ln : new String[] {"ln_1", "ln_2"}) {
                ps.add(new Param(p + ln + ".weight", new long[] {h}, "ones", 0));
                if (layerNorm()) ps.add(new Param(p + ln + ".bias", new long[] {h}, "zeros", 0));
            }
            long prev = h;
            int[] ff = spec.ff()[i];
            for (int j = 0; j < ff.length; j++) {
                ps.add(new Param(p + "ff." + j + ".weight", new long[] {ff[j], prev}, "normal", std));
                ps.add(new Param(p + "ff." + j + ".bias", new long[] {ff[j]}, "zeros", 0));
                prev = ff[j];
            }
            ps.add(new Param(p + "ff.out.weight", new long[] {h, prev}, "normal", proj));
            ps.add(new Param(p + "ff.out.bias", new long[] {h}, "zeros", 0));
            if (i + 1 < spec.layers() && spec.hidden()[i + 1] != h) {
                ps.add(new Param(p + "proj_head.weight", new long[] {spec.hidden()[i + 1], h}, "normal", std));
                ps.add(new Param(p + "proj_head.bias", new long[] {spec.hidden()[i + 1]}, "zeros", 0));
            }
        }
        long hl = spec.hidden()[spec.layers() - 1];
        if (mp.final_norm()) {
            ps.add(new Param(LN_F_W, new long[] {hl}, "ones", 0));
            if (layerNorm()) ps.add(new Param(LN_F_B, new long[] {hl}, "zeros", 0));
        }
        if (!mp.tie_embed_deembed()) ps.add(new Param(LM_HEAD, new long[] {vocab, hl}, "normal", std));
        return ps;
    }

    @Override
    public Output forward(NDArray ids, Map<String, NDArray> p, boolean aux, boolean attns, boolean residuals) {
        if (attns) checkPatterns();
        if (residuals) checkOneWidth();
        long t = ids.getShape().get(1);
        NDArray x = Ops.embedding(ids, p.get(WTE));
        if (p.containsKey(WPE)) x = x.add(Ops.firstRows(p.get(WPE), t, ids));
        List<NDArray> patterns = attns ? new ArrayList<>() : null;         // per 'sa' layer [B,H,T,T]
        NDList stream = residuals ? new NDList(spec.layers() + 1) : null; // per layer [B,T,h]
        for (int i = 0; i < spec.layers(); i++) {
            String pr = pre(i);
            if (stream != null) stream.add(x);
            if (mp.norm_first()) {
                x = x.add(op(i, norm(x, p, pr + "ln_1"), p, patterns));
                x = x.add(ff(i, norm(x, p, pr + "ln_2"), p));
            } else {
                x = norm(x.add(op(i, x, p, patterns)), p, pr + "ln_1");
                x = norm(x.add(ff(i, x, p)), p, pr + "ln_2");
            }
            if (p.containsKey(pr + "proj_head.weight")) x = Ops.linear(x, p.get(pr + "proj_head.weight"), p.get(pr + "proj_head.bias"));
        }
        if (stream != null) stream.add(x);
        return new Output(decode(x, p), List.of(),
                patterns == null ? null : NDArrays.stack(new NDList(patterns), 1), // [B,L_sa,H,T,T]
                stream == null ? null : NDArrays.stack(stream, 1));               // [B,L+1,T,h]
    }

    @Override
    public int layers() {
        return spec.layers();
    }

    /** The 'sa' layers. */
    @Override
    public List<Integer> attentionLayers() {
        return java.util.stream.IntStream.range(0, spec.layers()).filter(i -> spec.ops().get(i).equals("sa")).boxed().toList();
    }

    private void checkPatterns() {
        List<Integer> sa = attentionLayers();
        if (sa.isEmpty())
            throw new IllegalArgumentException("flexi: model_dict has no 'sa' layer (o=" + spec.ops() + "), so no attention patterns");
        List<Integer> heads = sa.stream().map(i -> spec.heads()[i]).toList();
        if (heads.stream().distinct().count() > 1)
            throw new IllegalArgumentException("flexi: the 'sa' layers " + sa + " have " + heads
                    + " heads; attention patterns stack only when every 'sa' layer has the same number");
    }

    private void checkOneWidth() {
        if (java.util.Arrays.stream(spec.hidden()).distinct().count() > 1)
            throw new IllegalArgumentException("flexi: the residual stream changes width (h=" + java.util.Arrays.toString(spec.hidden())
                    + "); residual streams and the logit lens need one width for every layer");
    }

    @Override
    public NDArray finalNorm(NDArray residual, Map<String, NDArray> p) {
        if (!mp.final_norm()) return residual;
        return Layers.norm(residual, p.get(LN_F_W), p.get(LN_F_B), mp.norm(), mp.layer_norm_eps());
    }

    @Override
    public NDArray head(Map<String, NDArray> p) {
        return mp.tie_embed_deembed() ? p.get(WTE) : p.get(LM_HEAD);
    }

    private NDArray norm(NDArray x, Map<String, NDArray> p, String name) {
        return Layers.norm(x, p.get(name + ".weight"), p.get(name + ".bias"), mp.norm(), mp.layer_norm_eps());
    }

    private NDArray ff(int i, NDArray x, Map<String, NDArray> p) {
        String pr = pre(i) + "ff.";
        NDArray y = x;
        for (int j = 0; j < spec.ff()[i].length; j++) y = JniUtils.gelu(Ops.pt(Ops.linear(y, p.get(pr + j + ".weight"), p.get(pr + j + ".bias"))));
        return Ops.linear(y, p.get(pr + "out.weight"), p.get(pr + "out.bias"));
    }

    private NDArray op(int i, NDArray x, Map<String, NDArray> p, List<NDArray> patterns) {
        return switch (spec.ops().get(i)) {
            case "sa" -> attention(i, x, p, patterns);
            case "l" -> linearTransform(spec.params().get(i), x);
            default -> convolution(i, x, p);
        };
    }

    /** With {@code patterns}, the softmax weights {@code [B,n,T,T]} are added to it. */
    private NDArray attention(int i, NDArray x, Map<String, NDArray> p, List<NDArray> patterns) {
        String pr = pre(i) + "attn.";
        long b = x.getShape().get(0), t = x.getShape().get(1);
        int h = spec.hidden()[i], n = spec.heads()[i], hd = h / n;
        NDArray qkv = Ops.linear(x, p.get(pr + "c_attn.weight"), p.get(pr + "c_attn.bias"))
                .reshape(b, t, 3, n, hd).transpose(2, 0, 3, 1, 4); // [3,B,n,T,hd]
        NDArray q = qkv.get(0), k = qkv.get(1), v = qkv.get(2);
        if (p.containsKey(pr + "wma")) q = Ops.matmul(q, p.get(pr + "wma")); // q·W, then ·kᵀ
        NDArray scores = Ops.matmul(Ops.mul(q, 1.0 / Math.sqrt(hd)), k.swapAxes(2, 3))
                .add(Ops.topLeft(table("causal"), t, x));
        NDArray weights = Ops.softmax(scores, -1);
        if (patterns != null) patterns.add(weights);
        NDArray z = Ops.matmul(weights, v).transpose(0, 2, 1, 3).reshape(b, t, h);
        return Ops.linear(z, p.get(pr + "c_proj.weight"), p.get(pr + "c_proj.bias"));
    }

    /** The causal 2-D DFT (real part) or DCT of {@code x [B,T,h]}; see the class comment. */
    NDArray linearTransform(String kind, NDArray x) {
        long t = x.getShape().get(1);
        int h = Math.toIntExact(x.getShape().get(2));
        if (kind.equals("dct")) {
            NDArray seq = Ops.topLeft(table("dct_seq"), t, x);                 // [T,T], lower-triangular
            return Ops.matmul(Ops.matmul(seq, x), hidden("dct", h, x).transpose()); // D·x·Hᵀ
        }
        NDArray cos = Ops.topLeft(table("dft_cos"), t, x), sin = Ops.topLeft(table("dft_sin"), t, x);
        NDArray hc = hidden("dft_cos", h, x), hs = hidden("dft_sin", h, x);    // symmetric
        return Ops.matmul(Ops.matmul(cos, x), hc).sub(Ops.matmul(Ops.matmul(sin, x), hs));
    }

    private NDArray convolution(int i, NDArray x, Map<String, NDArray> p) {
        String pr = pre(i) + "conv.";
        int h = spec.hidden()[i], n = spec.heads()[i], k = spec.kernel(i);
        NDArray v = Ops.linear(x, p.get(pr + "value.weight"), p.get(pr + "value.bias"));
        NDArray taps = Ops.softmax(p.get(pr + "kernel"), -1);                  // [n,k], each head's filter sums to 1
        NDArray perChannel = taps.transpose().expandDims(2).broadcast(k, n, h / n).reshape(k, h); // [k,h]
        NDArray y = null;
        for (int j = 0; j < k; j++) {
            NDArray term = shiftRight(v, j).mul(perChannel.get(j));            // tap j reads position t−j
            y = y == null ? term : y.add(term);
        }
        return Ops.linear(y, p.get(pr + "proj.weight"), p.get(pr + "proj.bias"));
    }

    private static NDArray shiftRight(NDArray x, int k) {
        if (k == 0) return x;
        long b = x.getShape().get(0), t = x.getShape().get(1), d = x.getShape().get(2);
        NDArray zeros = x.getManager().zeros(new Shape(b, Math.min(k, t), d), x.getDataType());
        if (k >= t) return zeros;
        return zeros.concat(x.get(":, 0:" + (t - k)), 1);
    }

    // ------------------------------------------------------------------------------------------------
    // constants, cached in the LM's manager: [S,S] sequence tables and [h,h] hidden transforms per width

    private synchronized NDArray table(String kind) {
        return cache.computeIfAbsent(kind, key -> {
            int s = maxLen;
            double[] m = new double[s * s];
            for (int q = 0; q < s; q++)
                for (int k = 0; k < s; k++) {
                    double norm = 1 / Math.sqrt(q + 1);
                    m[q * s + k] = switch (key) {
                        case "causal" -> k <= q ? 0 : Double.NEGATIVE_INFINITY;
                        case "dft_cos" -> k <= q ? Math.cos(2 * Math.PI * q * k / s) * norm : 0;
                        case "dft_sin" -> k <= q ? Math.sin(2 * Math.PI * q * k / s) * norm : 0;
                        default -> k <= q ? Math.cos(Math.PI * (k + 0.5) * q / s) * norm : 0; // dct_seq
                    };
                }
            return constant(m, new Shape(s, s));
        });
    }

    /** {@code [h,h]} hidden transforms: DFT cos/sin scaled 1/√h, or the orthonormal DCT-II; returned in x's scope. */
    private NDArray hidden(String kind, int h, NDArray scope) {
        NDArray m;
        synchronized (this) {
            m = cache.computeIfAbsent(kind + h, key -> {
                double[] v = new double[h * h];
                for (int r = 0; r < h; r++)
                    for (int c = 0; c < h; c++)
                        v[r * h + c] = switch (kind) {
                            case "dft_cos" -> Math.cos(2 * Math.PI * r * c / h) / Math.sqrt(h);
                            case "dft_sin" -> Math.sin(2 * Math.PI * r * c / h) / Math.sqrt(h);
                            default -> Math.cos(Math.PI * (c + 0.5) * r / h) * Math.sqrt((r == 0 ? 1.0 : 2.0) / h);
                        };
                return constant(v, new Shape(h, h));
            });
        }
        return Ops.topLeft(m, h, scope);
    }

    private NDArray constant(double[] v, Shape shape) {
        if (dtype == DataType.FLOAT64) return constants.create(v, shape);
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) f[i] = (float) v[i];
        return constants.create(f, shape);
    }
}
