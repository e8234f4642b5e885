package org.tinker.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import org.tinker.config.ModelParams;

/**
 * The fast path ({@code layer_architecture = "torch-transformer"}): the same function as torch's
 * {@code nn.TransformerEncoderLayer} with a causal mask, written with as few JNI calls as DJL allows —
 * one fused q|k|v projection, one batched matmul for all heads' scores and one for their outputs,
 * fused LayerNorm/linear kernels, libtorch's fused scaled-dot-product attention ({@link Kernels}) whenever the
 * attention pattern itself is not asked for, and no Java loop over heads or tokens.
 *
 * <p>Hooks are not offered here (use {@link CustomTransformerBlock} for that); attention patterns are still
 * recorded when asked for, since the softmax is computed explicitly anyway.
 */
final class TorchTransformerBlock implements Block {
    private final BlockWeights w;
    private final int nHeads;
    private final int headDim;
    private final int dim;
    private final boolean normFirst;
    private final double eps;
    private final String norm;
    private final String activation;
    private final double scale;

    TorchTransformerBlock(ModelParams mp, BlockWeights weights) {
        if (weights.attnW() == null)
            throw new IllegalArgumentException("torch-transformer needs the fused c_attn layout (individual_head_params=False)");
        this.w = weights;
        this.nHeads = mp.n_heads();
        this.headDim = mp.headDim();
        this.dim = mp.dim();
        this.normFirst = mp.norm_first();
        this.eps = mp.layer_norm_eps();
        this.norm = mp.norm();
        this.activation = mp.activation();
        this.scale = 1.0 / Math.sqrt(headDim);
    }

    @Override
    public NDArray forward(NDArray x, Pass pass) {
        if (normFirst) {
            x = x.add(pass.drop(attention(Ops.norm(x, w.ln1W(), w.ln1B(), norm, eps), pass)));
            return x.add(pass.drop(mlp(Ops.norm(x, w.ln2W(), w.ln2B(), norm, eps), pass)));
        }
        x = Ops.norm(x.add(pass.drop(attention(x, pass))), w.ln1W(), w.ln1B(), norm, eps);
        return Ops.norm(x.add(pass.drop(mlp(x, pass))), w.ln2W(), w.ln2B(), norm, eps);
    }

    private NDArray attention(NDArray x, Pass pass) {
        Shape s = x.getShape();
        long b = s.get(0);
        long t = s.get(1);
        // One projection for q|k|v, then split (not select: split's backward is one concatenation, while each
        // select's backward fills a zero tensor the size of all three).
        NDList qkv = Ops.linear(x, w.attnW(), w.attnB()).split(3, 2); // 3 × [B,T,D]
        NDArray q = pass.rope(heads(qkv.get(0), b, t));               // [B,H,T,hd], rotated when pos_encoding=rotary
        NDArray k = pass.rope(heads(qkv.get(1), b, t));
        NDArray v = heads(qkv.get(2), b, t);
        NDArray z;                                                    // [B,H,T,hd]
        if (pass.attns() == null && Kernels.available()) {
            // The fused kernel (flash attention on CPU): the [B,H,T,T] scores never exist in memory, and with the plain
            // causal mask it skips the blocks above the diagonal. Same function, same gradients as the explicit branch.
            z = Kernels.attention(q, k, v, pass.causalOnly() ? null : pass.mask(), pass.training() ? pass.dropout() : 0);
        } else {
            // Scale q ([B,H,T,hd]) rather than the scores ([B,H,T,T]): T/hd times less work. The mask is added in
            // place — safe for autograd, since matmul's backward needs its inputs, not its output.
            NDArray scores = Ops.matmul(q.mul(scale), k.swapAxes(2, 3)) // [B,H,T,T]
                    .addi(pass.mask());                                 // -inf above the diagonal: no peeking ahead (+ ALiBi)
            NDArray pattern = Ops.softmax(scores, -1);
            if (pass.attns() != null) pass.attns().add(pattern);
            z = Ops.matmul(pass.drop(pattern), v);
        }
        z = z.transpose(0, 2, 1, 3)                                   // [B,T,H,hd]
                .reshape(b, t, dim);                                  // [B,T,D], heads side by side
        return Ops.linear(z, w.attnProjW(), w.attnProjB());
    }

    /** [B,T,D] → [B,H,T,hd]: head h owns features h·hd … (h+1)·hd − 1. */
    private NDArray heads(NDArray y, long b, long t) {
        return y.reshape(b, t, nHeads, headDim).transpose(0, 2, 1, 3);
    }

    private NDArray mlp(NDArray x, Pass pass) {
        NDArray hidden = Ops.ffHidden(x, w.fcW(), w.fcB(), activation); // [B,T,ff]
        return Ops.linear(pass.drop(hidden), w.mlpProjW(), w.mlpProjB());            // [B,T,D]
    }
}
