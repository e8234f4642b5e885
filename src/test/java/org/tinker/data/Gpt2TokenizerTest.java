package org.tinker.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

class Gpt2TokenizerTest {
    @Test
    void everyFixtureCaseGivesTheExactIdsAndDecodesBack() {
        List<TokenizerTestData.Case> cases = TokenizerTestData.gpt2Cases();
        assertEquals(46, cases.size());
        Gpt2Tokenizer t = Gpt2Tokenizer.full();
        List<String> failures = new ArrayList<>();
        for (TokenizerTestData.Case c : cases) {
            int[] ids = t.encode(c.text());
            if (!java.util.Arrays.equals(c.ids(), ids))
                failures.add("line " + c.line() + ": expected " + java.util.Arrays.toString(c.ids()) + " got " + java.util.Arrays.toString(ids));
            if (!c.text().equals(t.decode(c.ids(), true))) failures.add("line " + c.line() + ": decode differs");
            if (!c.text().equals(t.decode(c.ids(), false))) failures.add("line " + c.line() + ": decode (no skip) differs");
        }
        assertEquals(List.of(), failures);
        // the second pass goes through the per-word cache and must give the same
        for (TokenizerTestData.Case c : cases) assertArrayEquals(c.ids(), t.encode(c.text()), "cached, line " + c.line());
    }

    @Test
    void fullVocabularyAndSpecials() {
        Gpt2Tokenizer t = Gpt2Tokenizer.full();
        assertSame(t, Gpt2Tokenizer.full());
        assertFalse(t.isCropped());
        assertEquals(50257, t.vocabSize());
        assertEquals(50256, t.eosId());
        assertEquals(50256, t.bosId());
        assertEquals(50256, t.unkId());
        assertEquals(50256, t.padId());
        assertEquals(17, t.originalId(17));
        assertEquals(17, t.fromOriginalId(17));
        assertArrayEquals(new int[] {50256, 15496, 995, 50256}, t.encodeSample("Hello world"));
        assertArrayEquals(new int[] {50256, 15496}, t.encodePrompt("Hello"));
        assertEquals("<|endoftext|>Hello world<|endoftext|>", t.decode(t.encodeSample("Hello world"), false));
        assertEquals("Hello world", t.decode(t.encodeSample("Hello world"), true));
        // <|endoftext|> in a text is plain characters
        assertArrayEquals(new int[] {27, 91, 437, 1659, 5239, 91, 29}, t.encode("<|endoftext|>"));
    }

    @Test
    void tokenLabelsArePrintable() {
        Gpt2Tokenizer t = Gpt2Tokenizer.full();
        assertEquals("␣world", t.tokenLabel(995));
        assertEquals("Hello", t.tokenLabel(15496));
        assertEquals("\\n", t.tokenLabel(198));
        assertEquals("\\n\\n", t.tokenLabel(628));
        assertEquals("<|endoftext|>", t.tokenLabel(50256));
        // a token that is part of a multi-byte character shows its bytes
        int[] ids = t.encode("\uD83E\uDD84");   // unicorn emoji: 4 bytes, split over several tokens
        assertTrue(ids.length >= 2, "the emoji encodes to several tokens");
        StringBuilder lb = new StringBuilder();
        for (int id : ids) lb.append(t.tokenLabel(id)).append('|');
        String label = lb.toString();
        assertTrue(label.contains("\\x"), label);
        assertEquals("é", t.tokenLabel(t.encode("é")[0]));
    }

    @Test
    void croppedToPtbLinesRoundTripsAndHasSeenIdsPlusSpecials() {
        List<String> train = TokenizerTestData.lines("ptb-train-sample.txt");
        Gpt2Tokenizer full = Gpt2Tokenizer.full();
        Gpt2Tokenizer t = Gpt2Tokenizer.cropped(train);
        assertTrue(t.isCropped());
        TreeSet<Integer> seen = new TreeSet<>();
        for (String line : train) for (int id : full.encode(line)) seen.add(id);
        seen.add(50256);
        assertEquals(seen.size() + 2, t.vocabSize(), "seen GPT-2 ids + <unk> + <pad>");
        int[] crop = t.cropIds();
        assertEquals(seen.size(), crop.length);
        int k = 0;
        for (int orig : seen) {
            assertEquals(orig, crop[k]);
            assertEquals(k, t.fromOriginalId(orig));
            assertEquals(orig, t.originalId(k));
            k++;
        }
        assertEquals(t.fromOriginalId(50256), t.eosId());
        assertEquals(t.eosId(), t.bosId());
        assertEquals(seen.size(), t.unkId());
        assertEquals(seen.size() + 1, t.padId());
        assertEquals(-1, t.originalId(t.unkId()));
        assertEquals(-1, t.originalId(t.padId()));
        for (String line : train) {
            int[] ids = t.encode(line);
            assertEquals(line, t.decode(ids, true));
            for (int i = 0; i < ids.length; i++) assertTrue(ids[i] < seen.size() && ids[i] != t.eosId());
            int[] sample = t.encodeSample(line);
            assertEquals(t.bosId(), sample[0]);
            assertEquals(t.eosId(), sample[sample.length - 1]);
            assertEquals(line, t.decode(sample, true));
        }
        assertEquals("<unk>", t.tokenLabel(t.unkId()));
        assertEquals("<pad>", t.tokenLabel(t.padId()));
        assertEquals("<|endoftext|>", t.tokenLabel(t.eosId()));
    }

    @Test
    void croppedMapsUnseenIdsToUnk() {
        Gpt2Tokenizer t = Gpt2Tokenizer.cropped(List.of(" the cat sat"));
        Gpt2Tokenizer full = Gpt2Tokenizer.full();
        int[] orig = full.encode(" the dog sat");
        int[] ids = t.encode(" the dog sat");
        assertEquals(orig.length, ids.length);
        assertEquals(t.fromOriginalId(orig[0]), ids[0]);
        assertEquals(t.unkId(), ids[1]);
        assertEquals(t.unkId(), t.fromOriginalId(orig[1]));
        assertEquals(" the<unk> sat", t.decode(ids, true));
        // valid PTB lines through a crop of train lines: every id is the crop's id of the GPT-2 id, or unk
        Gpt2Tokenizer crop = Gpt2Tokenizer.cropped(TokenizerTestData.lines("ptb-train-sample.txt"));
        int unk = 0;
        for (String line : TokenizerTestData.lines("ptb-valid-sample.txt")) {
            int[] o = full.encode(line), c = crop.encode(line);
            assertEquals(o.length, c.length);
            for (int i = 0; i < o.length; i++) {
                assertEquals(crop.fromOriginalId(o[i]), c[i]);
                if (c[i] == crop.unkId()) unk++;
            }
        }
        assertTrue(unk > 0, "valid has GPT-2 tokens the train sample lacks");
    }

    @Test
    void wikitextSampleRoundTripsThroughFullGpt2() {
        Gpt2Tokenizer t = Gpt2Tokenizer.full();
        String text = TokenizerTestData.text("wikitext2-valid-sample.txt");
        assertEquals(text, t.decode(t.encode(text), false));
        String shakespeare = TokenizerTestData.text("tinyshakespeare-sample.txt");
        assertEquals(shakespeare, t.decode(t.encode(shakespeare), false));
    }
}
