package org.tinker.config;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A FlexiBERT {@code model_dict} as written in a config, one entry per layer:
 * <pre>
 *   {'l': 4, 'o': ['sa', 'sa', 'l', 'c'], 'h': [64, 64, 32, 32], 'n': [2, 2, 4, 4],
 *    'f': [[128, 128], [128], [64], [64]], 'p': ['sdp', 'wma', 'dct', 9]}
 * </pre>
 * Parsed here for its shape (the six keys, l entries each, whole numbers where numbers go); what the operations and
 * their parameters may be is the flexi body's to check. The text is kept as written, so saved params read back equal.
 *
 * @param text    the dict as written ("" when none is given)
 * @param ops     o: the operation of each layer
 * @param hidden  h: hidden size of each layer
 * @param heads   n: heads of each layer
 * @param ff      f: the hidden sizes of each layer's feed-forward stack
 * @param params  p: the operation's parameter, as text ({@code sdp}, {@code dct}, a kernel size {@code 9})
 */
public record ModelDict(String text, List<String> ops, List<Integer> hidden, List<Integer> heads, List<List<Integer>> ff,
                        List<String> params) {
    public static final ModelDict NONE = new ModelDict("", List.of(), List.of(), List.of(), List.of(), List.of());

    public boolean isNone() {
        return text.isBlank();
    }

    public int layers() {
        return ops.size();
    }

    @Override
    public String toString() {
        return text;
    }

    /** Reads a dict literal; throws IllegalArgumentException saying what is wrong with it. */
    public static ModelDict parse(String text) {
        if (text == null || text.isBlank()) return NONE;
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
        List<Integer> hidden = new ArrayList<>(), heads = new ArrayList<>();
        List<List<Integer>> ffs = new ArrayList<>();
        for (int i = 0; i < l; i++) {
            ops.add(String.valueOf(o.get(i)));
            hidden.add(toInt(h.get(i), "h"));
            heads.add(toInt(n.get(i), "n"));
            List<Integer> stack = new ArrayList<>();
            for (Object x : list(f.get(i), "f[" + i + "]", -1)) stack.add(toInt(x, "f"));
            ffs.add(List.copyOf(stack));
            Object par = p.get(i);
            params.add(par instanceof Number num ? String.valueOf(num.longValue()) : String.valueOf(par));
        }
        return new ModelDict(text, List.copyOf(ops), List.copyOf(hidden), List.copyOf(heads), List.copyOf(ffs), List.copyOf(params));
    }

    /** {@code {'k': value, ...}} with Python literal values (values parsed by {@link PyLiteral}). */
    private static Map<String, Object> dict(String s) {
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
