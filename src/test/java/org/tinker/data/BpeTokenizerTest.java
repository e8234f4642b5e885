package org.tinker.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class BpeTokenizerTest {
    private static List<String> corpus() {
        List<String> texts = new ArrayList<>(TokenizerTestData.lines("ptb-train-sample.txt"));
        texts.addAll(TokenizerTestData.lines("wikitext2-valid-sample.txt"));
        return texts;
    }

    @Test
    void reachesTheTargetSizeRoundTripsAndIsDeterministic() {
        List<String> texts = corpus();
        BpeTokenizer t = BpeTokenizer.train(texts, 1000);
        assertTrue(Math.abs(t.vocabSize() - 1000) <= 30, "vocab " + t.vocabSize());
        assertEquals(List.of("[UNK]", "[PAD]", "[BOS]", "[EOS]"), t.vocab().subList(0, 4));
        assertEquals(0, t.unkId());
        assertEquals(1, t.padId());
        assertEquals(2, t.bosId());
        assertEquals(3, t.eosId());
        long tokens = 0, bytes = 0;
        for (String s : texts) {
            int[] ids = t.encode(s);
            assertEquals(s, t.decode(ids, true));
            for (int id : ids) assertTrue(id >= 4, "no specials/unk inside the training data");
            tokens += ids.length;
            bytes += s.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
        }
        assertTrue(tokens < bytes / 2.5, "BPE compresses: " + tokens + " tokens for " + bytes + " bytes");
        BpeTokenizer again = BpeTokenizer.train(texts, 1000);
        assertEquals(t.toJson(), again.toJson());
        // the most frequent pair in English text with GPT-2 pre-tokenisation: space + 't' or 'h'+'e' etc.
        String first = t.toJson().getAsJsonArray("merges").get(0).getAsString();
        assertTrue(List.of("Ġ t", "h e", "Ġ a", "e r", "i n", "Ġ <").contains(first), first);
        String sample = t.decode(t.encodeSample(" the cat"), false);
        assertEquals("[BOS] the cat[EOS]", sample);
    }

    /** The same data and target through Hugging Face tokenizers' BpeTrainer (the reference's trainer). */
    @Test
    void matchesHuggingFaceBpeTrainerExactly() {
        JsonObject hf = JsonParser.parseString(TokenizerTestData.text("hf-bpe-1000.json")).getAsJsonObject();
        BpeTokenizer t = BpeTokenizer.train(corpus(), 1000);
        JsonObject mine = t.toJson();
        assertEquals(hf.get("vocab"), mine.get("vocab"));
        assertEquals(hf.get("merges"), mine.get("merges"));
        for (JsonElement e : hf.getAsJsonArray("encodings")) {
            JsonObject c = e.getAsJsonObject();
            JsonArray ids = c.getAsJsonArray("ids");
            int[] expected = new int[ids.size()];
            for (int i = 0; i < expected.length; i++) expected[i] = ids.get(i).getAsInt();
            assertArrayEquals(expected, t.encode(c.get("text").getAsString()), c.get("text").getAsString());
        }
    }

    @Test
    void saturatesWhenEveryWordIsOneToken() {
        List<String> texts = List.of("low lower lowest", "low low newer", "wider");
        BpeTokenizer t = BpeTokenizer.train(texts, 10_000);
        assertTrue(t.vocabSize() < 10_000);
        for (String w : List.of("low", " lower", " lowest", " newer", "wider", " low")) {
            assertEquals(1, t.encode(w).length, w);
            assertEquals(w, t.decode(t.encode(w), true));
        }
        // bytes the data never had encode to [UNK]
        int[] ids = t.encode("lowz");
        assertEquals(t.unkId(), ids[ids.length - 1]);
        assertEquals("low[UNK]", t.decode(ids, true));
        assertEquals("[UNK]", t.tokenLabel(t.unkId()));
        assertEquals("␣low", t.tokenLabel(t.encode(" low")[0]));
    }

    @Test
    void tinyTargetsKeepTheAlphabet() {
        BpeTokenizer t = BpeTokenizer.train(List.of("abab ab"), 5);
        assertEquals(4 + 3, t.vocabSize(), "specials + a, b, space: no merges");
        assertEquals(0, t.mergeCount());
        assertArrayEquals(t.encode("ab"), new int[] {t.encode("a")[0], t.encode("b")[0]});
        BpeTokenizer m = BpeTokenizer.train(List.of("abab ab"), 8);
        assertEquals(8, m.vocabSize());
        assertEquals(1, m.encode("ab").length);
    }

    @Test
    void nonAsciiRoundTrips() {
        List<String> texts = List.of("naïve café — 東京 🦄 \u00a0x", "\ttabs\r\nand  spaces  ");
        BpeTokenizer t = BpeTokenizer.train(texts, 60);
        for (String s : texts) assertEquals(s, t.decode(t.encode(s), false));
    }
}
