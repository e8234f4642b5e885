package org.tinker.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;

/**
 * Thin wrappers over the fused libtorch kernels that DJL exposes only through {@link JniUtils}.
 *
 * <p>Each one is a single JNI call where the plain NDArray API would take several (linear = matmul +
 * transpose + add, layer norm = five or so). Every result lands in the manager of the FIRST argument,
 * which is always the activation, so outputs live in the caller's per-step scope and never in the
 * model's long-lived parameter manager.
 */
public final class Ops {
    private Ops() {}

    public static PtNDArray pt(NDArray a) {
        return (PtNDArray) a;
    }

    /** {@code x @ wᵀ + b} with torch's Linear layout {@code w: [out, in]}; {@code b} may be null. */
    public static NDArray linear(NDArray x, NDArray w, NDArray b) {
        if (autocastBf16(x)) return Kernels.linearBf16(x, w, b);
        Shape s = x.getShape();
        if (b != null && s.dimension() > 2) {
            // libtorch's C++ linear fuses the bias into the product (addmm) only for 2-D input; otherwise it adds it in
            // a second pass over the output. [.., in] -> [N, in] and back: one product, as torch.nn.functional.linear
            NDArray y = JniUtils.linear(pt(x.reshape(-1, s.get(s.dimension() - 1))), pt(w), pt(b)); // [N, out]
            return y.reshape(s.slice(0, s.dimension() - 1).add(w.getShape().get(0)));
        }
        return JniUtils.linear(pt(x), pt(w), b == null ? null : pt(b));
    }

    /**
     * Mixed precision, as torch.autocast: while on (per thread), linear layers and fused attention compute in bfloat16
     * on float32 inputs and weights and return float32; norms, activations, softmax statistics and the loss stay
     * float32, and so do the master weights and their gradients. DJL cannot hold a bfloat16 array, so every bfloat16
     * tensor lives and dies inside one {@link Kernels} call.
     */
    private static final ThreadLocal<Boolean> AUTOCAST = ThreadLocal.withInitial(() -> false);

    /** Sets this thread's autocast state and returns the previous one (restore it in a finally block). */
    public static boolean autocast(boolean on) {
        boolean was = AUTOCAST.get();
        AUTOCAST.set(on);
        return was;
    }

    /** Whether an op on {@code x} should run in bfloat16 now: autocast is on and x is float32. */
    public static boolean autocastBf16(NDArray x) {
        return AUTOCAST.get() && x.getDataType() == DataType.FLOAT32 && Kernels.available();
    }

    /** LayerNorm over the last axis. */
    public static NDArray layerNorm(NDArray x, NDArray w, NDArray b, double eps) {
        return JniUtils.layerNorm(pt(x), new Shape(x.getShape().get(x.getShape().dimension() - 1)), pt(w), pt(b), eps);
    }

    /** RMSNorm over the last axis: {@code x / sqrt(mean(x²) + eps) · w} (no bias, no mean subtraction; w null = no scale). */
    public static NDArray rmsNorm(NDArray x, NDArray w, double eps) {
        int last = x.getShape().dimension() - 1;
        NDArray rms = x.mul(x).mean(new int[] {last}, true).add(eps).sqrt();
        return w == null ? x.div(rms) : x.div(rms).mul(w);
    }

    /**
     * Rotary position embedding (Su et al. 2021) of {@code x [B,H,T,hd]} with tables {@code cos, sin [T,hd]} for
     * its positions, in the "rotate half" layout: feature i pairs with i + hd/2.
     * {@code x·cos + rotate_half(x)·sin}, rotate_half(x) = [−x₂, x₁].
     */
    public static NDArray rope(NDArray x, NDArray cos, NDArray sin) {
        int last = x.getShape().dimension() - 1;
        NDList halves = x.split(2, last);
        NDArray rotated = halves.get(1).neg().concat(halves.get(0), last);
        return x.mul(cos).add(rotated.mul(sin));
    }

    /** Elements {@code [i0, i1)} of a 1-D constant or parameter, as a view in {@code scope}'s manager. */
    public static NDArray slice1(NDArray table, long i0, long i1, NDArray scope) {
        return JniUtils.index(pt(table), new long[] {i0}, new long[] {i1}, new long[] {1}, pt(scope).getManager());
    }

    /** Rows {@code [r0, r1)} and columns {@code [c0, c1)} of a 2-D constant, as a view in {@code scope}'s manager. */
    public static NDArray slice2(NDArray table, long r0, long r1, long c0, long c1, NDArray scope) {
        return JniUtils.index(pt(table), new long[] {r0, c0}, new long[] {r1, c1}, new long[] {1, 1},
                pt(scope).getManager());
    }

    public static NDArray softmax(NDArray x, int axis) {
        return JniUtils.softmax(pt(x), axis, x.getDataType());
    }

    public static NDArray logSoftmax(NDArray x, int axis) {
        return JniUtils.logSoftmax(pt(x), axis, x.getDataType());
    }

    /** Inverted dropout; the identity (no call at all) when it would do nothing. */
    public static NDArray dropout(NDArray x, double p, boolean training) {
        return training && p > 0 ? JniUtils.dropout(pt(x), p, true) : x;
    }

    public static NDArray relu(NDArray x) {
        return JniUtils.relu(pt(x));
    }

    /** The exact (erf) GELU. */
    public static NDArray gelu(NDArray x) {
        return JniUtils.gelu(pt(x));
    }

    /** SiLU (swish): {@code x · sigmoid(x)}. */
    public static NDArray silu(NDArray x) {
        return x.mul(JniUtils.sigmoid(pt(x)));
    }

    private static final double SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

    /** GPT-2's {@code gelu_new}: {@code 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))} (torch's approximate='tanh'). */
    public static NDArray geluTanh(NDArray x) {
        // one op (torch's gelu(approximate="tanh")) where the kernels load: the formula below keeps eight [.., ff]
        // intermediates for its backward (bench-gpt2s in float32, 2-step runs on one thread beside other work: peak RSS
        // 7.9 GB with it, 5.5 GB with the one op)
        if (Kernels.available()) return Kernels.activation(x, "gelu_new");
        NDArray inner = mul(mul(x.mul(x).mul(x), 0.044715).add(x), SQRT_2_OVER_PI);
        return mul(JniUtils.tanh(pt(inner)).add(1).mul(x), 0.5);
    }

    public static NDArray embedding(NDArray ids, NDArray table) {
        return JniUtils.embedding(pt(ids), pt(table), false);
    }

    /**
     * {@code x · c}. Use this (or {@link #div}), not {@code x.mul(c)}, wherever x may need a gradient: DJL wraps a number
     * in a tensor over a Java direct buffer and closes it straight away, but autograd keeps that tensor for the backward
     * pass (d(x·c)/dx = c); once the garbage collector frees the buffer, the backward pass reads freed memory and a
     * gradient turns to garbage or NaN, at random (issue: sporadic NaN of the modern config). Here c is a tensor that
     * torch allocates and owns, so autograd's reference keeps it alive.
     */
    public static NDArray mul(NDArray x, double c) {
        try (NDArray s = scalarLike(x, c)) {
            return x.mul(s);
        }
    }

    /** {@code x / c}; see {@link #mul(NDArray, double)} for why not {@code x.div(c)}. */
    public static NDArray div(NDArray x, double c) {
        try (NDArray s = scalarLike(x, c)) {
            return x.div(s);
        }
    }

    /** A 0-d tensor holding c, of x's type and device, in x's manager, in memory torch owns (not a Java buffer). */
    private static NDArray scalarLike(NDArray x, double c) {
        return JniUtils.full(pt(x).getManager(), new Shape(), c, x.getDataType(), x.getDevice(), SparseFormat.DENSE);
    }

    public static NDArray matmul(NDArray a, NDArray b) {
        return JniUtils.matmul(pt(a), pt(b));
    }

    /** Rows {@code [0, n)} of a 2-D constant or parameter, as a view created in {@code scope}'s manager. */
    public static NDArray firstRows(NDArray table, long n, NDArray scope) {
        long cols = table.getShape().get(1);
        return JniUtils.index(pt(table), new long[] {0, 0}, new long[] {n, cols}, new long[] {1, 1},
                pt(scope).getManager());
    }

    /** The top-left {@code n × n} block of a square constant, as a view created in {@code scope}'s manager. */
    public static NDArray topLeft(NDArray square, long n, NDArray scope) {
        return JniUtils.index(pt(square), new long[] {0, 0}, new long[] {n, n}, new long[] {1, 1},
                pt(scope).getManager());
    }

    /** The value of a one-element float32/float64 array, as a double. */
    public static double scalar(NDArray a) {
        return a.getDataType() == DataType.FLOAT64 ? a.getDouble() : a.getFloat();
    }
}
