package org.tinker.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tinker.engine.Kernels;

/**
 * Adam with decoupled weight decay (AdamW; plain Adam when weight_decay = 0), as torch.optim.AdamW:
 * <pre>
 *   p ← p·(1 − lr·wd);  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
 *   p ← p − (lr / (1−β1^t)) · m / (√v / √(1−β2^t) + ε)
 * </pre>
 * Updates happen in place on the parameters. Temporaries are closed at once so the parameter manager
 * does not grow. The moments live in the optimizer's own manager and are saved with the checkpoint.
 * With {@code matricesOnly} the decay applies only to parameters of two or more dimensions (weight matrices and
 * embeddings), not to gains and biases: shrinking a LayerNorm gain or a bias toward 0 is not a simpler model.
 */
public final class AdamW implements Optimizer {
    private final LinkedHashMap<String, NDArray> params;
    private final double beta1, beta2, eps, weightDecay;
    /** The parameters weight decay applies to. */
    private final java.util.Set<String> decayed = new java.util.HashSet<>();
    private final NDManager manager;
    private final LinkedHashMap<String, NDArray> m = new LinkedHashMap<>(), v = new LinkedHashMap<>();
    private long t;

    public AdamW(LinkedHashMap<String, NDArray> params, double beta1, double beta2, double eps, double weightDecay) {
        this(params, beta1, beta2, eps, weightDecay, false);
    }

    public AdamW(LinkedHashMap<String, NDArray> params, double beta1, double beta2, double eps, double weightDecay,
                 boolean matricesOnly) {
        this.params = params;
        params.forEach((name, p) -> {
            if (!matricesOnly || p.getShape().dimension() >= 2) decayed.add(name);
        });
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        NDArray any = params.values().iterator().next();
        this.manager = any.getManager().newSubManager();
        params.forEach((name, p) -> {
            m.put(name, manager.zeros(p.getShape(), p.getDataType(), p.getDevice()));
            v.put(name, manager.zeros(p.getShape(), p.getDataType(), p.getDevice()));
        });
    }

    /** One step with the gradients the parameters hold in {@code .grad} (after a backward through them, as in tests). */
    public void step(double lr) {
        try (NDManager tmp = manager.newSubManager()) {
            step(lr, Gradients.heldBy(params, tmp));
        }
    }

    /** One step; a parameter without a gradient in {@code grads} (frozen) keeps its value and its moments. */
    @Override
    public void step(double lr, Map<String, NDArray> grads) {
        t++;
        if (Kernels.available()) {
            fusedStep(lr, grads);
            return;
        }
        double bc1 = 1 - Math.pow(beta1, t), bc2 = 1 - Math.pow(beta2, t);
        double stepSize = lr / bc1, sqrtBc2 = Math.sqrt(bc2);
        for (Map.Entry<String, NDArray> e : params.entrySet()) {
            NDArray g = grads.get(e.getKey());
            if (g == null) continue;
            NDArray p = e.getValue();
            try (NDManager tmp = manager.newSubManager()) {
                NDArray mi = m.get(e.getKey()), vi = v.get(e.getKey());
                if (weightDecay > 0 && decayed.contains(e.getKey())) p.muli(1 - lr * weightDecay);
                NDArray gm = g.mul(1 - beta1);
                gm.attach(tmp);
                mi.muli(beta1).addi(gm);
                NDArray g2 = g.square();
                g2.attach(tmp);
                g2.muli(1 - beta2);
                vi.muli(beta2).addi(g2);
                NDArray denom = vi.sqrt();
                denom.attach(tmp);
                denom.divi(sqrtBc2).addi(eps);
                NDArray upd = mi.div(denom);
                upd.attach(tmp);
                upd.muli(stepSize);
                p.subi(upd);
            }
        }
    }

    /**
     * The same update as the loop above in one multi-tensor kernel (one pass over each tensor instead of ~13 and one
     * call instead of ~13 per parameter); see {@link Kernels#adamw}. Groups by device, as the kernel needs, and by
     * whether the parameters decay (the kernel takes one decay).
     */
    private void fusedStep(double lr, Map<String, NDArray> grads) {
        try (NDManager tmp = manager.newSubManager()) {
            record Group(ai.djl.Device device, boolean decays) {}
            Map<Group, List<String>> byDevice = new LinkedHashMap<>();
            for (String name : params.keySet())
                if (grads.containsKey(name))
                    byDevice.computeIfAbsent(new Group(params.get(name).getDevice(), decayed.contains(name)), d -> new ArrayList<>()).add(name);
            for (Map.Entry<Group, List<String>> group : byDevice.entrySet()) {
                List<NDArray> ps = new ArrayList<>(), gs = new ArrayList<>(), ms = new ArrayList<>(), vs = new ArrayList<>();
                for (String name : group.getValue()) {
                    ps.add(params.get(name));
                    gs.add(grads.get(name));
                    ms.add(m.get(name));
                    vs.add(v.get(name));
                }
                NDArray step = tmp.create((float) t).toDevice(group.getKey().device(), false); // t < 2^24 is exact in float32
                Kernels.adamw(ps, gs, ms, vs, step, lr, beta1, beta2, group.getKey().decays() ? weightDecay : 0, eps);
            }
        }
    }

    @Override
    public long steps() {
        return t;
    }

    /** Moments by name ({@code {param}.exp_avg}, {@code {param}.exp_avg_sq}), as torch names them. */
    @Override
    public NDList stateTensors() {
        NDList out = new NDList();
        Optimizer.saveState(m, ".exp_avg", out);
        Optimizer.saveState(v, ".exp_avg_sq", out);
        return out;
    }

    @Override
    public void restore(Map<String, NDArray> byName, long steps) {
        Optimizer.restoreState(m, ".exp_avg", byName);
        Optimizer.restoreState(v, ".exp_avg_sq", byName);
        t = steps;
    }

    @Override
    public void close() {
        manager.close();
    }
}
