package org.tinker.config;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Values as the reference's configs write them (Python literals read by {@code ast.literal_eval}):
 * quoted strings, integers, floats, True/False, None, lists {@code [a, b]} (a grid axis) and tuples
 * {@code (a, b)} (one value that holds several, e.g. one entry per hierarchy; never expanded).
 */
public final class PyLiteral {
    /** Python's None. Kept distinct from Java null so a map can say "explicitly None". */
    public static final Object NONE = new Object() {
        @Override
        public String toString() {
            return "None";
        }
    };

    /** A parenthesised tuple: one value, not a grid axis. */
    public record Tuple(List<Object> items) {
        public Tuple {
            items = Collections.unmodifiableList(new ArrayList<>(items));
        }

        @Override
        public String toString() {
            return "(" + String.join(", ", items.stream().map(PyLiteral::repr).toList()) + ")";
        }
    }

    private final String s;
    private int i;

    private PyLiteral(String s) {
        this.s = s;
    }

    /** Parses one value; throws IllegalArgumentException with a short reason ("malformed list: ..."). */
    public static Object parse(String text) {
        PyLiteral p = new PyLiteral(text.strip());
        if (p.s.isEmpty()) throw new IllegalArgumentException("missing value after '='");
        Object v = p.value();
        p.ws();
        if (p.i != p.s.length())
            throw new IllegalArgumentException("unexpected '" + p.s.substring(p.i) + "' after the value");
        return v;
    }

    private void ws() {
        while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++;
    }

    private Object value() {
        ws();
        if (i >= s.length()) throw new IllegalArgumentException("missing value");
        char c = s.charAt(i);
        if (c == '[') return sequence('[', ']', "list");
        if (c == '(') return new Tuple(sequence('(', ')', "tuple"));
        if (c == '"' || c == '\'') return string(c);
        int start = i;
        while (i < s.length() && ",]) \t".indexOf(s.charAt(i)) < 0) i++;
        String tok = s.substring(start, i);
        switch (tok) {
            case "True": return Boolean.TRUE;
            case "False": return Boolean.FALSE;
            case "None": return NONE;
            default:
        }
        String num = tok.replace("_", "");
        try {
            if (num.matches("[+-]?\\d+")) return Long.parseLong(num);
            if (num.matches("[+-]?(\\d+\\.?\\d*|\\.\\d+)([eE][+-]?\\d+)?") || num.matches("[+-]?(inf|nan)"))
                return Double.parseDouble(num.replace("inf", "Infinity").replace("nan", "NaN"));
        } catch (NumberFormatException e) {
            // fall through to the error below
        }
        if (tok.equals("true") || tok.equals("false"))
            throw new IllegalArgumentException("booleans are written True or False, not " + tok);
        throw new IllegalArgumentException("cannot read " + (tok.isEmpty() ? "'" + c + "'" : tok)
                + " (strings need quotes: \"" + tok + "\")");
    }

    private List<Object> sequence(char open, char close, String what) {
        i++; // open
        List<Object> items = new ArrayList<>();
        ws();
        if (i < s.length() && s.charAt(i) == close) {
            i++;
            return items;
        }
        while (true) {
            if (i >= s.length()) throw new IllegalArgumentException("malformed " + what + ": missing '" + close + "'");
            items.add(value());
            ws();
            if (i >= s.length()) throw new IllegalArgumentException("malformed " + what + ": missing '" + close + "'");
            char c = s.charAt(i);
            if (c == close) {
                i++;
                return items;
            }
            if (c != ',') throw new IllegalArgumentException("malformed " + what + ": expected ',' or '" + close + "' at '" + s.substring(i) + "'");
            i++;
            ws();
            if (i < s.length() && s.charAt(i) == close) { // trailing comma
                i++;
                return items;
            }
        }
    }

    private String string(char quote) {
        StringBuilder b = new StringBuilder();
        i++;
        while (i < s.length()) {
            char c = s.charAt(i++);
            if (c == quote) return b.toString();
            if (c == '\\' && i < s.length()) {
                char e = s.charAt(i++);
                switch (e) {
                    case 'n' -> b.append('\n');
                    case 't' -> b.append('\t');
                    case '\\' -> b.append('\\');
                    case '\'' -> b.append('\'');
                    case '"' -> b.append('"');
                    default -> b.append('\\').append(e);
                }
            } else {
                b.append(c);
            }
        }
        throw new IllegalArgumentException("unterminated string");
    }

    /** Writes a value back the way a config file would hold it. */
    public static String repr(Object v) {
        if (v == null || v == NONE) return "None";
        if (v instanceof Boolean b) return b ? "True" : "False";
        if (v instanceof String str) return "\"" + str.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
        if (v instanceof List<?> l) return "[" + String.join(", ", l.stream().map(PyLiteral::repr).toList()) + "]";
        if (v instanceof Double d && !Double.isFinite(d)) return d.isNaN() ? "nan" : d > 0 ? "inf" : "-inf"; // as Python writes them
        return v.toString();
    }

    /** Like repr, but strings without quotes: for run descriptions such as {@code dim=256 lr=0.001}. */
    public static String show(Object v) {
        return v instanceof String str ? str : repr(v);
    }
}
