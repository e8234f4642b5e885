package org.tinker.data;

import java.util.ArrayList;
import java.util.List;

/**
 * The one place where data without splits of its own is cut into train / valid / test, and where lines are
 * grouped into samples.
 *
 * <p>Rule: the items (lines of a natural text, or samples of a synthetic task) are cut <em>contiguously, in order,
 * without shuffling</em>: train first, then valid, then test. valid gets {@code floor(val_pct * n / 100)} items and
 * test {@code floor(test_pct * n / 100)}, each at least 1 when its percentage is above 0 (as the reference); train
 * gets the rest. When n is too small for that, train gets at least 1 item first, then valid, then test.
 * Natural text is cut by lines and then grouped into samples within each split (so no sample straddles two
 * splits); synthetic tasks are cut by samples.
 */
public final class SplitRule {
    private SplitRule() {}

    /** {train, valid, test} sizes for n items. */
    public static int[] sizes(int n, double valPct, double testPct) {
        int val = valPct > 0 ? Math.max((int) Math.floor(valPct * n / 100.0), 1) : 0;
        int test = testPct > 0 ? Math.max((int) Math.floor(testPct * n / 100.0), 1) : 0;
        int train = n - val - test;
        // too few items: train first, then valid, then test
        while (train < Math.min(1, n)) {
            if (test > 0) test--;
            else if (val > 0) val--;
            train = n - val - test;
        }
        return new int[] {train, val, test};
    }

    /** Cuts items into three contiguous lists by {@link #sizes}. */
    public static <T> List<List<T>> cut(List<T> items, double valPct, double testPct) {
        int[] s = sizes(items.size(), valPct, testPct);
        List<List<T>> out = new ArrayList<>(3);
        out.add(items.subList(0, s[0]));
        out.add(items.subList(s[0], s[0] + s[1]));
        out.add(items.subList(s[0] + s[1], items.size()));
        return out;
    }

    /**
     * Groups lines into samples of {@code linesPerSample} lines joined by {@code "\n"} (the last sample may be
     * shorter); -1 makes all lines one sample. No lines → no samples.
     */
    public static List<Sample> group(List<String> lines, int linesPerSample) {
        if (linesPerSample == 0 || linesPerSample < -1) {
            throw new IllegalArgumentException("lines_per_sample must be positive or -1: " + linesPerSample);
        }
        List<Sample> out = new ArrayList<>();
        if (lines.isEmpty()) return out;
        int step = linesPerSample == -1 ? lines.size() : linesPerSample;
        for (int i = 0; i < lines.size(); i += step) {
            int end = Math.min(lines.size(), i + step);
            out.add(new Sample(end - i == 1 ? lines.get(i) : String.join("\n", lines.subList(i, end))));
        }
        return out;
    }

    /** The first n items (all when n is null). */
    public static <T> List<T> crop(List<T> items, Integer n) {
        return n == null || n >= items.size() ? items : items.subList(0, n);
    }
}
