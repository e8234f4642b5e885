package org.tinker.config;

import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * One named idea with its arguments, as a config writes it: {@code scale_attention_scores(4.0)} or {@code freeze_random_layers}.
 * A config field holds several separated by {@code ;} (applied in that order):
 * <pre>
 *   recipes   = "relu_after_layer(0); scale_attention_scores(2)"      # [ModelParams]: hooks on the model
 *   callbacks = "corrupt_inputs(0.2); track_max_param(100)"          # [TrainParams]: training-loop callbacks
 * </pre>
 * Arguments are numbers. What a name means is up to the {@link RecipeBook} of the field; a name no book knows is
 * looked up as a class on the class path: {@code per_head_temperature} → {@code recipes.PerHeadTemperature}
 * (a researcher's own recipe in {@code src/recipes/java/recipes/}, see docs/recipes.md).
 */
public record RecipeCall(String name, List<Double> args) {
    public RecipeCall {
        args = List.copyOf(args);
    }

    /** Where a researcher's own recipes live: classes of this package, named in CamelCase. */
    public static final String USER_PACKAGE = "recipes";

    /** Parses a {@code ;}-separated list ({@code ""} = none); throws IllegalArgumentException saying what is wrong. */
    public static List<RecipeCall> parseAll(String text) {
        List<RecipeCall> out = new ArrayList<>();
        if (text == null || text.isBlank()) return out;
        for (String part : text.split(";", -1)) {
            String p = part.strip();
            if (p.isEmpty()) throw new IllegalArgumentException("an empty entry between ';' in \"" + text + "\"");
            out.add(parse(p));
        }
        return out;
    }

    /** One call: {@code name} or {@code name(a, b, ...)} with numeric arguments. */
    public static RecipeCall parse(String text) {
        String t = text.strip();
        int open = t.indexOf('(');
        String name = open < 0 ? t : t.substring(0, open).strip();
        if (!name.matches("[A-Za-z_][A-Za-z0-9_]*"))
            throw new IllegalArgumentException("'" + t + "' is not name or name(arguments)");
        List<Double> args = new ArrayList<>();
        if (open >= 0) {
            if (!t.endsWith(")")) throw new IllegalArgumentException("'" + t + "' lacks its closing ')'");
            String inner = t.substring(open + 1, t.length() - 1).strip();
            if (!inner.isEmpty()) {
                for (String a : inner.split(",", -1)) {
                    try {
                        double v = Double.parseDouble(a.strip());
                        if (!Double.isFinite(v)) throw new NumberFormatException();
                        args.add(v);
                    } catch (NumberFormatException e) {
                        throw new IllegalArgumentException("argument '" + a.strip() + "' of " + name + " is not a finite number");
                    }
                }
            }
        }
        return new RecipeCall(name, args);
    }

    /** Argument {@code i} as an integer; IllegalArgumentException when it is not one. */
    public int intArg(int i) {
        double v = args.get(i);
        if (v != Math.rint(v) || Math.abs(v) > Integer.MAX_VALUE)
            throw new IllegalArgumentException(name + " needs an integer as argument " + (i + 1) + ", got " + v);
        return (int) v;
    }

    /** The canonical text, as {@link #parse} reads it back: {@code name(1.0, 2)}. */
    @Override
    public String toString() {
        if (args.isEmpty()) return name;
        List<String> a = new ArrayList<>();
        for (double v : args) a.add(v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v));
        return name + "(" + String.join(", ", a) + ")";
    }

    /** {@code per_head_temperature} → {@code recipes.PerHeadTemperature}. */
    public String userClassName() {
        StringBuilder b = new StringBuilder(USER_PACKAGE).append('.');
        for (String w : name.split("_")) if (!w.isEmpty()) b.append(w.substring(0, 1).toUpperCase(Locale.ROOT)).append(w.substring(1));
        return b.toString();
    }

    /**
     * A researcher's own recipe: an instance of {@link #userClassName()} built from the arguments through its public
     * constructor with as many numeric ({@code double}, {@code int}, {@code long}, {@code float}) parameters; null when no
     * such class is on the class path. IllegalArgumentException when the class is there but is not a {@code type}, or no
     * constructor fits the arguments.
     */
    public <T> T construct(Class<T> type) {
        Class<?> c;
        try {
            c = Class.forName(userClassName(), true, Thread.currentThread().getContextClassLoader());
        } catch (ClassNotFoundException | LinkageError e) {
            return null;
        }
        if (!type.isAssignableFrom(c))
            throw new IllegalArgumentException(c.getName() + " (for " + name + ") is not a " + type.getSimpleName());
        for (Constructor<?> k : c.getConstructors()) {
            Class<?>[] ps = k.getParameterTypes();
            if (ps.length != args.size()) continue;
            Object[] values = new Object[ps.length];
            for (int i = 0; i < ps.length; i++) {
                Class<?> p = ps[i];
                if (p == double.class || p == Double.class) values[i] = args.get(i);
                else if (p == float.class || p == Float.class) values[i] = (float) (double) args.get(i);
                else if (p == int.class || p == Integer.class) values[i] = intArg(i);
                else if (p == long.class || p == Long.class) values[i] = (long) intArg(i);
                else values = null;
                if (values == null) break;
            }
            if (values == null) continue;
            try {
                return type.cast(k.newInstance(values));
            } catch (InvocationTargetException e) {
                Throwable cause = e.getCause();
                throw new IllegalArgumentException(name + ": " + (cause.getMessage() == null ? cause.toString() : cause.getMessage()));
            } catch (ReflectiveOperationException e) {
                throw new IllegalArgumentException(name + ": cannot build " + c.getName() + " (" + e + ")");
            }
        }
        throw new IllegalArgumentException(c.getName() + " has no public constructor taking " + args.size() + " number(s)");
    }
}
