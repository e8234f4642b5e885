package org.tinker.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.tinker.config.ModelParams;

/**
 * A key/value cache for incremental decoding: {@link #forward} takes only the NEW tokens of each row and
 * attends to the keys and values of every earlier token, which are kept here instead of being recomputed.
 * Feeding a prompt of P tokens and then one token at a time gives the same logits (up to float rounding) as
 * {@link LM#forward} on the whole sequence, for both layer architectures (it reads the same weights through
 * {@link BlockWeights}; the fused q|k|v layout and individual heads both work) and every pos_encoding.
 *
 * <pre>
 *   per layer l:  K_l, V_l  [B, H, P, hd]      P = {@link #length()} tokens seen so far
 *   new chunk  :  x [B, Tn, D] at positions P … P+Tn−1
 *                 q, k, v = proj(x);  K_l ← [K_l ; k],  V_l ← [V_l ; v]
 *                 attn   = softmax(q·K_lᵀ/√hd + mask[P:P+Tn, 0:P+Tn]) · V_l
 * </pre>
 *
 * Inference only: no dropout and no hooks. The cache owns a sub-manager (closed by {@link #close()}); every
 * step's intermediates live in a scope closed at the end of the step, so memory stays at the size of the
 * cache itself. Sequences cannot grow past {@code max_seq_len} (positions beyond it do not exist).
 */
public final class KVCache implements AutoCloseable {
    private final LM lm;
    private final ModelParams mp;
    private final NDManager manager;
    private final List<BlockWeights> weights = new ArrayList<>();
    private final NDArray wte;
    private final NDArray wpe;
    private final NDArray head;
    private final NDArray lnFW;
    private final NDArray lnFB;
    private final NDArray[] keys;
    private final NDArray[] values;
    private int length;
    private long batch = -1;
    /**
     * The fused path: all layers of a step in one {@link Kernels#decode} call, keys and values written in place into
     * buffers preallocated for max_seq_len (no concatenation per token). Taken whenever the layout allows it (the fused
     * q|k|v projection) and the kernels loaded; otherwise each layer runs op by op below.
     */
    private final boolean fused;
    private final List<NDArray> flatWeights = new ArrayList<>();
    private Kernels.Decoder decoder;

    public KVCache(LM lm) {
        if (!lm.hasBlocks())
            throw new IllegalArgumentException("layer_architecture=" + lm.params().layer_architecture()
                    + " has no KV cache (Generation recomputes the full context instead)");
        this.lm = lm;
        this.mp = lm.params();
        this.manager = lm.manager().newSubManager();
        this.manager.setName("KVCache");
        Map<String, NDArray> p = lm.effectiveParameters(manager); // with LoRA: base + adapters, once for the whole cache
        for (int l = 0; l < mp.n_layers(); l++)
            weights.add(BlockWeights.of(p, l, mp.n_heads(), mp.individual_head_params()));
        wte = p.get(LM.WTE);
        wpe = p.get(LM.WPE);
        head = mp.tie_embed_deembed() ? wte : p.get(LM.LM_HEAD);
        lnFW = p.get(LM.LN_F_W);
        lnFB = p.get(LM.LN_F_B);
        keys = new NDArray[mp.n_layers()];
        values = new NDArray[mp.n_layers()];
        fused = Kernels.available() && weights.stream().allMatch(w -> w.attnW() != null)
                && Kernels.DECODE_ACTIVATIONS.contains(mp.activation()) && (lnFW == null) == !mp.final_norm();
        if (fused)
            for (BlockWeights w : weights)
                for (NDArray a : new NDArray[] {w.ln1W(), w.ln1B() == null ? w.ln1W() : w.ln1B(), w.attnW(), w.attnB(),
                        w.attnProjW(), w.attnProjB(), w.ln2W(), w.ln2B() == null ? w.ln2W() : w.ln2B(), w.fcW(), w.fcB(),
                        w.mlpProjW(), w.mlpProjB()})
                    flatWeights.add(a);
    }

    /** Tokens cached so far per row. */
    public int length() {
        return length;
    }

    /** Rows in the cache (-1 before the first call). */
    public long batchSize() {
        return batch;
    }

    /**
     * Logits {@code [B, Tn, V]} for the new tokens {@code ids [B, Tn]} (or {@code [Tn]}), in {@code ids}'s manager.
     * The first call fixes B (until {@link #reorder}).
     */
    public NDArray forward(NDArray ids) {
        if (ids.getShape().dimension() == 1) ids = ids.expandDims(0);
        if (ids.getShape().dimension() != 2) throw new IllegalArgumentException("ids must be [B,Tn] or [Tn], got " + ids.getShape());
        long b = ids.getShape().get(0);
        int tn = Math.toIntExact(ids.getShape().get(1));
        if (tn < 1) throw new IllegalArgumentException("forward needs at least one new token");
        if (batch >= 0 && b != batch) throw new IllegalArgumentException("the cache holds " + batch + " rows, got " + b);
        if (length + tn > mp.max_seq_len())
            throw new IllegalArgumentException("cache of " + length + " tokens + " + tn + " new exceeds max_seq_len=" + mp.max_seq_len());
        NDManager callerScope = ids.getManager();
        if (fused) return fusedForward(ids, b, tn);
        NDArray[] newK = new NDArray[keys.length];
        NDArray[] newV = new NDArray[values.length];
        NDArray logits;
        try (NDManager step = manager.newSubManager()) {
            NDArray x = Ops.embedding(step.create(ids.toType(DataType.INT64, false).toLongArray(), new Shape(b, tn)), wte);
            switch (mp.pos_encoding()) {
                case "learned" -> x = x.add(rows(wpe, length, length + tn, wpe.getShape().get(1), x));
                case "sin" -> x = x.add(rows(lm.sinTable(), length, length + tn, mp.dim(), x));
                default -> { }
            }
            // positions length … length+tn−1: causal mask rows (+ ALiBi) and rotary angles, shared by every layer
            Block.Pass pos = lm.pass(length, length + tn, x, 0, false, null, null, null);
            for (int l = 0; l < weights.size(); l++) x = block(l, x, pos, newK, newV);
            if (mp.final_norm()) x = Ops.norm(x, lnFW, lnFB, mp.norm(), mp.layer_norm_eps());
            logits = Ops.linear(x, head, null);
            logits.attach(callerScope);
            for (int l = 0; l < keys.length; l++) {
                newK[l].attach(manager);
                newV[l].attach(manager);
            }
        }
        for (int l = 0; l < keys.length; l++) {
            if (keys[l] != null) {
                keys[l].close();
                values[l].close();
            }
            keys[l] = newK[l];
            values[l] = newV[l];
        }
        length += tn;
        batch = b;
        return logits;
    }

    private NDArray fusedForward(NDArray ids, long b, int tn) {
        if (batch < 0) { // first call: buffers for every position this cache can ever hold, and the bound kernel
            for (int l = 0; l < keys.length; l++) {
                Shape full = new Shape(b, mp.n_heads(), mp.max_seq_len(), mp.headDim());
                keys[l] = manager.zeros(full, wte.getDataType(), wte.getDevice());
                values[l] = manager.zeros(full, wte.getDataType(), wte.getDevice());
            }
            bindDecoder();
        }
        NDArray x = ids.getDataType() == DataType.INT64 ? ids : ids.toType(DataType.INT64, false); // in the caller's scope
        NDArray mask = "alibi".equals(mp.pos_encoding()) ? lm.pass(length, length + tn, x, 0, false, null, null, null).mask() : null;
        NDArray logits = decoder.step(x, length, mask); // lands in x's manager: the caller's
        length += tn;
        batch = b;
        return logits;
    }

    private void bindDecoder() {
        if (decoder != null) decoder.close();
        NDArray positions = switch (mp.pos_encoding()) {
            case "learned" -> wpe;
            case "sin" -> lm.sinTable();
            default -> null;
        };
        NDArray[] rope = "rotary".equals(mp.pos_encoding()) ? lm.ropeTables() : new NDArray[2];
        decoder = new Kernels.Decoder(wte, positions, flatWeights, List.of(keys), List.of(values), !"alibi".equals(mp.pos_encoding()),
                rope[0], rope[1], mp.n_heads(), mp.norm_first(), "rmsnorm".equals(mp.norm()), mp.activation(),
                mp.layer_norm_eps(), mp.final_norm(), lnFW, lnFB, head);
    }

    /** Keeps row {@code rows[i]} of the cache as the new row i (beam search: beams follow their parents). */
    public void reorder(int[] rows) {
        if (batch < 0) throw new IllegalStateException("nothing cached yet");
        for (int r : rows) if (r < 0 || r >= batch) throw new IllegalArgumentException("row " + r + " not in 0.." + (batch - 1));
        try (NDManager step = manager.newSubManager()) {
            NDArray idx = step.create(java.util.Arrays.stream(rows).asLongStream().toArray());
            for (int l = 0; l < keys.length; l++) {
                NDArray k = keys[l].get(idx), v = values[l].get(idx);
                k.attach(manager);
                v.attach(manager);
                keys[l].close();
                values[l].close();
                keys[l] = k;
                values[l] = v;
            }
        }
        batch = rows.length;
        if (decoder != null) bindDecoder(); // the decoder holds the cache arrays it writes into
    }

    private NDArray block(int l, NDArray x, Block.Pass pos, NDArray[] newK, NDArray[] newV) {
        BlockWeights w = weights.get(l);
        double eps = mp.layer_norm_eps();
        String norm = mp.norm();
        if (mp.norm_first()) {
            x = x.add(attention(l, w, Ops.norm(x, w.ln1W(), w.ln1B(), norm, eps), pos, newK, newV));
            return x.add(mlp(w, Ops.norm(x, w.ln2W(), w.ln2B(), norm, eps)));
        }
        x = Ops.norm(x.add(attention(l, w, x, pos, newK, newV)), w.ln1W(), w.ln1B(), norm, eps);
        return Ops.norm(x.add(mlp(w, x)), w.ln2W(), w.ln2B(), norm, eps);
    }

    private NDArray attention(int l, BlockWeights w, NDArray x, Block.Pass pos, NDArray[] newK, NDArray[] newV) {
        long b = x.getShape().get(0), t = x.getShape().get(1);
        int h = mp.n_heads(), hd = mp.headDim();
        NDArray q, k, v;
        if (w.attnW() != null) {
            NDArray qkv = Ops.linear(x, w.attnW(), w.attnB()).reshape(b, t, 3, h, hd).transpose(2, 0, 3, 1, 4);
            q = qkv.get(0);
            k = qkv.get(1);
            v = qkv.get(2);
        } else {
            q = perHead(x, w.qW(), w.qB());
            k = perHead(x, w.kW(), w.kB());
            v = perHead(x, w.vW(), w.vB());
        }
        // Rotary: the new queries and keys turn by their own positions; cached keys were turned when they were new.
        q = pos.rope(q);
        k = pos.rope(k);
        if (keys[l] != null) {
            k = keys[l].concat(k, 2);
            v = values[l].concat(v, 2);
        } else {
            k = k.duplicate(); // own storage, not a view of the fused projection
            v = v.duplicate();
        }
        newK[l] = k;
        newV[l] = v;
        NDArray scores = Ops.matmul(q.mul(1.0 / Math.sqrt(hd)), k.swapAxes(2, 3)); // [B,H,Tn,P+Tn]
        scores = scores.add(pos.mask()); // rows P … P+Tn−1 of the causal mask (+ ALiBi penalties), all P+Tn keys
        NDArray z = Ops.matmul(Ops.softmax(scores, -1), v).transpose(0, 2, 1, 3).reshape(b, t, mp.dim());
        return Ops.linear(z, w.attnProjW(), w.attnProjB());
    }

    private static NDArray perHead(NDArray x, NDArray[] ws, NDArray[] bs) {
        NDList heads = new NDList(ws.length);
        for (int i = 0; i < ws.length; i++) heads.add(Ops.linear(x, ws[i], bs[i]));
        return NDArrays.stack(heads, 1);
    }

    private NDArray mlp(BlockWeights w, NDArray x) {
        return Ops.linear(Ops.ffHidden(x, w.fcW(), w.fcB(), mp.activation()), w.mlpProjW(), w.mlpProjB());
    }

    /** Rows [from, to) and columns [0, cols) of a constant, as a view in {@code scope}'s manager. */
    private static NDArray rows(NDArray table, long from, long to, long cols, NDArray scope) {
        return JniUtils.index(Ops.pt(table), new long[] {from, 0}, new long[] {to, cols}, new long[] {1, 1},
                Ops.pt(scope).getManager());
    }

    /** Frees the cached keys and values. */
    @Override
    public void close() {
        if (decoder != null) decoder.close();
        manager.close();
    }
}
