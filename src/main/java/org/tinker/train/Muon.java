package org.tinker.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.tinker.engine.Kernels;
import org.tinker.engine.Ops;

/**
 * Muon (Jordan et al. 2024, "MomentUm Orthogonalized by Newton-Schulz", as in modded-nanogpt) for the blocks' weight
 * matrices, AdamW for everything else (embeddings, head, gains, biases, skip weights):
 * <pre>
 *   buf ← μ·buf + g;   u = g + μ·buf                       Nesterov momentum
 *   o   = NS₅(u)                                            ≈ U·Vᵀ of u = U·S·Vᵀ: every singular value pushed toward 1
 *   p   ← p·(1 − η·wd) − η·√max(1, rows/cols)·o
 * </pre>
 * Why: the gradient of a weight matrix is dominated by a few directions; orthogonalising the update gives the rare
 * directions the same step size as the common ones, and its scale no longer depends on the gradient's. η is muon_lr
 * times the schedule's factor (lr_t / lr). c_attn holds q, k and v as three row blocks: each is orthogonalised apart,
 * as if they were three matrices. Under bf16 precision the iteration runs in bfloat16, as modded-nanogpt runs it: the
 * result only has to be near-orthogonal (its singular values land anywhere in about 0.7 to 1.2 anyway), and the
 * iteration's matmuls are a large part of a small model's step.
 */
public final class Muon implements Optimizer {
    /** The quintic's coefficients (modded-nanogpt): chosen to raise small singular values fast, not to converge to 1. */
    static final double A = 3.4445, B = -4.7750, C = 2.0315;
    static final int NS_STEPS = 5;

    private final LinkedHashMap<String, NDArray> matrices = new LinkedHashMap<>();
    private final LinkedHashMap<String, NDArray> buffers = new LinkedHashMap<>();
    private final AdamW rest;
    private final double muonLr, peakLr, momentum, weightDecay;
    private final boolean bf16;
    private final NDManager manager;
    private long t;

    /**
     * @param params every trained parameter; the 2-D ones of the blocks ({@code transformer.h.*}) go to Muon
     * @param peakLr the config's lr: the schedule's lr divided by it scales muonLr
     * @param bf16 the Newton–Schulz iteration in bfloat16 (under bf16 precision), else in the weights' float32
     */
    public Muon(LinkedHashMap<String, NDArray> params, double muonLr, double momentum, double peakLr, double beta1,
                double beta2, double weightDecay, boolean matricesOnly, boolean bf16) {
        LinkedHashMap<String, NDArray> others = new LinkedHashMap<>();
        params.forEach((name, p) -> (isHiddenMatrix(name, p) ? matrices : others).put(name, p));
        this.rest = new AdamW(others, beta1, beta2, 1e-8, weightDecay, matricesOnly);
        this.muonLr = muonLr;
        this.peakLr = peakLr;
        this.momentum = momentum;
        this.weightDecay = weightDecay;
        this.bf16 = bf16;
        this.manager = params.values().iterator().next().getManager().newSubManager();
        matrices.forEach((name, p) -> buffers.put(name, manager.zeros(p.getShape(), p.getDataType(), p.getDevice())));
    }

    /** Whether Muon updates this parameter: a 2-D weight inside a block (not the embeddings, not the head). */
    public static boolean isHiddenMatrix(String name, NDArray p) {
        return name.startsWith("transformer.h.") && p.getShape().dimension() == 2;
    }

    /** The parameters Muon updates, by name. */
    public Set<String> matrices() {
        return matrices.keySet();
    }

    @Override
    public void step(double lr, Map<String, NDArray> grads) {
        t++;
        rest.step(lr, grads);
        double eta = muonLr * lr / peakLr;
        for (Map.Entry<String, NDArray> e : matrices.entrySet()) {
            NDArray g = grads.get(e.getKey());
            if (g == null) continue;
            NDArray p = e.getValue();
            try (NDManager tmp = manager.newSubManager()) {
                NDArray buf = buffers.get(e.getKey());
                buf.muli(momentum).addi(g);
                NDArray u = buf.mul(momentum); // lands in buf's manager (the optimizer's): move it to this step's
                u.attach(tmp);
                u.addi(g);                     // u = g + μ·buf
                NDArray o = e.getKey().endsWith("attn.c_attn.weight")
                        ? NDArrays.concat(new NDList(u.split(3, 0).stream().map(b -> orthogonalise(b, bf16)).toList()), 0)
                        : orthogonalise(u, bf16);
                long rows = p.getShape().get(0), cols = p.getShape().get(1);
                double scale = Math.sqrt(Math.max(1.0, (double) rows / cols));
                if (weightDecay > 0) p.muli(1 - eta * weightDecay);
                p.subi(o.mul(eta * scale)); // not in place: a kernel's result is an inference tensor
            }
        }
    }

    /**
     * NS₅(g): five steps of the quintic Newton–Schulz iteration {@code X ← a·X + (b·A + c·A²)·X}, {@code A = X·Xᵀ}, from
     * {@code X = g / ‖g‖_F} (so every singular value starts ≤ 1). Each step maps a singular value s to
     * {@code a·s + b·s³ + c·s⁵}, which lifts small ones quickly and leaves all of them between about 0.7 and 1.2: the
     * result is close to the orthogonal factor U·Vᵀ without an SVD, using only matmuls. Worked on the wide side ([r,c]
     * with r ≤ c), where A is the smaller square. One fused kernel call when the kernels are on (in bfloat16 when
     * {@code bf16}: DJL cannot hold a bfloat16 array); the explicit ops below otherwise, in g's type.
     * The result has g's type and lands in g's manager.
     */
    public static NDArray orthogonalise(NDArray g, boolean bf16) {
        boolean tall = g.getShape().get(0) > g.getShape().get(1);
        NDArray x = tall ? g.transpose() : g;                    // [r,c], r ≤ c
        x = x.div(x.norm().add(1e-7));
        if (Kernels.available()) {
            x = Kernels.newtonSchulz(x, NS_STEPS, A, B, C, bf16);
        } else {
            for (int i = 0; i < NS_STEPS; i++) {
                NDArray a = Ops.matmul(x, x.transpose());         // [r,r]
                NDArray b = a.mul(B).add(Ops.matmul(a, a).mul(C)); // [r,r]
                x = x.mul(A).add(Ops.matmul(b, x));              // [r,c]
            }
        }
        return tall ? x.transpose() : x;
    }

    @Override
    public long steps() {
        return t;
    }

    /** AdamW's moments, then each matrix's {@code {param}.momentum_buffer} (torch's name). */
    @Override
    public NDList stateTensors() {
        NDList out = rest.stateTensors();
        Optimizer.saveState(buffers, ".momentum_buffer", out);
        return out;
    }

    @Override
    public void restore(Map<String, NDArray> byName, long steps) {
        rest.restore(byName, steps);
        Optimizer.restoreState(buffers, ".momentum_buffer", byName);
        t = steps;
    }

    @Override
    public void close() {
        rest.close();
        manager.close();
    }
}
