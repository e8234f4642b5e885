package org.tinker.model;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.jni.IValue;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.tinker.config.ModelParams.Norm;
import org.tinker.config.ModelParams.PosEncoding;
import org.tinker.config.ModelParams;
import org.tinker.config.Params;
import org.tinker.engine.Kernels;
import org.tinker.engine.Ops;

/**
 * The fused kernels' TorchScript {@code decode} method ({@link Kernels#decode}), bound to one cache: each
 * {@link #step} runs one incremental-decoding step of every layer in a single call — a fast path of {@link Block} with a {@link KVCache.Layer}, for the settings
 * {@link #supports} declares (the cache runs the blocks otherwise). Ids {@code [B,T]} at positions {@code pos …} are
 * embedded (plus rows of the learned or sinusoid table; rotary tables are {@code [max_seq_len, hd]}), their q, k, v
 * are written into the preallocated caches at {@code pos} (in place), attention reads positions {@code [0, pos+T)}
 * under {@code mask} (null = plain causal, built here), and the logits {@code [B,T,V]} come back in {@code ids}'s
 * manager. One call instead of ~20 JNI calls per layer: with one intra-op thread (see {@link Generation}) it took
 * bench-char decoding from 340 to about 1,000 tokens/s. The arguments that do not change between steps (weights,
 * caches, flags) are built once; each step passes only the new ids, their position and (ALiBi) the mask.
 */
final class FastDecoder implements AutoCloseable {
    /** The values of each setting this kernel implements; a model with any other value runs the blocks. */
    static final Map<String, List<?>> SUPPORTED = Map.of(
            "layer_architecture", List.of("torch-transformer", "custom-transformer"),
            "individual_head_params", List.of(false),
            "pos_encoding", List.of("none", "learned", "sin", "rotary", "alibi"),
            "activation", Kernels.ACTIVATIONS,
            "norm", List.of("layernorm", "rmsnorm"),
            "recipes", List.of(""));

    /** Settings the kernel takes as arguments whatever their value, or that do not change what a model computes. */
    static final Set<String> ANY_VALUE = Set.of("n_layers", "n_heads", "dim", "dim_ff_factor",
            "max_seq_len", "tie_embed_deembed", "norm_first", "final_norm", "layer_norm_eps", "tokenizer_source_name",
            "custom_tokenizer_ntokens", "from_os_pretrained", "from_saved", "from_saved_transfer");

    /**
     * Whether this kernel computes what the model's blocks compute: the kernels loaded, each setting in
     * {@link #SUPPORTED} or {@link #ANY_VALUE}, and every other (a setting added to ModelParams later) at its default.
     */
    static boolean supports(LM lm) {
        if (!Kernels.available()) return false;
        Map<String, Object> values = Params.toMap(lm.params());
        Map<String, Object> defaults = Params.toMap(ModelParams.DEFAULTS);
        return values.entrySet().stream().allMatch(e -> SUPPORTED.containsKey(e.getKey())
                ? SUPPORTED.get(e.getKey()).contains(e.getValue())
                : ANY_VALUE.contains(e.getKey()) || Objects.equals(e.getValue(), defaults.get(e.getKey())));
    }

    private final IValue[] args;
    private final boolean causal;

    /** @param weights the weights the model reads (LoRA-effective ones included); keys/values: per layer {@code [B,H,max_seq_len,hd]} */
    FastDecoder(LM lm, Map<String, NDArray> weights, List<NDArray> keys, List<NDArray> values) {
        var mp = lm.params();
        List<NDArray> flat = new ArrayList<>(); // 12 per layer; a norm without bias passes its weight in the bias slot (unread)
        for (int l = 0; l < mp.n_layers(); l++) {
            BlockWeights w = BlockWeights.of(weights, l, mp.n_heads(), false);
            flat.addAll(List.of(w.ln1W(), w.ln1B() == null ? w.ln1W() : w.ln1B(), w.attnW(), w.attnB(), w.attnProjW(),
                    w.attnProjB(), w.ln2W(), w.ln2B() == null ? w.ln2W() : w.ln2B(), w.fcW(), w.fcB(), w.mlpProjW(), w.mlpProjB()));
        }
        NDArray wte = weights.get(LM.WTE);
        NDArray head = mp.tie_embed_deembed() ? wte : weights.get(LM.LM_HEAD);
        NDArray positions = switch (mp.pos_encoding()) {
            case LEARNED -> weights.get(LM.WPE);
            case SIN -> lm.sinTable();
            default -> null;
        };
        boolean rotary = mp.pos_encoding() == PosEncoding.ROTARY;
        NDArray[] rope = rotary ? lm.ropeTables() : new NDArray[] {wte, wte};
        NDArray lnfW = weights.get(LM.LN_F_W), lnfB = weights.get(LM.LN_F_B);
        this.causal = mp.pos_encoding() != PosEncoding.ALIBI;
        args = new IValue[] {null, IValue.from(Ops.pt(wte)), IValue.from(Ops.pt(positions == null ? wte : positions)),
                Kernels.list(flat), Kernels.list(keys), Kernels.list(values), causal ? IValue.from(Ops.pt(wte)) : null,
                IValue.from(Ops.pt(rope[0])), IValue.from(Ops.pt(rope[1])), null,
                IValue.from((long) mp.n_heads()), IValue.from(mp.norm_first()), IValue.from(mp.norm() == Norm.RMSNORM),
                IValue.from(rotary), IValue.from(positions != null), IValue.from(causal),
                IValue.from((long) Kernels.ACTIVATIONS.indexOf(mp.activation().spelling())), IValue.from(mp.layer_norm_eps()),
                IValue.from(mp.final_norm()), IValue.from(Ops.pt(lnfW == null ? head : lnfW)),
                IValue.from(Ops.pt(lnfB == null ? head : lnfB)), IValue.from(Ops.pt(head))};
    }

    /** Logits {@code [B,T,V]} of ids {@code [B,T]} (int64) at positions {@code pos …}, in ids's manager. */
    NDArray step(NDArray ids, int pos, NDArray mask) {
        if (causal != (mask == null)) throw new IllegalArgumentException(causal ? "causal decoder takes no mask" : "mask needed");
        args[0] = IValue.from(Ops.pt(ids));
        args[9] = IValue.from((long) pos);
        if (mask != null) args[6] = IValue.from(Ops.pt(mask));
        try {
            return Kernels.decode(args, ids.getManager());
        } finally {
            // the per-step slots are freed now, so close() frees exactly what the constructor bound
            for (int i : causal ? new int[] {0, 9} : new int[] {0, 6, 9}) {
                args[i].close();
                args[i] = null;
            }
        }
    }

    @Override
    public void close() {
        for (IValue a : args) if (a != null) a.close();
    }
}
