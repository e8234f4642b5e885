package org.tinker.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import org.tinker.config.ModelParams;
import org.tinker.engine.Kernels;
import org.tinker.engine.Ops;

/**
 * The transformer block, {@code [B,T,D] → [B,T,D]}: causal multi-head self-attention and an MLP, each a residual branch
 * (Vaswani et al. 2017; GPT-2's parameter names). The one implementation every path runs — training, evaluation, the
 * stepwise runner and cached decoding (a {@link KVCache.Layer} in the {@link Pass}) — so an idea added here, or hooked in,
 * holds everywhere.
 * <pre>
 *   post-norm (norm_first=false):  x = ln_1(x + drop(attn(x)));      x = ln_2(x + drop(mlp(x)))
 *   pre-norm  (norm_first=true):   x = x + drop(attn(ln_1(x)));      x = x + drop(mlp(ln_2(x)))
 *   attn(x) = c_proj(drop_attn(softmax(q·kᵀ/√hd + mask))·v)   q, k rotated by position when pos_encoding=rotary; mask: causal (+ ALiBi)
 *                                                  qk_norm: q, k RMS-normalised per head first (no weights)
 *   mlp(x)  = c_proj(drop(act(c_fc(x))))              gated activations: act(gate)·up, see Layers.ffHidden; relu2: relu(x)²
 * </pre>
 * Hook points ({@link Hooks}) sit at every interesting intermediate. Attention takes libtorch's fused kernel (flash
 * attention on CPU: the {@code [B,H,T,T]} scores never exist) whenever nothing needs the scores or the pattern — no hook on
 * them and no attention maps asked for — and the explicit route otherwise: the same function, the same gradients.
 * Under bf16 autocast (training with {@code precision=bf16}) each sub-layer is one kernel ({@link Kernels#attentionBf16},
 * {@link Kernels#mlpBf16}) so its intermediates stay bfloat16, as under torch.autocast; KernelsTest checks them against
 * these steps.
 * {@code layer_architecture} "torch-transformer" and "custom-transformer" both run this block; only the custom one may
 * hold separate q/k/v weights per head ({@code individual_head_params}).
 */
final class Block {
    private final int layer;
    private final BlockWeights w;
    private final int nHeads;
    private final int headDim;
    private final int dim;
    private final boolean normFirst;
    private final double eps;
    private final ModelParams.Norm norm;
    private final ModelParams.Activation activation;
    private final boolean qkNorm;
    // hook-point names, spelled once per block rather than once per forward pass
    private final String residPre, attnScores, attnPattern, attnOut, residMid, mlpOut, residPost;

    Block(ModelParams mp, int layer, BlockWeights weights) {
        this.layer = layer;
        this.w = weights;
        this.nHeads = mp.n_heads();
        this.headDim = mp.headDim();
        this.dim = mp.dim();
        this.normFirst = mp.norm_first();
        this.eps = mp.layer_norm_eps();
        this.norm = mp.norm();
        this.activation = mp.activation();
        this.qkNorm = mp.qk_norm();
        residPre = Hooks.residPre(layer);
        attnScores = Hooks.attnScores(layer);
        attnPattern = Hooks.attnPattern(layer);
        attnOut = Hooks.attnOut(layer);
        residMid = Hooks.residMid(layer);
        mlpOut = Hooks.mlpOut(layer);
        residPost = Hooks.residPost(layer);
    }

    NDArray forward(NDArray x, Pass pass) {
        x = pass.hook(residPre, layer, x);
        // Each sub-layer: the residual stream reads a (pre-norm: normalised) copy of itself and adds the result back.
        if (normFirst) {
            x = x.add(pass.drop(attention(ln1(x), pass)));
            x = pass.hook(residMid, layer, x);
            x = x.add(pass.drop(mlp(ln2(x), pass)));
        } else {
            x = ln1(x.add(pass.drop(attention(x, pass))));
            x = pass.hook(residMid, layer, x);
            x = ln2(x.add(pass.drop(mlp(x, pass))));
        }
        return pass.hook(residPost, layer, x);
    }

    private NDArray ln1(NDArray x) {
        return Layers.norm(x, w.ln1W(), w.ln1B(), norm, eps);
    }

    private NDArray ln2(NDArray x) {
        return Layers.norm(x, w.ln2W(), w.ln2B(), norm, eps);
    }

    /** Multi-head causal self-attention over the new positions, reading the cached keys and values when decoding. */
    private NDArray attention(NDArray x, Pass pass) {
        if (Ops.autocastBf16(x) && w.attnW() != null && pass.cache() == null && pass.causalOnly() && pass.attns() == null
                && !pass.hooked(attnScores) && !pass.hooked(attnPattern)) {
            // Mixed precision: the whole sub-layer in one kernel, so q, k, v and z stay bfloat16 from one matmul to the
            // next, as under torch.autocast (the steps below with a float32 round trip at every cast, forward and back)
            return pass.hook(attnOut, layer, Kernels.attentionBf16(x, w.attnW(), w.attnB(), w.attnProjW(), w.attnProjB(), nHeads,
                    qkNorm, eps, pass.ropeCos(), pass.ropeSin(), pass.training() ? pass.attnDropout() : 0));
        }
        Shape s = x.getShape();
        long b = s.get(0);
        long t = s.get(1);
        NDArray q, k, v; // [B,H,T,hd] each
        if (w.attnW() != null) {
            // One projection for q|k|v, then split (not select: split's backward is one concatenation, while each
            // select's backward fills a zero tensor the size of all three).
            NDList qkv = Ops.linear(x, w.attnW(), w.attnB()).split(3, 2); // 3 × [B,T,D]
            q = heads(qkv.get(0), b, t);
            k = heads(qkv.get(1), b, t);
            v = heads(qkv.get(2), b, t);
        } else {
            q = perHead(x, w.qW(), w.qB());
            k = perHead(x, w.kW(), w.kB());
            v = perHead(x, w.vW(), w.vB());
        }
        if (qkNorm) { // unit RMS per head: a score is at most √hd whatever the weights grow to (no runaway logits)
            q = Ops.rmsNorm(q, null, eps);
            k = Ops.rmsNorm(k, null, eps);
        }
        // Rotary positions turn q and k by an angle proportional to their absolute position (identity otherwise).
        q = pass.rope(q);
        k = pass.rope(k);
        if (pass.cache() != null) { // decoding: the keys and values of every earlier position join the new ones
            KVCache.Layer c = pass.cache().get(layer);
            k = c.appendKeys(k);   // [B,H,P+T,hd]
            v = c.appendValues(v);
        }
        NDArray z; // [B,H,T,hd]
        if (Kernels.available() && pass.attns() == null && !pass.hooked(attnScores) && !pass.hooked(attnPattern)) {
            // Fused: with the plain causal mask the kernel applies causality itself and skips the blocks above the diagonal.
            z = Kernels.attention(q, k, v, pass.causalOnly() ? null : pass.mask(), pass.training() ? pass.attnDropout() : 0);
        } else {
            // Scale q ([B,H,T,hd]) rather than the scores ([B,H,T,T]): T/hd times less work.
            NDArray scores = Ops.matmul(Ops.mul(q, 1.0 / Math.sqrt(headDim)), k.swapAxes(2, 3)); // [B,H,T,P+T]
            // Causal: a position may only look at positions ≤ itself (-inf above the diagonal; with ALiBi also each
            // head's penalty −slope·distance). In place when no hook may hold the scores: matmul's backward needs its
            // inputs, not its output.
            scores = pass.hooked(attnScores) ? pass.hook(attnScores, layer, scores).add(pass.mask()) : scores.addi(pass.mask());
            NDArray pattern = pass.hook(attnPattern, layer, Ops.softmax(scores, -1)); // rows sum to 1
            if (pass.attns() != null) pass.attns().add(pattern);
            z = Ops.matmul(pass.dropAttn(pattern), v); // each position: the pattern-weighted average of the values
        }
        z = z.transpose(0, 2, 1, 3) // [B,T,H,hd]
                .reshape(b, t, dim); // [B,T,D], heads side by side
        return pass.hook(attnOut, layer, Ops.linear(z, w.attnProjW(), w.attnProjB()));
    }

    /** [B,T,D] → [B,H,T,hd]: head h owns features h·hd … (h+1)·hd − 1. */
    private NDArray heads(NDArray y, long b, long t) {
        return y.reshape(b, t, nHeads, headDim).transpose(0, 2, 1, 3);
    }

    /** Individual head parameters: one small projection per head, stacked: H × [B,T,hd] → [B,H,T,hd]. */
    private static NDArray perHead(NDArray x, NDArray[] weights, NDArray[] biases) {
        NDList heads = new NDList(weights.length);
        for (int h = 0; h < weights.length; h++) heads.add(Ops.linear(x, weights[h], biases[h]));
        return NDArrays.stack(heads, 1);
    }

    /** The position-wise feed-forward network: expand, non-linearity, project back. */
    private NDArray mlp(NDArray x, Pass pass) {
        NDArray out; // [B,T,D]
        if (Ops.autocastBf16(x)) { // mixed precision: one kernel, the [B,T,ff] hidden layer stays bfloat16 between c_fc and c_proj
            out = Kernels.mlpBf16(x, w.fcW(), w.fcB(), w.mlpProjW(), w.mlpProjB(), activation.spelling(),
                    pass.training() ? pass.residDropout() : 0);
        } else {
            NDArray hidden = Layers.ffHidden(x, w.fcW(), w.fcB(), activation); // [B,T,ff]
            out = Ops.linear(pass.drop(hidden), w.mlpProjW(), w.mlpProjB());
        }
        return pass.hook(mlpOut, layer, out);
    }

    /**
     * The state of one forward pass, shared by every block: its queries are positions {@code [from, to)}, its keys
     * {@code [0, to)} (from > 0 only when decoding with a cache). Built by {@link LM#pass}.
     *
     * @param ids        the input ids of this pass {@code [B,T]} (for hooks that depend on them)
     * @param mask       additive causal mask {@code [T, to]} (0 where key ≤ query, -inf above), in the step scope;
     *                   with ALiBi {@code [H,T,to]}, the mask plus each head's linear distance penalty
     * @param attnDropout  dropout probability of the attention pattern (applied only when {@code training})
     * @param residDropout dropout probability of each branch's output and the MLP hidden layer (only when {@code training})
     * @param hooks      interventions at hook points, or null
     * @param attns      when non-null, each block appends its {@code [B,H,T,to]} attention pattern
     * @param ropeCos    rotary positions: {@code [T,hd]} cos of the query positions, or null (no rotary)
     * @param ropeSin    likewise sin
     * @param causalOnly {@code mask} is exactly the square causal mask (no ALiBi, no cache), so a fused attention
     *                   kernel may apply causality itself instead of reading the mask
     * @param cache      per layer, the keys and values of earlier positions (decoding), or null
     */
    record Pass(NDArray ids, NDArray mask, double attnDropout, double residDropout, boolean training, Hooks hooks, Object attnRequests,
                List<NDArray> attns, NDArray ropeCos, NDArray ropeSin, boolean causalOnly, List<KVCache.Layer> cache) {

        /** Rotates q or k {@code [B,H,T,hd]} by its positions when the model uses rotary positions. */
        NDArray rope(NDArray qk) {
            return ropeCos == null ? qk : Ops.rope(qk, ropeCos, ropeSin);
        }

        /** Whether some hook runs at {@code name}. */
        boolean hooked(String name) {
            return hooks != null && hooks.has(name);
        }

        /** Runs the hooks at {@code name} (if any) on {@code value}. */
        NDArray hook(String name, int layer, NDArray value) {
            if (!hooked(name)) return value;
            return hooks.run(name, value, new HookContext(layer, ids, attnRequests, training));
        }

        NDArray drop(NDArray x) {
            return Ops.dropout(x, residDropout, training);
        }

        NDArray dropAttn(NDArray pattern) {
            return Ops.dropout(pattern, attnDropout, training);
        }
    }
}
