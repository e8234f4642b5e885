package org.tinker.data;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tinker.config.ConfigError;
import org.tinker.config.DataParams;
import org.tinker.data.DataModule.Split;

class DataModuleTest {
    static DataModule dm(List<Sample> train, DataParams dp, int modelLen, boolean synthetic) {
        Splits s = new Splits(train, List.of(new Sample("vv")), List.of(new Sample("tt")), true);
        return new DataModule(new TestCharTok(DataModule.allTexts(s)), s, dp, modelLen, synthetic);
    }

    static String text(int n) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) sb.append((char) ('a' + i % 26));
        return sb.toString();
    }

    @Test
    void effectiveMaxLen() {
        assertEquals(16, dm(List.of(new Sample("ab")), TestParams.of("x", null, true, 1, -1, 1), 16, false).maxLen());
        assertEquals(8, dm(List.of(new Sample("ab")), TestParams.of("x", null, true, 1, 8, 1), 16, false).maxLen());
        assertEquals(16, dm(List.of(new Sample("ab")), TestParams.of("x", null, true, 1, 99, 1), 16, false).maxLen());
    }

    @Test
    void chunksOverlapByOneAndCoverEveryToken() {
        int L = 8;
        for (int n : new int[] {0, 1, 5, 6, 7, 14, 15, 16, 40}) {
            String t = text(n); // n + 2 tokens with bos/eos
            DataModule d = dm(List.of(new Sample(t)), TestParams.of("x", null, true, 1, L, 1), L, false);
            int[] all = d.tokenizer().encodeSample(t);
            assertEquals(all.length, d.tokens(Split.TRAIN));
            List<int[]> chunks = new ArrayList<>();
            for (int i = 0; i < d.size(Split.TRAIN); i++) chunks.add(d.sample(Split.TRAIN, i));
            // expected: s[i:i+L+1] for i in range(0, len, L), keeping chunks of > 1 token
            List<int[]> exp = new ArrayList<>();
            for (int i = 0; i < all.length; i += L) {
                int[] c = Arrays.copyOfRange(all, i, Math.min(all.length, i + L + 1));
                if (c.length > 1) exp.add(c);
            }
            assertEquals(exp.size(), chunks.size(), "n=" + n);
            for (int i = 0; i < exp.size(); i++) assertArrayEquals(exp.get(i), chunks.get(i));
            for (int i = 1; i < chunks.size(); i++) {
                int[] prev = chunks.get(i - 1);
                assertEquals(prev[prev.length - 1], chunks.get(i)[0], "overlap by one token");
            }
            // every target token of the sample is predicted exactly once
            int targets = 0;
            for (int[] c : chunks) targets += c.length - 1;
            assertEquals(all.length - 1, targets, "n=" + n);
        }
        // 17 tokens with L=8: chunks [0:9], [8:17], and [16:17] (1 token) dropped
        DataModule d = dm(List.of(new Sample(text(15))), TestParams.of("x", null, true, 1, 8, 1), 8, false);
        assertEquals(2, d.size(Split.TRAIN));
    }

    @Test
    void syntheticTooLongIsAnErrorUnlessAllowed() {
        DataParams strict = TestParams.of("copy", null, false, 1, -1, 1);
        // exactly L+1 tokens (L-1 chars + bos + eos) fits in one chunk: fine
        DataModule ok = dm(List.of(new Sample(text(9))), strict, 10, true);
        assertEquals(1, ok.size(Split.TRAIN));
        ConfigError e = assertThrows(ConfigError.class, () -> dm(List.of(new Sample(text(10))), strict, 10, true));
        String m = e.getMessage();
        assertTrue(m.contains("'copy'") && m.contains("12 tokens") && m.contains("max_seq_len 10"), m);
        assertFalse(m.contains("\n"));
        DataModule broken = dm(List.of(new Sample(text(10))), TestParams.of("copy", null, true, 1, -1, 1), 10, true);
        assertEquals(2, broken.size(Split.TRAIN));
        // natural data is chunked without complaint
        assertEquals(2, dm(List.of(new Sample(text(10))), strict, 10, false).size(Split.TRAIN));
    }

    @Test
    void batchesArePaddedAndMasked() {
        DataModule d = dm(List.of(new Sample("abc"), new Sample("a"), new Sample(text(20))),
                TestParams.of("x", null, true, 1, 6, 1), 64, false);
        // chunks: "abc" (5 tokens), "a" (3), then 22 tokens with L=6: [0:7], [6:13], [12:19], [18:22]
        assertEquals(6, d.size(Split.TRAIN));
        Batch b = d.batch(Split.TRAIN, new int[] {1, 0, 2});
        assertEquals(3, b.size());
        assertEquals(7, b.width());
        assertArrayEquals(new int[] {3, 5, 7}, b.lengths());
        int pad = d.tokenizer().padId();
        assertArrayEquals(new int[] {1, d.tokenizer().encode("a")[0], 2, pad, pad, pad, pad}, b.ids()[0]);
        assertArrayEquals(new float[] {1, 1, 0, 0, 0, 0}, b.lossMask()[0]);
        assertArrayEquals(new float[] {1, 1, 1, 1, 0, 0}, b.lossMask()[1]);
        assertArrayEquals(new float[] {1, 1, 1, 1, 1, 1}, b.lossMask()[2]);
        assertEquals(2 + 4 + 6, b.targetTokens());
        // collate = mycollate
        Batch c = DataModule.collate(List.of(new int[] {5, 6, 7}, new int[] {8}), 0);
        assertArrayEquals(new int[][] {{5, 6, 7}, {8, 0, 0}}, c.ids());
        assertArrayEquals(new float[][] {{1, 1}, {0, 0}}, c.lossMask());
        assertTrue(d.showSample(Split.TRAIN, 0).contains("<bos>abc<eos>"));
    }

    @Test
    void maskedCopyMasksThePrefix() {
        String t = "ab :: ab";
        Sample s = new Sample(t, t.indexOf("::") + 2);
        DataModule d = dm(List.of(s), TestParams.of("maskedcopy", null, false, 1, -1, 1), 64, true);
        Batch b = d.batch(Split.TRAIN, new int[] {0});
        // tokens: bos a b ' ' : : ' ' a b eos; targets from index 1; counted: the targets after "::" = " ab" + eos
        float[] m = b.lossMask()[0];
        assertEquals(9, m.length);
        assertArrayEquals(new float[] {0, 0, 0, 0, 0, 1, 1, 1, 1}, m);
        // across chunks, the mask continues
        DataModule small = dm(List.of(s), TestParams.of("maskedcopy", null, true, 1, 4, 1), 64, true);
        assertEquals(3, small.size(Split.TRAIN));
        float total = 0;
        for (int i = 0; i < 3; i++) for (float v : small.batch(Split.TRAIN, new int[] {i}).lossMask()[0]) total += v;
        assertEquals(4, total);
        // with real maskedcopy samples, ~90% have masked prefixes
        List<Sample> mc = SyntheticTasks.generate("maskedcopy", 500);
        DataModule big = dm(mc, TestParams.of("maskedcopy", null, false, 1, -1, 1), 200, true);
        int masked = 0;
        for (int i = 0; i < big.size(Split.TRAIN); i++) if (big.firstTarget(Split.TRAIN, i) > 1) masked++;
        assertTrue(masked > 430 && masked < 470, "masked " + masked);
    }

    @Test
    void shuffleIsADeterministicPermutation() {
        List<Sample> ss = new ArrayList<>();
        for (int i = 0; i < 103; i++) ss.add(new Sample("s" + i));
        DataModule d = dm(ss, TestParams.of("x", null, true, 1, -1, 1), 32, false);
        int[][] a = d.batchOrder(Split.TRAIN, 10, true, 42);
        int[][] a2 = d.batchOrder(Split.TRAIN, 10, true, 42);
        int[][] c = d.batchOrder(Split.TRAIN, 10, true, 43);
        assertEquals(11, a.length);
        assertEquals(3, a[10].length);
        assertTrue(Arrays.deepEquals(a, a2));
        assertFalse(Arrays.deepEquals(a, c));
        int[] flat = Arrays.stream(a).flatMapToInt(Arrays::stream).toArray();
        int[] sorted = flat.clone();
        Arrays.sort(sorted);
        for (int i = 0; i < 103; i++) assertEquals(i, sorted[i]);
        assertFalse(Arrays.equals(sorted, flat));
        int[][] plain = d.batchOrder(Split.TRAIN, 10, false, 42);
        assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, plain[0]);
    }

    @Test
    void unsplitSamplesAreCutHereBySplitRule() {
        List<Sample> ss = new ArrayList<>();
        for (int i = 0; i < 20; i++) ss.add(new Sample("s" + i));
        Splits s = Splits.unsplit(ss);
        DataModule d = new DataModule(new TestCharTok(DataModule.allTexts(s)), s, TestParams.of("x"), 32, false);
        assertEquals(List.of(17, 2, 1), List.of(d.size(Split.TRAIN), d.size(Split.VALID), d.size(Split.TEST)));
        assertTrue(d.showSample(Split.TEST, 0).contains("s19"));
    }

    @Test
    void ptbWithAWordTokenizerKeepsEveryToken() {
        DataParams dp = TestParams.of("ptb");
        LoadedTask t = Tasks.load(dp, Path.of("."));
        long t0 = System.nanoTime();
        TestWordTok tok = new TestWordTok(DataModule.allTexts(t.splits()));
        long t1 = System.nanoTime();
        DataModule d = new DataModule(tok, t.splits(), dp, 64, false);
        long t2 = System.nanoTime();
        System.out.printf("PTB word tokenizer: build vocab %.0f ms, DataModule %.0f ms%n", (t1 - t0) / 1e6, (t2 - t1) / 1e6);
        assertEquals(10_000 + 4 - 1, tok.vocabSize()); // 9,999 words + pad, bos, eos, unk (<unk> is a word in PTB)
        assertEquals(887_521 + 2L * 42_068, d.tokens(Split.TRAIN));
        assertEquals(3_370, d.size(Split.VALID) - countLong(t.splits().valid(), tok, 64));
    }

    /** Extra chunks that samples longer than L+1 tokens add. */
    static int countLong(List<Sample> ss, Tokenizer tok, int L) {
        int extra = 0;
        for (Sample s : ss) {
            int n = tok.encodeSample(s.text()).length;
            int chunks = 0;
            for (int i = 0; i < n; i += L) if (Math.min(L + 1, n - i) > 1) chunks++;
            extra += chunks - 1;
        }
        return extra;
    }
}
