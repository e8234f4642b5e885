package org.tinker.model.flexi;

import java.util.List;
import org.tinker.config.ModelDict;
import org.tinker.config.ModelParams;
import org.tinker.config.PyLiteral;

/**
 * A FlexiBERT {@code model_dict} ({@link ModelDict}, one entry per layer), checked for what the flexi body builds:
 * <pre>
 *   {'l': 4, 'o': ['sa', 'sa', 'l', 'c'], 'h': [64, 64, 32, 32], 'n': [2, 2, 4, 4],
 *    'f': [[128, 128], [128], [64], [64]], 'p': ['sdp', 'wma', 'dct', 9]}
 * </pre>
 * l = layers; o = operation ({@code sa} self-attention, {@code l} linear transform, {@code c} convolution);
 * h = hidden size; n = heads; f = the hidden sizes of the layer's stack of feed-forward layers;
 * p = the operation's parameter ({@code sa}: {@code sdp} | {@code wma}; {@code l}: {@code dft} | {@code dct};
 * {@code c}: the kernel size, 5 | 9 | 13 in the reference's space, any odd or even positive size accepted).
 */
public record FlexiSpec(int layers, List<String> ops, int[] hidden, int[] heads, int[][] ff, List<String> params) {

    public static FlexiSpec of(ModelParams mp) {
        FlexiSpec s = of(mp.model_dict());
        FlexiTransformer.checkSupported(mp, s);
        return s;
    }

    public int kernel(int layer) {
        return Integer.parseInt(params.get(layer));
    }

    /** A model dict as text (the search and the design space pass them so). */
    public static FlexiSpec parse(String text) {
        return of(ModelDict.parse(text));
    }

    /** Checks each layer's operation and parameter, and that attention and convolution heads divide the width. */
    public static FlexiSpec of(ModelDict d) {
        if (d.isNone())
            throw new IllegalArgumentException("a FlexiBERT model_dict such as \"{'l': 2, 'o': ['sa', 'l'], 'h': [64, 64], 'n': [2, 2], "
                    + "'f': [[128], [128]], 'p': ['sdp', 'dft']}\"");
        int l = d.layers();
        int[] hidden = new int[l], heads = new int[l];
        int[][] ffs = new int[l][];
        for (int i = 0; i < l; i++) {
            String op = d.ops().get(i), ps = d.params().get(i);
            hidden[i] = d.hidden().get(i);
            heads[i] = d.heads().get(i);
            if (hidden[i] < 1 || heads[i] < 1) throw new IllegalArgumentException("model_dict layer " + i + ": h and n must be positive");
            List<Integer> fl = d.ff().get(i);
            if (fl.isEmpty()) throw new IllegalArgumentException("model_dict layer " + i + ": 'f' needs at least one feed-forward size");
            ffs[i] = fl.stream().mapToInt(Integer::intValue).toArray();
            for (int x : ffs[i])
                if (x < 1) throw new IllegalArgumentException("model_dict layer " + i + ": feed-forward sizes must be positive");
            switch (op) {
                case "sa" -> {
                    if (!ps.equals("sdp") && !ps.equals("wma"))
                        throw new IllegalArgumentException("model_dict layer " + i + ": 'sa' takes p = 'sdp' or 'wma', got " + shown(ps));
                    if (hidden[i] % heads[i] != 0)
                        throw new IllegalArgumentException("model_dict layer " + i + ": h=" + hidden[i] + " is not a multiple of n=" + heads[i]);
                }
                case "l" -> {
                    if (!ps.equals("dft") && !ps.equals("dct"))
                        throw new IllegalArgumentException("model_dict layer " + i + ": 'l' takes p = 'dft' or 'dct', got " + shown(ps));
                }
                case "c" -> {
                    if (!ps.matches("\\d+") || Integer.parseInt(ps) < 1)
                        throw new IllegalArgumentException("model_dict layer " + i + ": 'c' takes p = a kernel size (5, 9 or 13), got " + shown(ps));
                    if (hidden[i] % heads[i] != 0)
                        throw new IllegalArgumentException("model_dict layer " + i + ": h=" + hidden[i] + " is not a multiple of n=" + heads[i]);
                }
                default -> throw new IllegalArgumentException("model_dict layer " + i + ": operation 'sa', 'l' or 'c', got " + PyLiteral.repr(op));
            }
        }
        return new FlexiSpec(l, d.ops(), hidden, heads, ffs, d.params());
    }

    /** A parameter as the dict wrote it: a number bare, a name quoted. */
    private static String shown(String p) {
        return p.matches("-?\\d+") ? p : PyLiteral.repr(p);
    }
}
