package org.tinker.model.hierarchical;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.tinker.config.ModelParams;
import org.tinker.config.PyLiteral;

/**
 * The hierarchical transformer's settings, one entry per hierarchy, read from {@link ModelParams}: each per-hierarchy
 * field is a scalar (the same for every hierarchy), a tuple with one entry per hierarchy, or None (the plain
 * transformer's value: {@code dim}, {@code n_heads}, {@code dim/n_heads}, {@code dim_ff_factor}; full attention;
 * stride 1). A tuple may also arrive as its Python text (a saved params JSON holds it so).
 *
 * @param factors    compression factor c of each hierarchy (unique powers of 2)
 * @param dims       width per hierarchy
 * @param heads      attention heads per hierarchy
 * @param dimHeads   width of one head per hierarchy (heads·dimHead need not equal the width: q/k/v project to it)
 * @param ffMults    feed-forward hidden = width × this
 * @param windows    local-attention window per hierarchy: −1 = full causal attention, 0 = none, w > 0 = local
 * @param strides    stride of the compressing convolution (power of 2, ≤ factor)
 * @param predict    index of the predicting hierarchy
 */
public record HierarchicalSpec(int[] factors, int[] dims, int[] heads, int[] dimHeads, int[] ffMults, int[] windows,
                               int[] strides, int predict, boolean mergeAll, double reconWeight, double arWeight) {
    public static final int FULL = -1;

    public int count() {
        return factors.length;
    }

    /** Parses and validates; throws IllegalArgumentException with a message naming the field. */
    public static HierarchicalSpec of(ModelParams mp) {
        List<Object> hs = items(mp.hierarchies(), "hierarchies");
        if (hs.isEmpty() || hs.contains(null)) throw new IllegalArgumentException("hierarchies: at least one compression factor, no None");
        int n = hs.size();
        int[] factors = ints(hs, "hierarchies");
        for (int f : factors)
            if (f < 1 || Integer.bitCount(f) != 1)
                throw new IllegalArgumentException("hierarchies: every factor a power of 2 (1, 2, 4, …), got " + Arrays.toString(factors));
        if (Arrays.stream(factors).distinct().count() != n)
            throw new IllegalArgumentException("hierarchies: factors must be unique, got " + Arrays.toString(factors));
        int[] dims = perHierarchy(mp.hierarchy_dims(), "hierarchy_dims", n, mp.dim(), false);
        int[] heads = perHierarchy(mp.hierarchy_heads(), "hierarchy_heads", n, mp.n_heads(), false);
        int[] dimHeads = new int[n];
        int[] dh = perHierarchy(mp.hierarchy_dim_head(), "hierarchy_dim_head", n, -1, false);
        for (int i = 0; i < n; i++) dimHeads[i] = dh[i] > 0 ? dh[i] : Math.max(1, dims[i] / heads[i]);
        int[] ff = perHierarchy(mp.hierarchy_ff_mult(), "hierarchy_ff_mult", n, mp.dim_ff_factor(), false);
        int[] windows = perHierarchy(mp.window_sizes(), "window_sizes", n, FULL, true);
        int[] strides = perHierarchy(mp.hierarchical_stride(), "hierarchical_stride", n, 1, false);
        for (int i = 0; i < n; i++) {
            if (dims[i] <= 0 || heads[i] <= 0 || dimHeads[i] <= 0 || ff[i] <= 0)
                throw new IllegalArgumentException("hierarchy " + i + ": dims, heads, dim_head and ff_mult must be positive");
            if (windows[i] < FULL) throw new IllegalArgumentException("window_sizes: None, 0 or a positive window, got " + windows[i]);
            if (strides[i] < 1 || Integer.bitCount(strides[i]) != 1 || strides[i] > factors[i])
                throw new IllegalArgumentException("hierarchical_stride: a power of 2 no larger than the hierarchy's factor "
                        + factors[i] + ", got " + strides[i]);
        }
        Object p = mp.predict_hierarchy();
        int predictFactor = p == null || p == PyLiteral.NONE ? 1 : toInt(p, "predict_hierarchy");
        int predict = -1;
        for (int i = 0; i < n; i++) if (factors[i] == predictFactor) predict = i;
        if (predict < 0)
            throw new IllegalArgumentException("predict_hierarchy=" + predictFactor + " is not one of hierarchies " + Arrays.toString(factors)
                    + (predictFactor == 1 ? " (include factor 1, or name the predicting factor)" : ""));
        if (strides[predict] != 1 && !mp.hierarchy_merge_all())
            throw new IllegalArgumentException("hierarchical_stride of the predicting hierarchy must be 1 (unless hierarchy_merge_all)");
        if (!(mp.recon_loss_weight() >= 0) || !(mp.hierarchical_ar_loss_weight() >= 0))
            throw new IllegalArgumentException("recon_loss_weight and hierarchical_ar_loss_weight must be >= 0");
        return new HierarchicalSpec(factors, dims, heads, dimHeads, ff, windows, strides, predict, mp.hierarchy_merge_all(),
                mp.recon_loss_weight(), mp.hierarchical_ar_loss_weight());
    }

    private static List<Object> items(Object v, String field) {
        if (v instanceof String s) {
            try {
                v = PyLiteral.parse(s);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(field + ": " + e.getMessage());
            }
        }
        if (v instanceof PyLiteral.Tuple t) return t.items().stream().map(x -> x == PyLiteral.NONE ? null : x).toList();
        if (v instanceof List<?> l) return l.stream().map(x -> x == PyLiteral.NONE ? (Object) null : x).toList();
        List<Object> one = new ArrayList<>();
        one.add(v == PyLiteral.NONE ? null : v);
        return one;
    }

    private static int[] perHierarchy(Object v, String field, int n, int dflt, boolean noneAllowedInside) {
        List<Object> xs = v == null || v == PyLiteral.NONE ? null : items(v, field);
        int[] out = new int[n];
        if (xs == null) {
            Arrays.fill(out, dflt);
            return out;
        }
        if (xs.size() == 1 && !(v instanceof PyLiteral.Tuple && n > 1)) {
            Arrays.fill(out, xs.get(0) == null ? dflt : toInt(xs.get(0), field));
            return out;
        }
        if (xs.size() != n)
            throw new IllegalArgumentException(field + ": a scalar or one value per hierarchy (" + n + "), got " + xs.size()
                    + " values");
        for (int i = 0; i < n; i++) {
            if (xs.get(i) == null && !noneAllowedInside)
                throw new IllegalArgumentException(field + ": None is not allowed inside the tuple");
            out[i] = xs.get(i) == null ? dflt : toInt(xs.get(i), field);
        }
        return out;
    }

    private static int[] ints(List<Object> xs, String field) {
        int[] out = new int[xs.size()];
        for (int i = 0; i < out.length; i++) out[i] = toInt(xs.get(i), field);
        return out;
    }

    private static int toInt(Object o, String field) {
        if (o instanceof Number num && num.doubleValue() == Math.rint(num.doubleValue())) return num.intValue();
        throw new IllegalArgumentException(field + ": integers, got " + PyLiteral.repr(o));
    }
}
