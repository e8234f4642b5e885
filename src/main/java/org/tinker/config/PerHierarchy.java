package org.tinker.config;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * A hierarchical-transformer setting given per hierarchy: None (the plain transformer's value), one whole number for
 * every hierarchy, or a tuple with one entry per hierarchy ({@code (96, 48)}; an entry may be None where the setting
 * allows it, as in {@code window_sizes = (16, None)}). Saved params JSON holds a tuple as its Python text, which
 * reads back as the same value.
 *
 * @param values the numbers given, null entries for None; empty when the whole setting is None
 * @param tuple  whether they were written as a tuple (a one-entry tuple is not a scalar)
 */
public record PerHierarchy(List<Integer> values, boolean tuple) {
    public static final PerHierarchy NONE = new PerHierarchy(List.of(), false);

    public PerHierarchy {
        values = Collections.unmodifiableList(new ArrayList<>(values));
    }

    public boolean isNone() {
        return values.isEmpty();
    }

    /**
     * The value of each of {@code n} hierarchies: {@code dflt} for None, the scalar repeated, or the tuple's entries
     * (None entries become {@code dflt} when {@code noneInside} allows them).
     *
     * @throws IllegalArgumentException when a tuple's length is not {@code n} or holds a None it may not
     */
    public int[] expand(int n, int dflt, boolean noneInside) {
        int[] out = new int[n];
        if (isNone()) {
            Arrays.fill(out, dflt);
        } else if (!tuple) {
            Arrays.fill(out, values.get(0) == null ? dflt : values.get(0));
        } else {
            if (values.size() != n)
                throw new IllegalArgumentException("a scalar or one value per hierarchy (" + n + "), got " + values.size() + " values");
            for (int i = 0; i < n; i++) {
                if (values.get(i) == null && !noneInside) throw new IllegalArgumentException("None is not allowed inside the tuple");
                out[i] = values.get(i) == null ? dflt : values.get(i);
            }
        }
        return out;
    }

    /** Reads a config or JSON value: None/null, a whole number, a tuple of them, or a tuple's Python text. */
    static PerHierarchy parse(Object v) {
        if (v == null || v == PyLiteral.NONE) return NONE;
        if (v instanceof String s) return parse(PyLiteral.parse(s));
        if (v instanceof PyLiteral.Tuple t) {
            List<Integer> xs = new ArrayList<>();
            for (Object x : t.items()) xs.add(x == PyLiteral.NONE ? null : whole(x));
            return new PerHierarchy(xs, true);
        }
        return new PerHierarchy(List.of(whole(v)), false);
    }

    private static int whole(Object x) {
        if (x instanceof Long l && l == (int) (long) l) return (int) (long) l;
        if (x instanceof Double d && d == Math.rint(d) && Math.abs(d) < Integer.MAX_VALUE) return (int) (double) d;
        throw new IllegalArgumentException("whole numbers");
    }

    /** As config files and saved params JSON hold it: null, a number, or the tuple's Python text. */
    Object toPython() {
        if (isNone()) return null;
        if (!tuple) return (long) values.get(0);
        List<Object> items = new ArrayList<>();
        for (Integer x : values) items.add(x == null ? PyLiteral.NONE : (Object) (long) x);
        return PyLiteral.repr(new PyLiteral.Tuple(items));
    }

    @Override
    public String toString() {
        Object p = toPython();
        return p == null ? "None" : p.toString();
    }
}
