package org.tinker.model.flexi;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tinker.config.ModelParams;
import org.tinker.config.PyLiteral;

/**
 * A FlexiBERT {@code model_dict}, one entry per layer, parsed and checked:
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
        FlexiSpec s = parse(mp.model_dict());
        FlexiTransformer.checkSupported(mp, s);
        return s;
    }

    public int kernel(int layer) {
        return Integer.parseInt(params.get(layer));
    }

    public static FlexiSpec parse(String text) {
        if (text == null || text.isBlank())
            throw new IllegalArgumentException("a FlexiBERT model_dict such as \"{'l': 2, 'o': ['sa', 'l'], 'h': [64, 64], 'n': [2, 2], "
                    + "'f': [[128], [128]], 'p': ['sdp', 'dft']}\"");
        Map<String, Object> d = dict(text.trim());
        for (String k : List.of("l", "o", "h", "n", "f", "p"))
            if (!d.containsKey(k)) throw new IllegalArgumentException("model_dict needs the key '" + k + "' (l, o, h, n, f, p)");
        for (String k : d.keySet())
            if (!List.of("l", "o", "h", "n", "f", "p").contains(k)) throw new IllegalArgumentException("model_dict: unknown key '" + k + "'");
        int l = toInt(d.get("l"), "l");
        if (l < 1) throw new IllegalArgumentException("model_dict: 'l' must be at least 1, got " + l);
        List<Object> o = list(d.get("o"), "o", l), h = list(d.get("h"), "h", l), n = list(d.get("n"), "n", l),
                f = list(d.get("f"), "f", l), p = list(d.get("p"), "p", l);
        List<String> ops = new ArrayList<>(), params = new ArrayList<>();
        int[] hidden = new int[l], heads = new int[l];
        int[][] ffs = new int[l][];
        for (int i = 0; i < l; i++) {
            String op = String.valueOf(o.get(i));
            hidden[i] = toInt(h.get(i), "h");
            heads[i] = toInt(n.get(i), "n");
            if (hidden[i] < 1 || heads[i] < 1) throw new IllegalArgumentException("model_dict layer " + i + ": h and n must be positive");
            List<Object> fl = list(f.get(i), "f[" + i + "]", -1);
            if (fl.isEmpty()) throw new IllegalArgumentException("model_dict layer " + i + ": 'f' needs at least one feed-forward size");
            ffs[i] = new int[fl.size()];
            for (int j = 0; j < fl.size(); j++) {
                ffs[i][j] = toInt(fl.get(j), "f");
                if (ffs[i][j] < 1) throw new IllegalArgumentException("model_dict layer " + i + ": feed-forward sizes must be positive");
            }
            Object par = p.get(i);
            String ps = par instanceof Number num ? String.valueOf(num.longValue()) : String.valueOf(par);
            switch (op) {
                case "sa" -> {
                    if (!ps.equals("sdp") && !ps.equals("wma"))
                        throw new IllegalArgumentException("model_dict layer " + i + ": 'sa' takes p = 'sdp' or 'wma', got " + PyLiteral.repr(par));
                    if (hidden[i] % heads[i] != 0)
                        throw new IllegalArgumentException("model_dict layer " + i + ": h=" + hidden[i] + " is not a multiple of n=" + heads[i]);
                }
                case "l" -> {
                    if (!ps.equals("dft") && !ps.equals("dct"))
                        throw new IllegalArgumentException("model_dict layer " + i + ": 'l' takes p = 'dft' or 'dct', got " + PyLiteral.repr(par));
                }
                case "c" -> {
                    if (!ps.matches("\\d+") || Integer.parseInt(ps) < 1)
                        throw new IllegalArgumentException("model_dict layer " + i + ": 'c' takes p = a kernel size (5, 9 or 13), got " + PyLiteral.repr(par));
                    if (hidden[i] % heads[i] != 0)
                        throw new IllegalArgumentException("model_dict layer " + i + ": h=" + hidden[i] + " is not a multiple of n=" + heads[i]);
                }
                default -> throw new IllegalArgumentException("model_dict layer " + i + ": operation 'sa', 'l' or 'c', got " + PyLiteral.repr(o.get(i)));
            }
            ops.add(op);
            params.add(ps);
        }
        return new FlexiSpec(l, List.copyOf(ops), hidden, heads, ffs, List.copyOf(params));
    }

    /** {@code {'k': value, ...}} with Python literal values (values parsed by {@link PyLiteral}). */
    static Map<String, Object> dict(String s) {
        if (!s.startsWith("{") || !s.endsWith("}"))
            throw new IllegalArgumentException("model_dict must be a dict literal {...}, got " + s);
        Map<String, Object> out = new LinkedHashMap<>();
        String body = s.substring(1, s.length() - 1).trim();
        if (body.isEmpty()) return out;
        for (String entry : splitTopLevel(body)) {
            int colon = topLevelColon(entry);
            if (colon < 0) throw new IllegalArgumentException("model_dict entry without ':' — " + entry.trim());
            Object key = PyLiteral.parse(entry.substring(0, colon).trim());
            if (!(key instanceof String k)) throw new IllegalArgumentException("model_dict keys are quoted strings, got " + entry.substring(0, colon).trim());
            out.put(k, PyLiteral.parse(entry.substring(colon + 1).trim()));
        }
        return out;
    }

    private static List<String> splitTopLevel(String s) {
        List<String> parts = new ArrayList<>();
        int depth = 0, start = 0;
        char quote = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (quote != 0) {
                if (c == quote) quote = 0;
            } else if (c == '\'' || c == '"') quote = c;
            else if (c == '[' || c == '(' || c == '{') depth++;
            else if (c == ']' || c == ')' || c == '}') depth--;
            else if (c == ',' && depth == 0) {
                parts.add(s.substring(start, i));
                start = i + 1;
            }
        }
        if (!s.substring(start).isBlank()) parts.add(s.substring(start));
        return parts;
    }

    private static int topLevelColon(String s) {
        char quote = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (quote != 0) {
                if (c == quote) quote = 0;
            } else if (c == '\'' || c == '"') quote = c;
            else if (c == ':') return i;
        }
        return -1;
    }

    @SuppressWarnings("unchecked")
    private static List<Object> list(Object v, String key, int len) {
        List<Object> xs;
        if (v instanceof List<?> l) xs = (List<Object>) l;
        else if (v instanceof PyLiteral.Tuple t) xs = t.items();
        else throw new IllegalArgumentException("model_dict: '" + key + "' must be a list, got " + PyLiteral.repr(v));
        if (len >= 0 && xs.size() != len)
            throw new IllegalArgumentException("model_dict: '" + key + "' has " + xs.size() + " entries, expected l=" + len);
        return xs;
    }

    private static int toInt(Object o, String key) {
        if (o instanceof Number num && num.doubleValue() == Math.rint(num.doubleValue())) return num.intValue();
        throw new IllegalArgumentException("model_dict: '" + key + "' takes integers, got " + PyLiteral.repr(o));
    }
}
