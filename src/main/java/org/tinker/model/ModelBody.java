package org.tinker.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.util.List;
import java.util.Map;
import org.tinker.config.ModelParams;
import org.tinker.engine.Ops;
import org.tinker.model.flexi.FlexiTransformer;
import org.tinker.model.hierarchical.HierarchicalTransformer;

/**
 * An architecture other than the GPT block stack, run by {@link LM} (which owns its parameters, the loss, training,
 * saving and sampling): the hierarchical transformer and the FlexiBERT-style heterogeneous stack.
 */
public interface ModelBody {
    /** One parameter: name, shape, and init ("normal" with std, "ones" or "zeros"; "uniform" in ±std). */
    record Param(String name, long[] shape, String init, double std) {}

    /** An auxiliary loss: its name (logged as {@code stat/train_batch_<name>:main}), scalar value and weight. */
    record Aux(String name, NDArray value, double weight) {}

    /**
     * What one pass returns.
     *
     * @param logits    {@code [B,T,V]}
     * @param aux       the auxiliary losses (empty unless asked for)
     * @param attns     {@code [B,L',H,T,T]} the softmax patterns of the layers {@link #attentionLayers()} names, in
     *                  that order; null unless asked for
     * @param residuals {@code [B,L+1,T,D]} the stream {@link #decode} reads: its value before the first layer and after
     *                  each layer (the last one is what the final norm and head turn into the logits); null unless asked for
     */
    record Output(NDArray logits, List<Aux> aux, NDArray attns, NDArray residuals) {
        public Output(NDArray logits, List<Aux> aux) {
            this(logits, aux, null, null);
        }
    }

    /** The parameters, in a stable order. */
    List<Param> layout();

    /**
     * @param ids       {@code [B,T]} int64, 1 ≤ T ≤ max_seq_len; everything created lands in its manager
     * @param p         the parameters by name (the LM's, or LoRA-effective ones)
     * @param aux       also compute the auxiliary losses (training objective)
     * @param attns     also return the attention patterns; IllegalArgumentException naming why when the body has none
     * @param residuals also return the residual stream; IllegalArgumentException naming why when it has none of one width
     */
    Output forward(NDArray ids, Map<String, NDArray> p, boolean aux, boolean attns, boolean residuals);

    /** Logits and, when asked, the auxiliary losses: no inspection tensors. */
    default Output forward(NDArray ids, Map<String, NDArray> p, boolean aux) {
        return forward(ids, p, aux, false, false);
    }

    /** How many layers; {@link Output#residuals()} has one more entry. */
    int layers();

    /** The model layers (0-based, as in the config) whose attention patterns {@link Output#attns()} holds, in order. */
    List<Integer> attentionLayers();

    /** The body's final norm on a residual stream {@code [.., D]} (the one {@link Output#residuals()} holds). */
    NDArray finalNorm(NDArray residual, Map<String, NDArray> p);

    /** The head {@code [V,D]} that maps the final norm's output to logits. */
    NDArray head(Map<String, NDArray> p);

    /** The logit lens of a residual stream: {@code finalNorm} then the head, {@code [.., D] → [.., V]}. */
    default NDArray decode(NDArray residual, Map<String, NDArray> p) {
        return Ops.linear(finalNorm(residual, p), head(p), null);
    }

    /** The body that {@code layer_architecture} names, or null for the GPT block stack (torch-/custom-transformer). */
    static ModelBody of(ModelParams mp, int vocab, NDManager constants, DataType dtype) {
        return switch (mp.layer_architecture()) {
            case HIERARCHICAL -> new HierarchicalTransformer(mp, vocab, constants, dtype);
            case FLEXI -> new FlexiTransformer(mp, vocab, constants, dtype);
            default -> null;
        };
    }
}
