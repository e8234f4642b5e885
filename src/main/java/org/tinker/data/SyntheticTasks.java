package org.tinker.data;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The registry of synthetic tasks. A task is a {@link Generator} (usually a lambda) that draws one sample from a
 * {@link PyRandom}; adding a task is one {@link #register} call. {@link #generate} seeds the generator with 0 every
 * time (as the reference does with {@code random.seed(0)}), so a task's samples are the same on every run and
 * machine, and the first k samples of a longer list equal the samples of a shorter one.
 *
 * <p>The generators use the same draws, in the same order, as the reference's Python functions, so they produce
 * the same strings where the formats agree. What each task generates:
 * <ul>
 *   <li>{@code copy}: s = 0–60 chars of [a-zA-Z0-9]; {@code s + " :: " + s}.
 *   <li>{@code sort}: the same s; {@code s + " :: " + sorted(s)} (by char code: digits, upper, lower).
 *   <li>{@code histogram}: 10–80 letters of [a-zA-Z]; {@code letters + "::" + [c_1, ..., c_n]} where c_i is how
 *       often letter i occurs in the whole string (a Python list repr: {@code [1, 2, 1]}).
 *   <li>{@code doublehistogram}: the same letters; {@code letters + "::" + [d_1, ..., d_n]} where d_i is the number
 *       of <em>distinct</em> letters whose count equals letter i's count (the reference's
 *       {@code h1.count(c) // c} over the histogram h1). E.g. {@code aab} → counts [2, 2, 1] → [1, 1, 1];
 *       {@code ababc} → counts [2, 2, 2, 2, 1] → [2, 2, 2, 2, 1].
 *   <li>{@code long_addition}: n1, n2 in 2..20, a in [0, 10^n1], b in [0, 10^n2]; {@code a+b=sum} (decimal, no
 *       spaces). The reference wrote {@code a+b=a+b=sum} (the operands repeated as a scratchpad); tinker drops the
 *       repetition, with the same draws.
 *   <li>{@code numbersort}: 0–30 numbers in 0..999, each written with 3 digits, comma-separated in brackets:
 *       {@code [042,007]--[007,042]}. The reference wrote the unsorted list twice ({@code [..]--[..]--[sorted]});
 *       tinker writes it once, with the same draws.
 *   <li>{@code maskedcopy}: the copy sample, then one more draw {@code random() < 0.9}: when true (9 times in 10)
 *       the loss counts only from the character after {@code ::} ({@link Sample#lossFromChar}), else everything.
 *   <li>{@code keyword-icl}: episodes of a few-shot keyword-sentiment task whose labels are flipped in half of the
 *       episodes ({@link KeywordIcl}; the ICL evaluation of TinT uses the same episodes).
 * </ul>
 */
public final class SyntheticTasks {
    /** Draws one sample. */
    @FunctionalInterface
    public interface Generator {
        Sample next(PyRandom r);
    }

    /** The seed every synthetic task starts from (the reference's {@code random.seed(0)}). */
    public static final long SEED = 0;

    static final String LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    static final String ALNUM = LETTERS + "0123456789";

    private static final Map<String, Generator> REGISTRY = new LinkedHashMap<>();

    static {
        register("copy", r -> {
            String s = r.choices(ALNUM, r.randint(0, 60));
            return new Sample(s + " :: " + s);
        });
        register("sort", r -> {
            String s = r.choices(ALNUM, r.randint(0, 60));
            char[] c = s.toCharArray();
            Arrays.sort(c);
            return new Sample(s + " :: " + new String(c));
        });
        register("histogram", r -> {
            String s = r.choices(LETTERS, r.randint(10, 80));
            return new Sample(s + "::" + pyList(counts(s)));
        });
        register("doublehistogram", r -> {
            String s = r.choices(LETTERS, r.randint(10, 80));
            int[] h1 = counts(s);
            int[] res = new int[h1.length];
            for (int i = 0; i < h1.length; i++) {
                int same = 0;
                for (int c : h1) if (c == h1[i]) same++;
                res[i] = same / h1[i];
            }
            return new Sample(s + "::" + pyList(res));
        });
        register("long_addition", r -> {
            int n1 = r.randint(2, 20);
            int n2 = r.randint(2, 20);
            BigInteger a = r.randint(BigInteger.ZERO, BigInteger.TEN.pow(n1));
            BigInteger b = r.randint(BigInteger.ZERO, BigInteger.TEN.pow(n2));
            return new Sample(a + "+" + b + "=" + a.add(b));
        });
        register("numbersort", r -> {
            int n = r.randint(0, 30);
            int[] nums = new int[n];
            for (int i = 0; i < n; i++) nums[i] = r.randint(0, 999);
            int[] sorted = nums.clone();
            Arrays.sort(sorted);
            return new Sample(threeDigitList(nums) + "--" + threeDigitList(sorted));
        });
        register("maskedcopy", r -> {
            String s = r.choices(ALNUM, r.randint(0, 60));
            String text = s + " :: " + s;
            boolean mask = r.random() < 0.9;
            return new Sample(text, mask ? text.indexOf("::") + 2 : 0);
        });
        register(KeywordIcl.TASK.name(), KeywordIcl.TASK::sample);
    }

    private SyntheticTasks() {}

    /** Adds (or replaces) a task. */
    public static synchronized void register(String name, Generator g) {
        if (name == null || name.isBlank()) throw new IllegalArgumentException("task name must not be blank");
        REGISTRY.put(name, g);
    }

    public static synchronized boolean has(String name) {
        return REGISTRY.containsKey(name);
    }

    /** Names in registration order. */
    public static synchronized List<String> names() {
        return Collections.unmodifiableList(new ArrayList<>(REGISTRY.keySet()));
    }

    /** The first n samples of the task, from seed {@link #SEED}. */
    public static List<Sample> generate(String name, int n) {
        Generator g;
        synchronized (SyntheticTasks.class) {
            g = REGISTRY.get(name);
        }
        if (g == null) throw new IllegalArgumentException("no synthetic task " + name);
        PyRandom r = new PyRandom(SEED);
        List<Sample> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) out.add(g.next(r));
        return out;
    }

    /** For each character of s, how often it occurs in s. */
    static int[] counts(String s) {
        int[] freq = new int[128];
        for (int i = 0; i < s.length(); i++) freq[s.charAt(i)]++;
        int[] out = new int[s.length()];
        for (int i = 0; i < s.length(); i++) out[i] = freq[s.charAt(i)];
        return out;
    }

    /** Python's {@code str(list_of_ints)}: {@code [1, 2, 3]}. */
    static String pyList(int[] v) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < v.length; i++) {
            if (i > 0) sb.append(", ");
            sb.append(v[i]);
        }
        return sb.append(']').toString();
    }

    static String threeDigitList(int[] v) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < v.length; i++) {
            if (i > 0) sb.append(',');
            sb.append(String.format("%03d", v[i]));
        }
        return sb.append(']').toString();
    }
}
