package org.tinker.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tinker.engine.Kernels;
import org.tinker.model.LM;

/**
 * The gradients of one optimizer step, by parameter name, summed over the step's micro-batches; closed after the step.
 *
 * <p>With the fused kernels they are autograd's results taken as new tensors ({@link Kernels#grads}), and closing
 * frees them: between steps no gradient memory is held, as with torch's {@code zero_grad(set_to_none=True)}, so the
 * forward, where a step's memory peaks, runs without them (GPT-2 small's are 0.5 GB). Otherwise — the explicit path
 * ({@code -Dtinker.kernels=off}) and data parallelism, whose replicas add into the master's — they are the parameters'
 * own {@code .grad}, accumulated by the backward, and closing zeroes them ({@link LM#zeroGradients}).
 */
final class Gradients implements AutoCloseable {
    private final LM lm;
    private final LinkedHashMap<String, NDArray> params;
    private final boolean fresh;
    private final NDManager scope;
    private final LinkedHashMap<String, NDArray> sums = new LinkedHashMap<>();

    /**
     * The gradients of {@code lm}'s trainable parameters (the LoRA adapters when attached).
     *
     * @param fresh take autograd's results as new tensors (needs {@link Kernels#available()}); false: the {@code .grad}
     *              the parameters accumulate
     */
    Gradients(LM lm, boolean fresh) {
        if (fresh && !Kernels.available()) throw new IllegalStateException("fresh gradients need the fused kernels");
        this.lm = lm;
        this.params = lm.trainableParameters();
        this.fresh = fresh;
        this.scope = lm.manager().newSubManager();
    }

    /** Backpropagates {@code objective} (recorded while {@code gc} is open) and adds its gradients to the sums. */
    void backward(GradientCollector gc, NDArray objective) {
        if (!fresh) {
            gc.backward(objective);
            return;
        }
        List<String> names = new ArrayList<>(params.keySet());
        List<NDArray> gs = Kernels.grads(objective, names.stream().map(params::get).toList(), scope);
        for (int i = 0; i < names.size(); i++) {
            NDArray before = sums.putIfAbsent(names.get(i), gs.get(i));
            if (before != null) { // a later micro-batch: add in place, free its own
                before.addi(gs.get(i));
                gs.get(i).close();
            }
        }
    }

    /** The summed gradient of every parameter not {@code frozen}, by name (in the parameters' order). */
    Map<String, NDArray> of(Set<String> frozen) {
        LinkedHashMap<String, NDArray> out = new LinkedHashMap<>();
        for (Map.Entry<String, NDArray> e : params.entrySet()) {
            if (frozen.contains(e.getKey())) continue;
            NDArray g = fresh ? sums.get(e.getKey()) : sums.computeIfAbsent(e.getKey(), n -> held(e.getValue(), scope));
            if (g != null) out.put(e.getKey(), g);
        }
        return out;
    }

    /** The gradients the parameters hold in {@code .grad} (a handle each, in {@code into}), by name. */
    static Map<String, NDArray> heldBy(Map<String, NDArray> params, NDManager into) {
        LinkedHashMap<String, NDArray> out = new LinkedHashMap<>();
        params.forEach((name, p) -> out.put(name, held(p, into)));
        return out;
    }

    private static NDArray held(NDArray p, NDManager into) {
        NDArray g = p.getGradient(); // a new handle to the same tensor
        g.attach(into);
        return g;
    }

    /** Frees the step's gradients, or zeroes what the parameters hold. */
    @Override
    public void close() {
        if (!fresh) lm.zeroGradients();
        scope.close();
    }
}
