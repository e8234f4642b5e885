package org.tinker.model;

import ai.djl.ndarray.NDArray;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.tinker.config.ModelParams.Norm;

/**
 * Runs an {@link LM} one piece at a time, for looking inside it: the embedding, then block by block, then
 * {@code ln_f} and the head — the model's own forward pass and {@link Block}s (recipes included), observed through its
 * hook points, so what is read here is what the model computes.
 *
 * <p>{@link #partialForward} stops as soon as the last requested tensor has been computed: later blocks never
 * run. It runs the model in its current mode (explore keeps models in evaluation mode: no dropout). All results land
 * in {@code ids}'s manager.
 */
public final class Stepwise {
    /** The token + position embedding (the hook point {@code embed}, = {@code blocks.0.resid_pre}). */
    public static final String EMBED = Hooks.EMBED;
    /** The model's output logits {@code [B,T,V]}. */
    public static final String LOGITS = "logits";

    private static final Pattern H_ALIAS = Pattern.compile("h\\.(\\d+)");

    private Stepwise() {}

    /**
     * @param values    name → tensor, in the order asked for
     * @param blocksRun how many blocks were executed (started) before stopping
     */
    public record Result(Map<String, NDArray> values, int blocksRun) {}

    /** Every name {@link #partialForward} accepts: the hook points ({@code embed} first), {@code logits}. */
    public static List<String> names(LM lm) {
        List<String> out = new ArrayList<>(lm.hookPoints());
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
        Hooks hooks = new Hooks().add("blocks.*.resid_pre", (name, value, ctx) -> {
            blocksRun[0]++;
            return value;
        });
        for (String w : wanted) {
            if (w.equals(LOGITS)) continue;
            hooks.add(w, (name, value, ctx) -> {
                got.put(name, value);
                if (got.size() == wanted.size()) throw new Stop();
                return value;
            });
        }
        try {
            got.put(LOGITS, lm.forward(ids, ForwardOptions.withHooks(hooks)).logits());
        } catch (Stop done) {
            // every requested tensor is in; nothing later runs
        }
        Map<String, NDArray> ordered = new LinkedHashMap<>();
        for (String n : outputNames) ordered.put(n, got.get(canonical(n)));
        return new Result(ordered, blocksRun[0]);
    }

    /** Token embedding plus positions, {@code [B,T,D]}; ids {@code [B,T]} or {@code [T]}. */
    public static NDArray embed(LM lm, NDArray ids) {
        return partialForward(lm, ids, List.of(EMBED)).values().get(EMBED);
    }

    /** Block {@code layer} (with the model's recipes) applied to a residual stream {@code [B,T,D]} (causal, no dropout). */
    public static NDArray runBlock(LM lm, int layer, NDArray x) {
        requireBlocks(lm);
        if (layer < 0 || layer >= lm.params().n_layers())
            throw new IllegalArgumentException("layer " + layer + " not in 0.." + (lm.params().n_layers() - 1));
        Block block = lm.blocksOf(lm.effectiveParameters(x.getManager())).get(layer);
        return block.forward(x, pass(lm, x));
    }

    /** The final norm and its hook point {@code ln_f.out} (the identity when the model has no final norm). */
    public static NDArray finalNorm(LM lm, NDArray x) {
        if (!lm.params().final_norm()) return x;
        Map<String, NDArray> p = lm.effectiveParameters(x.getManager());
        NDArray y = Layers.norm(x, p.get(LM.LN_F_W), p.get(LM.LN_F_B), lm.params().norm(), lm.params().layer_norm_eps());
        return pass(lm, x).hook(Hooks.LN_F_OUT, -1, y);
    }

    /** LayerNorm {@code ln_1} or {@code ln_2} of a block, for decoding sub-block outputs. */
    public static NDArray blockNorm(LM lm, int layer, int which, NDArray x) {
        requireBlocks(lm);
        BlockWeights w = BlockWeights.of(lm.effectiveParameters(x.getManager()), layer, lm.params().n_heads(),
                lm.params().individual_head_params());
        Norm kind = lm.params().norm();
        return which == 1 ? Layers.norm(x, w.ln1W(), w.ln1B(), kind, lm.params().layer_norm_eps())
                : Layers.norm(x, w.ln2W(), w.ln2B(), kind, lm.params().layer_norm_eps());
    }

    /** The head: {@code x @ lm_headᵀ} (or wte when tied; soft-capped when the model caps), {@code [.., D] → [.., V]}. */
    public static NDArray unembed(LM lm, NDArray x) {
        Map<String, NDArray> p = lm.effectiveParameters(x.getManager());
        return lm.unembed(x, lm.params().tie_embed_deembed() ? p.get(LM.WTE) : p.get(LM.LM_HEAD));
    }

    /** The hierarchical and flexi bodies have no GPT blocks to step through. */
    private static void requireBlocks(LM lm) {
        if (!lm.hasBlocks())
            throw new IllegalArgumentException("layer_architecture=" + lm.params().layer_architecture()
                    + " has no transformer blocks to step through (stepwise access needs torch- or custom-transformer)");
    }

    /** A pass over a residual stream {@code x [B,T,D]} from position 0 with the model's own hooks (no input ids known). */
    private static Block.Pass pass(LM lm, NDArray x) {
        long t = x.getShape().get(1);
        return lm.pass(0, t, x, null, 0, 0, false, lm.hooksWith(null), null, null, null);
    }

    /** Thrown by the last recording hook to stop the forward pass. */
    private static final class Stop extends RuntimeException {
        Stop() {
            super(null, null, false, false);
        }
    }
}
