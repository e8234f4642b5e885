package org.tinker.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class WordTokenizerTest {
    @Test
    void ptbSampleVocabularyIsItsWordsPlusPadBosEosReusingUnk() {
        List<String> lines = TokenizerTestData.lines("ptb-train-sample.txt");
        Set<String> words = new HashSet<>();
        for (String l : lines) for (String w : l.trim().split(" +")) if (!w.isEmpty()) words.add(w);
        assertTrue(words.contains("<unk>"), "PTB writes <unk> itself");
        WordTokenizer t = WordTokenizer.build(lines);
        assertEquals(words.size() + 3, t.vocabSize());
        assertEquals("<unk>", t.vocab().get(t.unkId()));
        for (String l : lines) {
            int[] ids = t.encode(l);
            assertEquals(l.trim(), t.decode(ids, true));
            int[] s = t.encodeSample(l);
            assertEquals(t.bosId(), s[0]);
            assertEquals(t.eosId(), s[s.length - 1]);
            assertEquals(ids.length + 2, s.length);
        }
    }

    @Test
    void unknownWordsAndSplitting() {
        WordTokenizer t = WordTokenizer.build(List.of("the cat  sat\n", "on\tthe mat"));
        assertEquals(5 + 4, t.vocabSize());
        int[] ids = t.encode("  the dog\u00a0sat \n");
        assertEquals(3, ids.length);
        assertEquals(t.unkId(), ids[1], "NBSP separates words; dog is unknown");
        assertEquals("the <unk> sat", t.decode(ids, true));
        assertArrayEquals(new int[0], t.encode(" \n\t "));
        assertEquals("<bos> the <eos>", t.decode(t.encodeSample("the"), false));
        // a sample of several lines keeps its line ends as <eos>, and decodes back to lines
        int[] two = t.encode("the cat\n\nsat on\n");
        assertEquals(List.of("the", "cat", "<eos>", "sat", "on"), java.util.Arrays.stream(two).mapToObj(t::tokenLabel).toList());
        assertEquals("the cat\nsat on", t.decode(two, true));
        assertEquals("cat", t.tokenLabel(t.encode("cat")[0]));
        assertEquals(List.of("a", "b", "c"), WordTokenizer.splitWords("\u3000a  b\u2028c\r\n"));
    }

    /** The full PTB count, when the corpus is available (see {@link TokenizerTestData#corpus}). */
    @Test
    void fullPtbHas10000TypesWithEos() {
        String train = TokenizerTestData.corpus("ptb/train.txt");
        String valid = TokenizerTestData.corpus("ptb/valid.txt");
        String test = TokenizerTestData.corpus("ptb/test.txt");
        org.junit.jupiter.api.Assumptions.assumeTrue(train != null && valid != null && test != null,
                "full PTB not available");
        List<String> lines = new java.util.ArrayList<>(TokenizerTestData.corpusLines(train));
        lines.addAll(TokenizerTestData.corpusLines(valid));
        lines.addAll(TokenizerTestData.corpusLines(test));
        WordTokenizer t = WordTokenizer.build(lines);
        Set<String> types = new HashSet<>(t.vocab());
        types.remove("<pad>");
        types.remove("<bos>");
        assertEquals(10_000, types.size(), "PTB words + <eos>");
        assertEquals(10_002, t.vocabSize());
    }
}
