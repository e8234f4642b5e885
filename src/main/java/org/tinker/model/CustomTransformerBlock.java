package org.tinker.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import org.tinker.config.ModelParams;

/**
 * The explicit path ({@code layer_architecture = "custom-transformer"}): the same function as
 * {@link TorchTransformerBlock}, spelled out step by step so it is easy to read and to change, with a
 * named hook point (see {@link Hooks}) at every interesting intermediate. It also supports separate
 * q/k/v parameters per head ({@code individual_head_params}), so single heads can be frozen or edited.
 */
final class CustomTransformerBlock implements Block {
    private final int layer;
    private final boolean normFirst;
    private final double eps;
    private final String norm;
    private final BlockWeights w;
    private final CausalSelfAttention attn;
    private final MLP mlp;

    CustomTransformerBlock(ModelParams mp, int layer, BlockWeights weights) {
        this.layer = layer;
        this.normFirst = mp.norm_first();
        this.eps = mp.layer_norm_eps();
        this.norm = mp.norm();
        this.w = weights;
        this.attn = new CausalSelfAttention(mp, layer, weights);
        this.mlp = new MLP(mp, layer, weights);
    }

    @Override
    public NDArray forward(NDArray x, Pass pass) {
        x = pass.hook(Hooks.residPre(layer), layer, x);

        // Attention sub-layer: the residual stream reads a (normalised) copy of itself and adds the result back.
        NDArray attnOut;
        if (normFirst) {
            attnOut = attn.forward(ln1(x), pass);
            x = x.add(pass.drop(attnOut));
        } else {
            attnOut = attn.forward(x, pass);
            x = ln1(x.add(pass.drop(attnOut)));
        }
        x = pass.hook(Hooks.residMid(layer), layer, x);

        // MLP sub-layer, same pattern.
        NDArray mlpOut;
        if (normFirst) {
            mlpOut = mlp.forward(ln2(x), pass);
            x = x.add(pass.drop(mlpOut));
        } else {
            mlpOut = mlp.forward(x, pass);
            x = ln2(x.add(pass.drop(mlpOut)));
        }
        return pass.hook(Hooks.residPost(layer), layer, x);
    }

    private NDArray ln1(NDArray x) {
        return Ops.norm(x, w.ln1W(), w.ln1B(), norm, eps);
    }

    private NDArray ln2(NDArray x) {
        return Ops.norm(x, w.ln2W(), w.ln2B(), norm, eps);
    }

    /** Multi-head causal self-attention (Vaswani et al. 2017, §3.2), one head at a time in spirit. */
    static final class CausalSelfAttention {
        private final int layer;
        private final int nHeads;
        private final int headDim;
        private final int dim;
        private final BlockWeights w;

        CausalSelfAttention(ModelParams mp, int layer, BlockWeights weights) {
            this.layer = layer;
            this.nHeads = mp.n_heads();
            this.headDim = mp.headDim();
            this.dim = mp.dim();
            this.w = weights;
        }

        NDArray forward(NDArray x, Pass pass) {
            Shape s = x.getShape();
            long b = s.get(0);
            long t = s.get(1);

            // Queries, keys and values for every head: [B,H,T,hd] each.
            NDArray q;
            NDArray k;
            NDArray v;
            if (w.attnW() == null) {
                q = perHead(x, w.qW(), w.qB());
                k = perHead(x, w.kW(), w.kB());
                v = perHead(x, w.vW(), w.vB());
            } else {
                NDList qkv = Ops.linear(x, w.attnW(), w.attnB()).split(3, 2); // 3 × [B,T,D]
                q = splitHeads(qkv.get(0), b, t);
                k = splitHeads(qkv.get(1), b, t);
                v = splitHeads(qkv.get(2), b, t);
            }

            // Rotary positions turn q and k by an angle proportional to their position (identity otherwise).
            q = pass.rope(q);
            k = pass.rope(k);

            // How much each query position wants to read from each key position.
            NDArray scores = Ops.matmul(q.mul(1.0 / Math.sqrt(headDim)), k.swapAxes(2, 3)); // [B,H,T,T], q·k/√hd
            scores = pass.hook(Hooks.attnScores(layer), layer, scores);

            // Causal: position t may only look at positions ≤ t, so later keys get -inf before the softmax
            // (with ALiBi the mask also holds each head's penalty −slope·(t − key position)).
            NDArray pattern = Ops.softmax(scores.add(pass.mask()), -1); // [B,H,T,T], rows sum to 1
            pattern = pass.hook(Hooks.attnPattern(layer), layer, pattern);
            if (pass.attns() != null) pass.attns().add(pattern);

            // Each position's output is the pattern-weighted average of the values; heads are concatenated.
            NDArray z = Ops.matmul(pass.drop(pattern), v) // [B,H,T,hd]
                    .transpose(0, 2, 1, 3)                 // [B,T,H,hd]
                    .reshape(b, t, dim);                   // [B,T,D]
            NDArray out = Ops.linear(z, w.attnProjW(), w.attnProjB());
            return pass.hook(Hooks.attnOut(layer), layer, out);
        }

        /** [B,T,D] → [B,H,T,hd]: head h owns features h·hd … (h+1)·hd − 1. */
        private NDArray splitHeads(NDArray y, long b, long t) {
            return y.reshape(b, t, nHeads, headDim).transpose(0, 2, 1, 3);
        }

        /** One small projection per head, stacked: H × [B,T,hd] → [B,H,T,hd]. */
        private static NDArray perHead(NDArray x, NDArray[] weights, NDArray[] biases) {
            NDList heads = new NDList(weights.length);
            for (int h = 0; h < weights.length; h++) heads.add(Ops.linear(x, weights[h], biases[h]));
            return NDArrays.stack(heads, 1);
        }
    }

    /** The position-wise feed-forward network: expand, non-linearity, project back. */
    static final class MLP {
        private final int layer;
        private final String activation;
        private final BlockWeights w;

        MLP(ModelParams mp, int layer, BlockWeights weights) {
            this.layer = layer;
            this.activation = mp.activation();
            this.w = weights;
        }

        NDArray forward(NDArray x, Pass pass) {
            NDArray hidden = Ops.ffHidden(x, w.fcW(), w.fcB(), activation); // [B,T,ff] (gated: act(gate)·up)
            NDArray out = Ops.linear(pass.drop(hidden), w.mlpProjW(), w.mlpProjB());     // [B,T,D]
            return pass.hook(Hooks.mlpOut(layer), layer, out);
        }
    }
}
