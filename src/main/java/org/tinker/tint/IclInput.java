package org.tinker.tint;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import org.tinker.config.ConfigError;

/**
 * The two per-sequence inputs of the original's in-context evaluation (docs/models/tint.md, "Train part, eval part and single-pass ICL" "single_FT";
 * {@code icl_eval/utils.py}): {@code icl_mask}, which earlier tokens each token may attend to, and {@code position_ids},
 * the aux position of each token. Single-FT ICL gives each demonstration a block of the mask (it attends only to
 * itself) and restarts its positions, so that one TinT pass fine-tunes on every demonstration as if it were alone.
 *
 * <p>The mask acts only where the original applies it: the softmax attention of the aux forward and its
 * recomputation in the attention backward (the same A, then Aᵀ). It is added to the causal mask, so only u ≤ t is
 * ever read. The positions change only the aux embedding (wpe row); TinT's own one-hot positions stay 0..T−1, as in the original.
 * A third input, the original's {@code gradient_mask}, restricts the inner loss to some tokens' predictions (label-only ICL).
 */
public final class IclInput {
    /** No restriction beyond causality, positions 0..T−1. */
    public static final IclInput NONE = new IclInput(0, null, null, null);

    private final int T;
    private final boolean[] allow; // [T·T] row t, column u: t may attend to u; null = every u ≤ t
    private final int[] positions; // null = 0..T−1
    private final boolean[] lossTokens; // the original's gradient_mask: token t's prediction is in the inner loss; null = every train token

    private IclInput(int T, boolean[] allow, int[] positions, boolean[] lossTokens) {
        this.T = T;
        this.allow = allow;
        this.positions = positions;
        this.lossTokens = lossTokens;
    }

    /**
     * The same input with the original's {@code gradient_mask}: only the predictions of the tokens marked here (within
     * the train part) enter the inner loss, e.g. the demonstrations' label words (icl_eval's {@code label_only} loss).
     */
    public IclInput withLossTokens(boolean[] tokens) {
        return new IclInput(allow != null ? T : tokens.length, allow, positions, tokens.clone());
    }

    /** Whether row t (the prediction of token t+1) is in the inner loss, given that t+1 is in the train part. */
    boolean inLoss(int t) {
        return lossTokens == null || lossTokens[t + 1];
    }

    /** The original's matrix form: {@code mask[t][u]} = true if token t may attend to token u (only u ≤ t is read). */
    public static IclInput of(boolean[][] mask, int[] positions) {
        int T = mask == null ? (positions == null ? 0 : positions.length) : mask.length;
        boolean[] a = null;
        if (mask != null) {
            a = new boolean[T * T];
            for (int t = 0; t < T; t++) {
                if (mask[t].length != T) throw new ConfigError("icl_mask: row " + t + " has " + mask[t].length + " entries, expected " + T);
                System.arraycopy(mask[t], 0, a, t * T, T);
            }
        }
        return new IclInput(T, a, positions == null ? null : positions.clone(), null);
    }

    /** The block-diagonal mask of a segmentation: t may attend to u iff both carry the same segment id. */
    public static IclInput segments(int[] segment, int[] positions) {
        int T = segment.length;
        boolean[][] m = new boolean[T][T];
        for (int t = 0; t < T; t++)
            for (int u = 0; u < T; u++) m[t][u] = segment[t] == segment[u];
        return of(m, positions);
    }

    /** Whether causal attention from token t to token u is allowed. */
    boolean attends(int t, int u) {
        return u <= t && (allow == null || allow[t * T + u]);
    }

    /** The aux position of token t. */
    int position(int t) {
        return positions == null ? t : positions[t];
    }

    /** Sizes and ranges for a sequence of {@code n} tokens and an aux model with {@code nPositions} positions. */
    void check(int n, int nPositions) {
        if (allow != null) {
            if (T != n) throw new ConfigError("icl_mask: " + T + " rows for " + n + " tokens (expected one row and column per token)");
            for (int t = 0; t < T; t++)
                if (!allow[t * T + t]) throw new ConfigError("icl_mask: entry [" + t + "][" + t + "] is 0; expected 1 (every token attends to itself)");
        }
        if (lossTokens != null && lossTokens.length != n)
            throw new ConfigError("gradient_mask: " + lossTokens.length + " entries for " + n + " tokens (expected one per token)");
        if (positions != null) {
            if (positions.length != n) throw new ConfigError("position_ids: " + positions.length + " entries for " + n + " tokens (expected one per token)");
            for (int t = 0; t < n; t++)
                if (positions[t] < 0 || positions[t] >= nPositions)
                    throw new ConfigError("position_ids: entry " + t + " is " + positions[t] + ", expected 0.." + (nPositions - 1) + " (the aux positions)");
        }
    }

    /**
     * From an input.json: {@code icl_mask} (the original's T×T 0/1 matrix) or {@code icl_segments} (a segment id per
     * token, the block-diagonal single-FT mask), and {@code position_ids}. None of them: {@link #NONE}.
     */
    public static IclInput fromJson(JsonObject o, String where) {
        IclInput in = maskAndPositions(o, where);
        if (!o.has("gradient_mask")) return in;
        int[] g = ints(o.get("gradient_mask"), where + ": gradient_mask");
        boolean[] b = new boolean[g.length];
        for (int t = 0; t < g.length; t++) {
            if (g[t] != 0 && g[t] != 1) throw new ConfigError(where + ": gradient_mask[" + t + "]=" + g[t] + ": expected 0 or 1");
            b[t] = g[t] == 1;
        }
        return in.withLossTokens(b);
    }

    private static IclInput maskAndPositions(JsonObject o, String where) {
        if (o.has("icl_mask") && o.has("icl_segments")) throw new ConfigError(where + ": give icl_mask or icl_segments, not both");
        int[] pos = o.has("position_ids") ? ints(o.get("position_ids"), where + ": position_ids") : null;
        if (o.has("icl_segments")) return segments(ints(o.get("icl_segments"), where + ": icl_segments"), pos);
        if (o.has("icl_mask")) {
            JsonElement e = o.get("icl_mask");
            if (!e.isJsonArray()) throw new ConfigError(where + ": icl_mask: expected a list of rows of 0/1 (one row per token)");
            JsonArray rows = e.getAsJsonArray();
            boolean[][] m = new boolean[rows.size()][];
            for (int t = 0; t < m.length; t++) {
                int[] r = ints(rows.get(t), where + ": icl_mask row " + t);
                m[t] = new boolean[r.length];
                for (int u = 0; u < r.length; u++) {
                    if (r[u] != 0 && r[u] != 1) throw new ConfigError(where + ": icl_mask[" + t + "][" + u + "]=" + r[u] + ": expected 0 or 1");
                    m[t][u] = r[u] == 1;
                }
            }
            return of(m, pos);
        }
        return pos == null ? NONE : of(null, pos);
    }

    static int[] ints(JsonElement e, String what) {
        if (!e.isJsonArray()) throw new ConfigError(what + ": expected a list of integers");
        JsonArray a = e.getAsJsonArray();
        int[] out = new int[a.size()];
        try {
            for (int i = 0; i < out.length; i++) out[i] = a.get(i).getAsInt();
        } catch (RuntimeException ex) {
            throw new ConfigError(what + ": expected a list of integers");
        }
        return out;
    }
}
