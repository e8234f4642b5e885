package org.tinker.model.flexi;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.tinker.config.ModelParams.Architecture;
import org.tinker.config.ModelParams;
import org.tinker.model.LM;

/**
 * Weight transfer between two models of the FlexiBERT design space (FlexiBERT's {@code load_model_from_source}),
 * into the target's parameters in place. A target parameter receives the source's parameter of the same name when
 * both exist and, for a layer's operation weights, the layer has the same operation and parameter in both models
 * (same {@code o[i]} and {@code p[i]}; layer-norm, feed-forward, projection and embedding weights transfer whenever
 * the name exists in both). Where the shapes differ:
 * <ul>
 *   <li>{@link Mode#OD} (ordered): the leading {@code min(src, dst)} entries along every axis are copied; the rest of
 *       the target keeps its own values.
 *   <li>{@link Mode#RP} (random projection): along each axis whose size differs, the source is multiplied by a Gaussian
 *       random matrix {@code R [dst, src]} with entries N(0, 1/dst) (as sklearn's GaussianRandomProjection), seeded.
 * </ul>
 * Equal shapes are copied exactly in both modes. Works for any two LMs by name (plain GPT stacks too).
 */
public final class WeightTransfer {
    private WeightTransfer() {}

    public enum Mode { OD, RP }

    /** What happened to each target parameter: "copied", "sliced", "projected" or "kept (why)". */
    public record Report(List<String> lines, int transferred, int kept) {
        @Override
        public String toString() {
            return String.join("\n", lines) + "\n" + transferred + " transferred, " + kept + " kept";
        }
    }

    public static Report transfer(LM source, LM target, Mode mode, long seed) {
        Map<String, NDArray> src = source.parameters(), dst = target.parameters();
        List<String> lines = new ArrayList<>();
        int moved = 0, kept = 0;
        try (NDManager scope = target.manager().newSubManager()) {
            for (Map.Entry<String, NDArray> e : dst.entrySet()) {
                String name = e.getKey();
                NDArray to = e.getValue(), from = src.get(name);
                String why = from == null ? "not in the source" : opMismatch(name, source.params(), target.params());
                if (why != null) {
                    lines.add(name + ": kept (" + why + ")");
                    kept++;
                    continue;
                }
                NDArray value = from.toType(DataType.FLOAT64, true);
                value.attach(scope);
                String how;
                if (from.getShape().equals(to.getShape())) {
                    how = "copied";
                } else if (from.getShape().dimension() != to.getShape().dimension()) {
                    lines.add(name + ": kept (rank differs)");
                    kept++;
                    continue;
                } else if (mode == Mode.OD) {
                    double[] own;
                    try (NDArray mine = to.toType(DataType.FLOAT64, true)) { // in the LM's manager: close it at once
                        own = mine.toDoubleArray();
                    }
                    value = ordered(value, own, to.getShape(), scope);
                    how = "sliced " + from.getShape() + " → " + to.getShape();
                } else {
                    value = projected(value, to.getShape(), seed, name);
                    how = "projected " + from.getShape() + " → " + to.getShape();
                }
                NDArray cast = value.toType(to.getDataType(), true);
                to.set(cast.toByteBuffer());
                lines.add(name + ": " + how);
                moved++;
            }
        }
        return new Report(lines, moved, kept);
    }

    /** Why a layer's operation weights must not transfer (null when they may). */
    private static String opMismatch(String name, ModelParams a, ModelParams b) {
        if (!name.startsWith("flexi.") || !(name.contains(".attn.") || name.contains(".conv."))) return null;
        if (a.layer_architecture() != Architecture.FLEXI || b.layer_architecture() != Architecture.FLEXI) return null;
        int layer = Integer.parseInt(name.split("\\.")[1]);
        FlexiSpec sa = FlexiSpec.of(a), sb = FlexiSpec.of(b);
        if (!sa.ops().get(layer).equals(sb.ops().get(layer)) || !sa.params().get(layer).equals(sb.params().get(layer)))
            return "operation " + sa.ops().get(layer) + "/" + sa.params().get(layer) + " vs " + sb.ops().get(layer) + "/" + sb.params().get(layer);
        return null;
    }

    /** The target's own values with the leading min-size block replaced by the source's. */
    private static NDArray ordered(NDArray from, double[] own, Shape dstShape, NDManager scope) {
        Shape fs = from.getShape();
        int rank = dstShape.dimension();
        double[] src = from.toDoubleArray();
        long[] common = new long[rank];
        for (int i = 0; i < rank; i++) common[i] = Math.min(fs.get(i), dstShape.get(i));
        long total = 1;
        for (long c : common) total *= c;
        long[] idx = new long[rank];
        for (long n = 0; n < total; n++) {
            long rem = n, s = 0, d = 0;
            for (int i = rank - 1; i >= 0; i--) {
                idx[i] = rem % common[i];
                rem /= common[i];
            }
            long sStride = 1, dStride = 1;
            for (int i = rank - 1; i >= 0; i--) {
                s += idx[i] * sStride;
                d += idx[i] * dStride;
                sStride *= fs.get(i);
                dStride *= dstShape.get(i);
            }
            own[(int) d] = src[(int) s];
        }
        return scope.create(own, dstShape);
    }

    /** Along every axis whose size differs, {@code R [dst, src] · x} with R ~ N(0, 1/dst), seeded by (seed, name, axis). */
    private static NDArray projected(NDArray x, Shape dstShape, long seed, String name) {
        int rank = dstShape.dimension();
        for (int axis = 0; axis < rank; axis++) {
            long from = x.getShape().get(axis), to = dstShape.get(axis);
            if (from == to) continue;
            SplittableRandom rng = new SplittableRandom(seed * 31 + name.hashCode() * 17L + axis);
            double[] r = new double[Math.toIntExact(to * from)];
            for (int i = 0; i < r.length; i++) r[i] = rng.nextGaussian() / Math.sqrt(to);
            NDArray proj = x.getManager().create(r, new Shape(to, from));
            // move `axis` last, multiply by Rᵀ, move it back
            NDArray moved = x.swapAxes(axis, rank - 1);
            x = moved.matMul(proj.transpose()).swapAxes(axis, rank - 1);
        }
        return x;
    }
}
