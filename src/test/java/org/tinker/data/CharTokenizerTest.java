package org.tinker.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class CharTokenizerTest {
    @Test
    void tinyShakespeareHas65CharactersPlus4SpecialsAndRoundTrips() {
        String text = TokenizerTestData.text("tinyshakespeare-sample.txt");
        CharTokenizer t = CharTokenizer.build(List.of(text));
        assertEquals(65 + 4, t.vocabSize());
        assertEquals(text, t.decode(t.encode(text), true));
        assertEquals(text.length(), t.encode(text).length);
        // the vocabulary is sorted by code point, specials sorted in among the characters (as the reference)
        List<String> v = t.vocab();
        List<String> sorted = new ArrayList<>(v);
        sorted.sort(Tokenizers.CODE_POINT_ORDER);
        assertEquals(sorted, v);
        assertEquals("\n", v.get(0));
        assertEquals(" ", v.get(1));
        assertEquals(v.indexOf("<unk>"), t.unkId());
        assertEquals(v.indexOf("<pad>"), t.padId());
        assertEquals(v.indexOf("<bos>"), t.bosId());
        assertEquals(v.indexOf("<eos>"), t.eosId());
        // per-line samples: no newline in the vocabulary
        CharTokenizer lines = CharTokenizer.build(TokenizerTestData.lines("tinyshakespeare-sample.txt"));
        assertEquals(64 + 4, lines.vocabSize());
    }

    @Test
    void unknownCharactersAndSpecials() {
        CharTokenizer t = CharTokenizer.build(List.of("abc", "cab\u00e9\uD83D\uDE00"));
        assertEquals(5 + 4, t.vocabSize());
        int[] ids = t.encode("a\uD83D\uDE00zé");
        assertEquals(4, ids.length, "one id per code point");
        assertEquals(t.unkId(), ids[2]);
        assertEquals("a\uD83D\uDE00<unk>é", t.decode(ids, true));
        int[] s = t.encodeSample("ab");
        assertArrayEquals(new int[] {t.bosId(), t.encode("a")[0], t.encode("b")[0], t.eosId()}, s);
        assertEquals("ab", t.decode(s, true));
        assertEquals("<bos>ab<eos>", t.decode(s, false));
        assertEquals("<pad>", t.decode(new int[] {t.padId()}, false));
        assertEquals("", t.decode(new int[] {t.padId()}, true));
        assertEquals("<unk>", t.tokenLabel(t.unkId()));
    }

    @Test
    void labels() {
        CharTokenizer t = CharTokenizer.build(List.of("a b\n\tc"));
        assertEquals("␣", t.tokenLabel(t.encode(" ")[0]));
        assertEquals("\\n", t.tokenLabel(t.encode("\n")[0]));
        assertEquals("\\t", t.tokenLabel(t.encode("\t")[0]));
        assertEquals("a", t.tokenLabel(t.encode("a")[0]));
        assertTrue(t.encode("x")[0] == t.unkId());
    }
}
