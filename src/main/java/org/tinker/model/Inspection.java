package org.tinker.model;

import ai.djl.ndarray.NDArray;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.IntStream;

/**
 * Looking inside any {@link LM}, whatever its layer_architecture: which layers have attention patterns, the logit-lens
 * decoder, and partial forward. A GPT block stack goes through {@link Stepwise} (named hook points, stops early); a
 * {@link ModelBody} (hierarchical, flexi) runs its whole forward and hands back what it has: {@code embed}, the
 * residual stream after each layer {@code blocks.{l}.resid_post} ({@code h.{l}}), the attention patterns of its
 * attention layers {@code blocks.{l}.attn.pattern} and {@code logits}. A body that lacks a tensor says why in one line
 * (IllegalArgumentException).
 */
public final class Inspection {
    private Inspection() {}

    /** How many layers the model has: its blocks, or its body's layers (flexi: model_dict's {@code l}). */
    public static int layers(LM lm) {
        return lm.hasBlocks() ? lm.params().n_layers() : body(lm).layers();
    }

    /**
     * The model layers whose patterns {@code forward(ids, withAttns(true))} returns, in the order of its L axis: every
     * block; the body's attention layers (empty when it has none).
     */
    public static List<Integer> attentionLayers(LM lm) {
        return lm.hasBlocks() ? IntStream.range(0, lm.params().n_layers()).boxed().toList() : body(lm).attentionLayers();
    }

    /** The logit lens: a residual stream {@code [.., D]} through the model's own final norm and head, {@code [.., V]}. */
    public static NDArray decode(LM lm, NDArray residual) {
        if (lm.hasBlocks()) return Stepwise.unembed(lm, Stepwise.finalNorm(lm, residual));
        return body(lm).decode(residual, lm.effectiveParameters(residual.getManager()));
    }

    /** The model's final norm on a residual stream (the identity when it has none). */
    public static NDArray finalNorm(LM lm, NDArray residual) {
        if (lm.hasBlocks()) return Stepwise.finalNorm(lm, residual);
        return body(lm).finalNorm(residual, lm.effectiveParameters(residual.getManager()));
    }

    /** Every name {@link #partialForward} accepts on this model. */
    public static List<String> names(LM lm) {
        if (lm.hasBlocks()) return Stepwise.names(lm);
        List<String> out = new ArrayList<>();
        out.add(Stepwise.EMBED);
        for (int l = 0; l < layers(lm); l++) out.add(Hooks.residPost(l));
        for (int l : attentionLayers(lm)) out.add(Hooks.attnPattern(l));
        out.add(Stepwise.LOGITS);
        return out;
    }

    /**
     * transformer-utils' {@code partial_forward}: the tensors named (see {@link #names}; {@code h.l} is
     * {@code blocks.l.resid_post}), {@code [B,T,D]} streams, {@code [B,H,T,T]} patterns, {@code [B,T,V]} logits. A block
     * stack stops after the last one asked for ({@link Stepwise#partialForward}); a body runs whole (blocksRun = its
     * layers), asking its forward only for the residual stream or the patterns when a name needs them.
     */
    public static Stepwise.Result partialForward(LM lm, NDArray ids, Collection<String> outputNames) {
        if (lm.hasBlocks()) return Stepwise.partialForward(lm, ids, outputNames);
        if (outputNames.isEmpty()) throw new IllegalArgumentException("partialForward needs at least one output name");
        List<String> known = names(lm);
        Set<String> wanted = new LinkedHashSet<>();
        for (String n : outputNames) {
            String c = Stepwise.canonical(n);
            if (!known.contains(c))
                throw new IllegalArgumentException("unknown output name '" + n + "'; layer_architecture="
                        + lm.params().layer_architecture() + " has " + known);
            wanted.add(c);
        }
        boolean patterns = wanted.stream().anyMatch(n -> n.endsWith(".attn.pattern"));
        boolean stream = wanted.stream().anyMatch(n -> n.equals(Stepwise.EMBED) || n.endsWith(".resid_post"));
        LMOutput o = lm.forward(ids, ForwardOptions.DEFAULT.withAttns(patterns).withEmbeddings(stream));
        List<Integer> attnLayers = attentionLayers(lm);
        Map<String, NDArray> got = new LinkedHashMap<>();
        got.put(Stepwise.LOGITS, o.logits());
        if (stream) {
            got.put(Stepwise.EMBED, o.embeddings().get(":, 0"));                                    // [B,T,D]
            for (int l = 0; l < layers(lm); l++) got.put(Hooks.residPost(l), o.embeddings().get(":, " + (l + 1)));
        }
        for (int i = 0; patterns && i < attnLayers.size(); i++) got.put(Hooks.attnPattern(attnLayers.get(i)), o.attns().get(":, " + i)); // [B,H,T,T]
        Map<String, NDArray> ordered = new LinkedHashMap<>();
        for (String n : outputNames) ordered.put(n, got.get(Stepwise.canonical(n)));
        return new Stepwise.Result(ordered, layers(lm));
    }

    /**
     * A body of the model's architecture over the same parameters (the LM keeps its own private): cheap to make, its
     * constant tables are built only if a forward pass runs on it, which the callers here never do.
     */
    private static ModelBody body(LM lm) {
        return ModelBody.of(lm.params(), lm.vocabSize(), lm.manager(), lm.dtype());
    }
}
