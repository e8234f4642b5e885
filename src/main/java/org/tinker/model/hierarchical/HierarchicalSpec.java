package org.tinker.model.hierarchical;

import java.util.Arrays;
import org.tinker.config.ModelParams;
import org.tinker.config.PerHierarchy;

/**
 * The hierarchical transformer's settings, one entry per hierarchy, read from {@link ModelParams}: each per-hierarchy
 * field is a {@link PerHierarchy}: a scalar (the same for every hierarchy), a tuple with one entry per hierarchy, or
 * None (the plain transformer's value: {@code dim}, {@code n_heads}, {@code dim/n_heads}, {@code dim_ff_factor}; full
 * attention; stride 1).
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

    /** Validates the settings and resolves them per hierarchy; throws IllegalArgumentException naming the field. */
    public static HierarchicalSpec of(ModelParams mp) {
        PerHierarchy hs = mp.hierarchies();
        if (hs.isNone() || hs.values().contains(null))
            throw new IllegalArgumentException("hierarchies: at least one compression factor, no None");
        int n = hs.values().size();
        int[] factors = expand(hs, "hierarchies", n, 1, false);
        for (int f : factors)
            if (f < 1 || Integer.bitCount(f) != 1)
                throw new IllegalArgumentException("hierarchies: every factor a power of 2 (1, 2, 4, …), got " + Arrays.toString(factors));
        if (Arrays.stream(factors).distinct().count() != n)
            throw new IllegalArgumentException("hierarchies: factors must be unique, got " + Arrays.toString(factors));
        int[] dims = expand(mp.hierarchy_dims(), "hierarchy_dims", n, mp.dim(), false);
        int[] heads = expand(mp.hierarchy_heads(), "hierarchy_heads", n, mp.n_heads(), false);
        int[] dimHeads = new int[n];
        int[] dh = expand(mp.hierarchy_dim_head(), "hierarchy_dim_head", n, -1, false);
        for (int i = 0; i < n; i++) dimHeads[i] = dh[i] > 0 ? dh[i] : Math.max(1, dims[i] / heads[i]);
        int[] ff = expand(mp.hierarchy_ff_mult(), "hierarchy_ff_mult", n, mp.dim_ff_factor(), false);
        int[] windows = expand(mp.window_sizes(), "window_sizes", n, FULL, true);
        int[] strides = expand(mp.hierarchical_stride(), "hierarchical_stride", n, 1, false);
        for (int i = 0; i < n; i++) {
            if (dims[i] <= 0 || heads[i] <= 0 || dimHeads[i] <= 0 || ff[i] <= 0)
                throw new IllegalArgumentException("hierarchy " + i + ": dims, heads, dim_head and ff_mult must be positive");
            if (windows[i] < FULL) throw new IllegalArgumentException("window_sizes: None, 0 or a positive window, got " + windows[i]);
            if (strides[i] < 1 || Integer.bitCount(strides[i]) != 1 || strides[i] > factors[i])
                throw new IllegalArgumentException("hierarchical_stride: a power of 2 no larger than the hierarchy's factor "
                        + factors[i] + ", got " + strides[i]);
        }
        int predictFactor = mp.predict_hierarchy() == null ? 1 : mp.predict_hierarchy();
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

    private static int[] expand(PerHierarchy v, String field, int n, int dflt, boolean noneInside) {
        try {
            return v.expand(n, dflt, noneInside);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(field + ": " + e.getMessage());
        }
    }
}
