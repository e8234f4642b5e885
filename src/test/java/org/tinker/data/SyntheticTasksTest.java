package org.tinker.data;

import static org.junit.jupiter.api.Assertions.*;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SyntheticTasksTest {
    static final int N = 2000;

    static List<String> expected(String task) throws Exception {
        List<String> out = new ArrayList<>();
        try (var r = new BufferedReader(new InputStreamReader(
                SyntheticTasksTest.class.getResourceAsStream("/synthetic/" + task + ".txt"), StandardCharsets.UTF_8))) {
            String l;
            while ((l = r.readLine()) != null) out.add(l);
        }
        return out;
    }

    /** The first 200 samples of every task equal CPython 3.11's draws after random.seed(0) (fixture: src/test/resources/synthetic/README.md). */
    @Test
    void matchesCPythonRandomSeed0() throws Exception {
        for (String task : List.of("copy", "sort", "histogram", "doublehistogram", "long_addition", "numbersort", "maskedcopy")) {
            List<String> exp = expected(task);
            List<Sample> got = SyntheticTasks.generate(task, exp.size());
            for (int i = 0; i < exp.size(); i++) {
                String g = task.equals("maskedcopy") ? got.get(i).text() + "\t" + got.get(i).lossFromChar() : got.get(i).text();
                assertEquals(exp.get(i), g, task + " sample " + i);
            }
        }
    }

    @Test
    void pythonRandomPrimitives() {
        PyRandom r = new PyRandom(0);
        // python3 -c "import random; random.seed(0); print(random.random(), random.getrandbits(70), random.randint(1, 6))"
        assertEquals(0.8444218515250481, r.random(), 0.0);
        assertEquals(new BigInteger("496037447641349049516"), r.getrandbits(70));
        assertEquals(1, r.randint(1, 6));
    }

    @Test
    void deterministicAndPrefixStable() {
        for (String t : SyntheticTasks.names()) {
            List<Sample> a = SyntheticTasks.generate(t, 300);
            assertEquals(a, SyntheticTasks.generate(t, 300), t);
            assertEquals(a.subList(0, 100), SyntheticTasks.generate(t, 100), t);
        }
    }

    @Test
    void copyAndSort() {
        for (Sample s : SyntheticTasks.generate("copy", N)) {
            String[] p = s.text().split(" :: ", -1);
            assertEquals(2, p.length);
            assertEquals(p[0], p[1]);
            assertTrue(p[0].length() <= 60 && p[0].chars().allMatch(c -> SyntheticTasks.ALNUM.indexOf(c) >= 0));
            assertEquals(0, s.lossFromChar());
        }
        boolean sawEmpty = false;
        for (Sample s : SyntheticTasks.generate("sort", N)) {
            String[] p = s.text().split(" :: ", -1);
            char[] c = p[0].toCharArray();
            Arrays.sort(c);
            assertEquals(new String(c), p[1]);
            for (int i = 1; i < p[1].length(); i++) assertTrue(p[1].charAt(i - 1) <= p[1].charAt(i));
            sawEmpty |= p[0].isEmpty();
        }
        assertTrue(sawEmpty, "lengths 0..60 include 0 in 2000 draws");
    }

    static int[] parseList(String s) {
        assertTrue(s.startsWith("[") && s.endsWith("]"), s);
        String body = s.substring(1, s.length() - 1);
        if (body.isEmpty()) return new int[0];
        return Arrays.stream(body.split(", ")).mapToInt(Integer::parseInt).toArray();
    }

    @Test
    void histogramCountsAreRight() {
        for (Sample s : SyntheticTasks.generate("histogram", N)) {
            String[] p = s.text().split("::", -1);
            String letters = p[0];
            assertTrue(letters.length() >= 10 && letters.length() <= 80);
            assertTrue(letters.chars().allMatch(Character::isLetter));
            int[] h = parseList(p[1]);
            assertEquals(letters.length(), h.length);
            for (int i = 0; i < h.length; i++) {
                char c = letters.charAt(i);
                assertEquals(letters.chars().filter(x -> x == c).count(), h[i]);
            }
        }
        assertEquals("[1, 2, 2]", SyntheticTasks.pyList(SyntheticTasks.counts("abb")));
        assertEquals("[]", SyntheticTasks.pyList(new int[0]));
    }

    @Test
    void doubleHistogramIsDistinctLettersSharingTheCount() {
        for (Sample s : SyntheticTasks.generate("doublehistogram", N)) {
            String[] p = s.text().split("::", -1);
            String letters = p[0];
            int[] d = parseList(p[1]);
            assertEquals(letters.length(), d.length);
            for (int i = 0; i < d.length; i++) {
                char c = letters.charAt(i);
                long mine = letters.chars().filter(x -> x == c).count();
                long distinctSame = letters.chars().distinct()
                        .filter(y -> letters.chars().filter(x -> x == y).count() == mine).count();
                assertEquals(distinctSame, d[i]);
            }
        }
    }

    @Test
    void longAdditionIsRight() {
        for (Sample s : SyntheticTasks.generate("long_addition", N)) {
            String t = s.text();
            assertTrue(t.matches("\\d+\\+\\d+=\\d+"), t);
            String[] ab = t.split("=")[0].split("\\+");
            BigInteger a = new BigInteger(ab[0]);
            BigInteger b = new BigInteger(ab[1]);
            assertEquals(a.add(b), new BigInteger(t.split("=")[1]), t);
            assertTrue(a.compareTo(BigInteger.TEN.pow(20)) <= 0 && b.compareTo(BigInteger.TEN.pow(20)) <= 0);
        }
    }

    @Test
    void numberSortIsSorted() {
        for (Sample s : SyntheticTasks.generate("numbersort", N)) {
            String[] p = s.text().split("--", -1);
            assertEquals(2, p.length, s.text());
            int[] a = parseThree(p[0]);
            int[] b = parseThree(p[1]);
            assertTrue(a.length <= 30);
            int[] sa = a.clone();
            Arrays.sort(sa);
            assertArrayEquals(sa, b);
        }
    }

    static int[] parseThree(String s) {
        String body = s.substring(1, s.length() - 1);
        if (body.isEmpty()) return new int[0];
        String[] parts = body.split(",");
        for (String x : parts) assertEquals(3, x.length(), s);
        return Arrays.stream(parts).mapToInt(Integer::parseInt).toArray();
    }

    @Test
    void maskedCopyMasksAboutNineInTen() {
        int masked = 0;
        for (Sample s : SyntheticTasks.generate("maskedcopy", N)) {
            String[] p = s.text().split(" :: ", -1);
            assertEquals(p[0], p[1]);
            if (s.lossFromChar() > 0) {
                masked++;
                assertEquals(s.text().indexOf("::") + 2, s.lossFromChar());
            }
        }
        assertTrue(masked > 0.87 * N && masked < 0.93 * N, "masked " + masked);
    }

    @Test
    void newTaskIsOneLambda(@TempDir Path root) {
        SyntheticTasks.register("test_constant", r -> new Sample("ab" + r.randint(0, 9)));
        LoadedTask t = Tasks.load(TestParams.of("test_constant", null, false, 1, -1, 40), root);
        assertTrue(t.synthetic());
        assertEquals(40, t.splits().train().size() + t.splits().valid().size() + t.splits().test().size());
        assertEquals(List.of(34, 4, 2), List.of(t.splits().train().size(), t.splits().valid().size(), t.splits().test().size()));
    }
}
