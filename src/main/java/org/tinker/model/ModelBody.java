package org.tinker.model;

import ai.djl.ndarray.NDArray;
import java.util.List;
import java.util.Map;

/**
 * An architecture other than the GPT block stack, run by {@link LM} (which owns its parameters, the loss, training,
 * saving and sampling): the hierarchical transformer and the FlexiBERT-style heterogeneous stack.
 */
public interface ModelBody {
    /** One parameter: name, shape, and init ("normal" with std, "ones" or "zeros"; "uniform" in ±std). */
    record Param(String name, long[] shape, String init, double std) {}

    /** An auxiliary loss: its name (logged as {@code stat/train_batch_<name>:main}), scalar value and weight. */
    record Aux(String name, NDArray value, double weight) {}

    /** Logits {@code [B,T,V]} and the auxiliary losses (empty unless asked for). */
    record Output(NDArray logits, List<Aux> aux) {}

    /** The parameters, in a stable order. */
    List<Param> layout();

    /**
     * @param ids {@code [B,T]} int64, 1 ≤ T ≤ max_seq_len; everything created lands in its manager
     * @param p   the parameters by name (the LM's, or LoRA-effective ones)
     * @param aux also compute the auxiliary losses (training objective)
     */
    Output forward(NDArray ids, Map<String, NDArray> p, boolean aux);
}
