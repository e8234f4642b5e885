package org.tinker.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Speed and round trips on the full PTB training split. Runs only where the corpus can be found (see
 * {@link TokenizerTestData#corpus}): e.g. {@code mvn -o test -Dtest='org.tinker.data.*Tokeniz*'
 * -Dtinker.corpora=/path/to/data}; skipped on a fresh clone. Prints its timings.
 */
class TokenizerCorporaTest {
    @Test
    void gpt2EncodesPtbTrainQuicklyAndCropRoundTrips() {
        String train = TokenizerTestData.corpus("ptb/train.txt");
        assumeTrue(train != null, "full PTB not available");
        List<String> lines = TokenizerTestData.corpusLines(train);
        Gpt2Tokenizer full = Gpt2Tokenizer.full();
        long t0 = System.nanoTime();
        long n = 0;
        for (String l : lines) n += full.encode(l).length;
        double first = (System.nanoTime() - t0) / 1e9;
        t0 = System.nanoTime();
        long m = 0;
        for (String l : lines) m += full.encode(l).length;
        double second = (System.nanoTime() - t0) / 1e9;
        assertEquals(n, m);
        t0 = System.nanoTime();
        Gpt2Tokenizer crop = Gpt2Tokenizer.cropped(lines);
        double cropTime = (System.nanoTime() - t0) / 1e9;
        System.out.printf("gpt2 encode PTB train (%d lines, %d chars): %d tokens, %.2f s (first pass), %.2f s (again);"
                + " crop %.2f s, cropped vocab %d%n", lines.size(), train.length(), n, first, second, cropTime, crop.vocabSize());
        for (String l : lines) assertEquals(l, crop.decode(crop.encode(l), true));
        assertTrue(first < 20, "gpt2 encoding of PTB train took " + first + " s");
    }

    @Test
    void customBpeTrainsOnPtbTrainTo20kQuickly() {
        String train = TokenizerTestData.corpus("ptb/train.txt");
        assumeTrue(train != null, "full PTB not available");
        List<String> lines = TokenizerTestData.corpusLines(train);
        long t0 = System.nanoTime();
        BpeTokenizer t = BpeTokenizer.train(lines, 20_000);
        double secs = (System.nanoTime() - t0) / 1e9;
        t0 = System.nanoTime();
        long n = 0;
        for (String l : lines) {
            int[] ids = t.encode(l);
            n += ids.length;
            assertEquals(l, t.decode(ids, true));
        }
        double enc = (System.nanoTime() - t0) / 1e9;
        System.out.printf("custom BPE on PTB train to 20000: %.2f s, vocab %d, %d merges; encode+decode %.2f s, %d tokens%n",
                secs, t.vocabSize(), t.mergeCount(), enc, n);
        assertTrue(t.vocabSize() <= 20_000);
        assertTrue(secs < 60, "training took " + secs + " s");
        String wiki = TokenizerTestData.corpus("wikitext-2/train.txt");
        if (wiki != null) {
            List<String> wl = TokenizerTestData.corpusLines(wiki);
            t0 = System.nanoTime();
            BpeTokenizer w = BpeTokenizer.train(wl, 20_000);
            secs = (System.nanoTime() - t0) / 1e9;
            System.out.printf("custom BPE on WikiText-2 train to 20000: %.2f s, vocab %d%n", secs, w.vocabSize());
            assertEquals(20_000, w.vocabSize());
            for (String l : wl.subList(0, 2000)) assertEquals(l, w.decode(w.encode(l), true));
        }
    }
}
