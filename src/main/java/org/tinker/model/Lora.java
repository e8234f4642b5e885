package org.tinker.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.tinker.engine.Ops;

/**
 * LoRA on every parameter (as the reference lm-springboard's {@code lora_rank}): a 1-D parameter {@code p} gets an additive
 * vector {@code p.lora_delta} (zeros); a 2-D parameter {@code W [out, in]} gets {@code W.lora_B [out, r]} (zeros) and
 * {@code W.lora_A [r, in]} (N(0, lora_std²)), and the model computes with {@code W + B·A}. The base weights are
 * frozen (no gradient), the adapters are the only trainable tensors, and the model starts out exactly equal to the
 * base (B = 0). A tied head uses the adapted {@code wte}, so tied weights stay tied.
 */
final class Lora {
    static final String DELTA = ".lora_delta";
    static final String A = ".lora_A";
    static final String B = ".lora_B";

    final int rank;
    final LinkedHashMap<String, NDArray> adapters = new LinkedHashMap<>();

    Lora(Map<String, NDArray> params, int rank, double std, long seed, NDManager manager, DataType dtype) {
        if (rank <= 0) throw new IllegalArgumentException("LoRA rank must be positive, got " + rank);
        this.rank = rank;
        for (Map.Entry<String, NDArray> e : params.entrySet()) {
            Shape s = e.getValue().getShape();
            String name = e.getKey();
            if (s.dimension() == 1) {
                add(name + DELTA, manager.zeros(s, dtype));
            } else if (s.dimension() == 2) {
                long out = s.get(0), in = s.get(1);
                int n = Math.toIntExact(rank * in);
                double[] v = new double[n];
                SplittableRandom rng = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + (name + A).hashCode());
                for (int i = 0; i < n; i++) v[i] = std * rng.nextGaussian();
                NDArray a = manager.create(v, new Shape(rank, in)).toType(dtype, false);
                add(name + A, a);
                add(name + B, manager.zeros(new Shape(out, rank), dtype));
            } else {
                throw new IllegalArgumentException("LoRA: parameter " + name + " has shape " + s + " (only 1-D and 2-D are supported)");
            }
        }
    }

    private void add(String name, NDArray a) {
        a.setName(name);
        a.setRequiresGradient(true);
        adapters.put(name, a);
    }

    /** The parameter as the model computes with it: base + adapter, created in {@code scope}. */
    NDArray effective(String name, NDArray base, NDManager scope) {
        NDArray delta = adapters.get(name + DELTA);
        NDArray r;
        if (delta != null) {
            r = base.add(delta);
        } else {
            NDArray d = Ops.matmul(adapters.get(name + B), adapters.get(name + A));
            d.attach(scope);
            r = base.add(d);
        }
        r.attach(scope);
        return r;
    }

    /** base + adapter as a plain (non-trainable) tensor in {@code scope}: the merged weight. */
    NDArray merged(String name, NDArray base, NDManager scope) {
        NDArray delta = adapters.get(name + DELTA);
        NDArray d = delta != null ? delta.duplicate() : adapters.get(name + B).matMul(adapters.get(name + A));
        d.attach(scope);
        NDArray r = base.add(d);
        r.attach(scope);
        NDArray out = r.stopGradient();
        out.attach(scope);
        return out;
    }
}
