package org.tinker.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.tinker.config.ModelParams.PosEncoding;
import org.tinker.config.ModelParams;

/**
 * A key/value cache for incremental decoding: {@link #forward} takes only the NEW tokens of each row and attends to the
 * keys and values of every earlier token, which are kept here instead of being recomputed. It runs the model's own
 * forward pass ({@link LM#stack}: the same {@link Block}s, recipes and hooks) with one {@link Layer} per block in the
 * pass, so feeding a prompt and then one token at a time gives the full forward's logits (up to float rounding) for every
 * variant the block has, now and later.
 * <pre>
 *   per layer l:  K_l, V_l  [B, H, P, hd]      P = {@link #length()} tokens seen so far
 *   new chunk  :  x [B, Tn, D] at positions P … P+Tn−1
 *                 q, k, v = proj(x);  K_l ← [K_l ; k],  V_l ← [V_l ; v]
 *                 attn   = softmax(q·K_lᵀ/√hd + mask[P:P+Tn, 0:P+Tn]) · V_l
 * </pre>
 * When {@link FastDecoder#supports} the model (no recipes, settings the kernel declares), each step instead runs as
 * one TorchScript call with keys and values written in place into buffers preallocated for max_seq_len: a fast path of
 * the same function, checked against the block path for every variant by {@code GenerationTest}.
 *
 * <p>Inference only: no dropout. A model whose recipes are not causal ({@link LM#cacheable()}) has no cache. The cache owns
 * a sub-manager (closed by {@link #close()}); every step's intermediates live in a scope closed at the end of the step,
 * so memory stays at the size of the cache itself. Sequences cannot grow past {@code max_seq_len}.
 */
public final class KVCache implements AutoCloseable {
    private final LM lm;
    private final ModelParams mp;
    private final NDManager manager;
    private final Map<String, NDArray> weights;
    private final List<Block> blocks;
    private final List<Layer> layers = new ArrayList<>();
    private int length;
    private long batch = -1;
    /** The fused decoding step, or null when the blocks run op by op. */
    private final boolean fused;
    private FastDecoder decoder;

    /** One layer's keys and values {@code [B,H,P,hd]}, in the cache's manager; the block appends a step's to them. */
    static final class Layer {
        private NDArray keys;
        private NDArray values;
        private NDArray newKeys;
        private NDArray newValues;

        /** The cached keys followed by {@code k} (this step's, rotated when rotary), {@code [B,H,P+T,hd]}. */
        NDArray appendKeys(NDArray k) {
            newKeys = keys == null ? k.duplicate() : keys.concat(k, 2); // duplicate: own storage, not a view of q|k|v
            return newKeys;
        }

        NDArray appendValues(NDArray v) {
            newValues = values == null ? v.duplicate() : values.concat(v, 2);
            return newValues;
        }

        /** Keeps this step's keys and values (in {@code manager}) in place of the old ones. */
        void commit(NDManager manager) {
            newKeys.attach(manager);
            newValues.attach(manager);
            replace(newKeys, newValues);
            newKeys = newValues = null;
        }

        void replace(NDArray k, NDArray v) {
            if (keys != null) {
                keys.close();
                values.close();
            }
            keys = k;
            values = v;
        }
    }

    public KVCache(LM lm) {
        this(lm, true);
    }

    /** @param fastPath take the fused decoding kernel when it supports the model (false: always the blocks) */
    KVCache(LM lm, boolean fastPath) {
        if (!lm.hasBlocks())
            throw new IllegalArgumentException("layer_architecture=" + lm.params().layer_architecture()
                    + " has no KV cache (generation recomputes the full context instead)");
        if (!lm.cacheable())
            throw new IllegalArgumentException("recipes \"" + lm.params().recipes() + "\" look at the whole input, so a KV cache"
                    + " would not compute what the model does (generation recomputes the full context instead)");
        this.lm = lm;
        this.mp = lm.params();
        this.manager = lm.manager().newSubManager();
        this.manager.setName("KVCache");
        this.weights = lm.effectiveParameters(manager); // with LoRA: base + adapters, once for the whole cache
        this.fused = fastPath && FastDecoder.supports(lm);
        this.blocks = fused ? List.of() : lm.blocksOf(weights); // the fused step reads the weights itself
        for (int l = 0; l < mp.n_layers(); l++) layers.add(new Layer());
    }

    /** Tokens cached so far per row. */
    public int length() {
        return length;
    }

    /** Rows in the cache (-1 before the first call). */
    public long batchSize() {
        return batch;
    }

    /** Whether the steps run as one fused kernel call ({@link FastDecoder}) rather than block by block. */
    public boolean fused() {
        return fused;
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
        NDArray logits = fused ? fusedStep(ids, b) : blockStep(ids, b, tn);
        length += tn;
        batch = b;
        return logits;
    }

    /** The model's own forward over the new positions, each block reading and extending its {@link Layer}. */
    private NDArray blockStep(NDArray ids, long b, int tn) {
        NDManager callerScope = ids.getManager();
        try (NDManager step = manager.newSubManager()) {
            NDArray x = step.create(ids.toType(DataType.INT64, false).toLongArray(), new Shape(b, tn));
            LM.Trunk tr = lm.stack(x, ForwardOptions.DEFAULT, weights, blocks, length, layers);
            NDArray logits = lm.unembed(tr.hidden(), tr.head()); // [B,Tn,V]
            logits.attach(callerScope);
            for (Layer l : layers) l.commit(manager);
            return logits;
        }
    }

    private NDArray fusedStep(NDArray ids, long b) {
        if (batch < 0) { // first call: buffers for every position this cache can ever hold, and the bound kernel
            NDArray wte = weights.get(LM.WTE);
            Shape full = new Shape(b, mp.n_heads(), mp.max_seq_len(), mp.headDim());
            for (Layer l : layers)
                l.replace(manager.zeros(full, wte.getDataType(), wte.getDevice()), manager.zeros(full, wte.getDataType(), wte.getDevice()));
            bindDecoder();
        }
        NDArray x = ids.getDataType() == DataType.INT64 ? ids : ids.toType(DataType.INT64, false); // in the caller's scope
        NDArray mask = mp.pos_encoding() == PosEncoding.ALIBI
                ? lm.pass(length, length + x.getShape().get(1), x, x, 0, 0, false, null, null, null, null).mask() : null;
        return decoder.step(x, length, mask); // lands in x's manager: the caller's
    }

    private void bindDecoder() {
        if (decoder != null) decoder.close();
        decoder = new FastDecoder(lm, weights, layers.stream().map(l -> l.keys).toList(), layers.stream().map(l -> l.values).toList());
    }

    /** Keeps row {@code rows[i]} of the cache as the new row i (beam search: beams follow their parents). */
    public void reorder(int[] rows) {
        if (batch < 0) throw new IllegalStateException("nothing cached yet");
        for (int r : rows) if (r < 0 || r >= batch) throw new IllegalArgumentException("row " + r + " not in 0.." + (batch - 1));
        try (NDManager step = manager.newSubManager()) {
            NDArray idx = step.create(Arrays.stream(rows).asLongStream().toArray());
            for (Layer l : layers) {
                NDArray k = l.keys.get(idx), v = l.values.get(idx);
                k.attach(manager);
                v.attach(manager);
                l.replace(k, v);
            }
        }
        batch = rows.length;
        if (decoder != null) bindDecoder(); // the decoder holds the cache arrays it writes into
    }

    /** Frees the cached keys and values. */
    @Override
    public void close() {
        if (decoder != null) decoder.close();
        manager.close();
    }
}
