package org.tinker.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.jni.JniUtils;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs an {@link LM} one piece at a time, for looking inside it: the embedding, then block by block, then
 * {@code ln_f} and the head. Every block is run as a {@link CustomTransformerBlock} over the model's own weights
 * (the same function as the fused path, tested to 1e-5), so the named hook points of the custom architecture
 * ({@code blocks.{l}.resid_post}, {@code blocks.{l}.attn.out}, …) exist for torch-transformer models too.
 *
 * <p>{@link #partialForward} stops as soon as the last requested tensor has been computed: later blocks never
 * run. Inference only (no dropout). All results land in {@code ids}'s manager.
 */
public final class Stepwise {
    /** The token + position embedding (= {@code blocks.0.resid_pre}). */
    public static final String EMBED = "embed";
    /** The model's output logits {@code [B,T,V]}. */
    public static final String LOGITS = "logits";

    private static final Pattern H_ALIAS = Pattern.compile("h\\.(\\d+)");

    private Stepwise() {}

    /**
     * @param values    name → tensor, in the order asked for
     * @param blocksRun how many blocks were executed (started) before stopping
     */
    public record Result(Map<String, NDArray> values, int blocksRun) {}

    /** Every name {@link #partialForward} accepts: {@code embed}, the hook points, {@code logits}. */
    public static List<String> names(LM lm) {
        List<String> out = new ArrayList<>();
        out.add(EMBED);
        out.addAll(lm.hookPoints());
        out.add(LOGITS);
        return out;
    }

    /** {@code h.3} (transformer-utils' name for a block's output) → {@code blocks.3.resid_post}. */
    public static String canonical(String name) {
        Matcher m = H_ALIAS.matcher(name.trim());
        return m.matches() ? Hooks.residPost(Integer.parseInt(m.group(1))) : name.trim();
    }

    /**
     * The tensors named in {@code outputNames} (see {@link #names}; {@code h.l} is accepted for
     * {@code blocks.l.resid_post}), computing no further than the last of them.
     */
    public static Result partialForward(LM lm, NDArray ids, Collection<String> outputNames) {
        requireBlocks(lm);
        if (outputNames.isEmpty()) throw new IllegalArgumentException("partialForward needs at least one output name");
        List<String> known = names(lm);
        Set<String> wanted = new LinkedHashSet<>();
        for (String n : outputNames) {
            String c = canonical(n);
            if (!known.contains(c))
                throw new IllegalArgumentException("unknown output name '" + n + "'; this model has e.g. "
                        + known.subList(0, Math.min(known.size(), 9)) + " … " + LOGITS);
            wanted.add(c);
        }
        Map<String, NDArray> got = new LinkedHashMap<>();
        int[] blocksRun = {0};
        Hooks hooks = new Hooks();
        for (String w : wanted) {
            if (w.equals(EMBED) || w.equals(LOGITS)) continue;
            hooks.add(w, (name, value, ctx) -> {
                got.put(name, value);
                if (got.size() == wanted.size()) throw new Stop();
                return value;
            });
        }
        try {
            Map<String, NDArray> p = lm.effectiveParameters(ids.getManager()); // with LoRA: merged once for the pass
            NDArray x = embed(lm, ids, p);
            if (wanted.contains(EMBED)) {
                got.put(EMBED, x);
                if (got.size() == wanted.size()) throw new Stop();
            }
            Block.Pass pass = pass(lm, x, hooks);
            for (int l = 0; l < lm.params().n_layers(); l++) {
                blocksRun[0]++;
                x = block(lm, l, p).forward(x, pass);
            }
            if (lm.params().final_norm()) x = pass.hook(Hooks.LN_F_OUT, -1, finalNorm(lm, x, p));
            got.put(LOGITS, unembed(lm, x, p));
        } catch (Stop done) {
            // every requested tensor is in; nothing later runs
        }
        Map<String, NDArray> ordered = new LinkedHashMap<>();
        for (String n : outputNames) ordered.put(n, got.get(canonical(n)));
        return new Result(ordered, blocksRun[0]);
    }

    /** Token embedding plus positions, {@code [B,T,D]}; ids {@code [B,T]} or {@code [T]}. */
    public static NDArray embed(LM lm, NDArray ids) {
        return embed(lm, ids, lm.effectiveParameters(ids.getManager()));
    }

    private static NDArray embed(LM lm, NDArray ids, Map<String, NDArray> p) {
        requireBlocks(lm);
        if (ids.getShape().dimension() == 1) ids = ids.expandDims(0);
        if (ids.getDataType() != DataType.INT64) ids = ids.toType(DataType.INT64, false);
        long t = ids.getShape().get(1);
        if (t < 1 || t > lm.params().max_seq_len())
            throw new IllegalArgumentException("sequence length " + t + " must be between 1 and max_seq_len=" + lm.params().max_seq_len());
        NDArray x = Ops.embedding(ids, p.get(LM.WTE));
        switch (lm.params().pos_encoding()) {
            case "learned" -> x = x.add(Ops.firstRows(p.get(LM.WPE), t, ids));
            case "sin" -> x = x.add(Ops.firstRows(lm.sinTable(), t, ids));
            default -> { }
        }
        return x;
    }

    /** Block {@code layer} applied to a residual stream {@code [B,T,D]} (causal, no dropout). */
    public static NDArray runBlock(LM lm, int layer, NDArray x) {
        requireBlocks(lm);
        if (layer < 0 || layer >= lm.params().n_layers())
            throw new IllegalArgumentException("layer " + layer + " not in 0.." + (lm.params().n_layers() - 1));
        return block(lm, layer, lm.effectiveParameters(x.getManager())).forward(x, pass(lm, x, null));
    }

    /** The final LayerNorm (the identity when the model has none). */
    public static NDArray finalNorm(LM lm, NDArray x) {
        return finalNorm(lm, x, lm.effectiveParameters(x.getManager()));
    }

    private static NDArray finalNorm(LM lm, NDArray x, Map<String, NDArray> p) {
        if (!lm.params().final_norm()) return x;
        return Ops.norm(x, p.get(LM.LN_F_W), p.get(LM.LN_F_B), lm.params().norm(), lm.params().layer_norm_eps());
    }

    /** LayerNorm {@code ln_1} or {@code ln_2} of a block, for decoding sub-block outputs. */
    public static NDArray blockNorm(LM lm, int layer, int which, NDArray x) {
        requireBlocks(lm);
        BlockWeights w = weights(lm, layer, lm.effectiveParameters(x.getManager()));
        String kind = lm.params().norm();
        return which == 1 ? Ops.norm(x, w.ln1W(), w.ln1B(), kind, lm.params().layer_norm_eps())
                : Ops.norm(x, w.ln2W(), w.ln2B(), kind, lm.params().layer_norm_eps());
    }

    /** The head: {@code x @ lm_headᵀ} (or wte when tied), {@code [.., D] → [.., V]}. */
    public static NDArray unembed(LM lm, NDArray x) {
        return unembed(lm, x, lm.effectiveParameters(x.getManager()));
    }

    private static NDArray unembed(LM lm, NDArray x, Map<String, NDArray> p) {
        return Ops.linear(x, lm.params().tie_embed_deembed() ? p.get(LM.WTE) : p.get(LM.LM_HEAD), null);
    }

    /** The hierarchical and flexi bodies have no GPT blocks to step through. */
    private static void requireBlocks(LM lm) {
        if (!lm.hasBlocks())
            throw new IllegalArgumentException("layer_architecture=" + lm.params().layer_architecture()
                    + " has no transformer blocks to step through (stepwise access needs torch- or custom-transformer)");
    }

    /** Block {@code layer}'s weights in {@code p}, the weights a forward pass reads ({@link LM#effectiveParameters}). */
    private static BlockWeights weights(LM lm, int layer, Map<String, NDArray> p) {
        return BlockWeights.of(p, layer, lm.params().n_heads(), lm.params().individual_head_params());
    }

    private static Block block(LM lm, int layer, Map<String, NDArray> p) {
        return new CustomTransformerBlock(lm.params(), layer, weights(lm, layer, p));
    }

    private static Block.Pass pass(LM lm, NDArray x, Hooks hooks) {
        long t = x.getShape().get(1);
        return lm.pass(0, t, x, 0, false, hooks, null, null);
    }

    /** Thrown by the last recording hook to stop the forward pass. */
    private static final class Stop extends RuntimeException {
        Stop() {
            super(null, null, false, false);
        }
    }
}
