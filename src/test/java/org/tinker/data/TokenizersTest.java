package org.tinker.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tinker.config.ConfigError;
import org.tinker.config.ModelParams.TokenizerKind;

class TokenizersTest {
    @TempDir
    Path dir;

    private static List<String> texts() {
        List<String> t = new ArrayList<>(TokenizerTestData.lines("ptb-train-sample.txt").subList(0, 200));
        t.addAll(TokenizerTestData.lines("tinyshakespeare-sample.txt"));
        return t;
    }

    /** Texts that the tokenizers were not built on (unknown words, characters and GPT-2 ids). */
    private static List<String> probes() {
        List<String> p = new ArrayList<>(TokenizerTestData.lines("ptb-valid-sample.txt").subList(0, 40));
        p.addAll(TokenizerTestData.lines("wikitext2-valid-sample.txt").subList(0, 40));
        p.add("naïve 東京 🦄 <unk> <|endoftext|>");
        p.add("");
        return p;
    }

    @Test
    void saveThenLoadGivesIdenticalTokenizersOfEveryKind() throws IOException {
        List<String> texts = texts();
        List<Tokenizer> all = List.of(
                Tokenizers.build(TokenizerKind.CHAR, 0, texts),
                Tokenizers.build(TokenizerKind.WORD, 0, texts),
                Tokenizers.build(TokenizerKind.GPT2, 0, texts),
                Tokenizers.build(TokenizerKind.CUSTOM, 500, texts),
                Tokenizers.named(TokenizerKind.GPT2));
        List<String> probes = new ArrayList<>(texts.subList(0, 50));
        probes.addAll(probes());
        for (Tokenizer t : all) {
            Path f = dir.resolve(t.kind() + t.vocabSize() + "/tokenizer.json");
            Tokenizers.save(t, f);
            Tokenizer u = Tokenizers.load(f);
            String what = t.kind() + " " + t.vocabSize();
            assertEquals(t.getClass(), u.getClass(), what);
            assertEquals(t.kind(), u.kind());
            assertEquals(t.vocabSize(), u.vocabSize(), what);
            assertEquals(t.padId(), u.padId(), what);
            assertEquals(t.bosId(), u.bosId(), what);
            assertEquals(t.eosId(), u.eosId(), what);
            assertEquals(t.unkId(), u.unkId(), what);
            assertEquals(t.toJson(), u.toJson(), what);
            for (String s : probes) {
                assertArrayEquals(t.encodeSample(s), u.encodeSample(s), what + ": " + s);
                assertEquals(t.decode(t.encode(s), true), u.decode(u.encode(s), true), what);
            }
            for (int id = 0; id < Math.min(t.vocabSize(), 2000); id++) assertEquals(t.tokenLabel(id), u.tokenLabel(id), what);
            try (Stream<Path> files = Files.list(f.getParent())) {
                assertEquals(List.of(f), files.toList(), "no temporary file left behind");
            }
        }
        // the gpt2 crop saves its GPT-2 ids only, not the vocabulary
        JsonObject crop = all.get(2).toJson();
        assertEquals(List.of("cropped", "kind", "original_ids", "vocab_size"), crop.keySet().stream().sorted().toList());
        assertTrue(Files.size(dir.resolve("gpt2" + all.get(2).vocabSize() + "/tokenizer.json")) < 20_000);
        assertEquals(Gpt2Tokenizer.full(), Tokenizers.fromJson(all.get(4).toJson()));
    }

    @Test
    void roundTripsOnTextsWithinTheAlphabet() {
        List<String> texts = texts();
        for (TokenizerKind kind : List.of(TokenizerKind.CHAR, TokenizerKind.GPT2, TokenizerKind.CUSTOM)) {
            Tokenizer t = Tokenizers.build(kind, 400, texts);
            for (String s : texts) assertEquals(s, t.decode(t.encode(s), true), kind.spelling());
        }
        assertInstanceOf(Gpt2Tokenizer.class, Tokenizers.build(TokenizerKind.GPT2, 0, texts));
        // gpt2 keeps the ids these texts use, gpt2-full all of GPT-2's (a head of GPT-2's shape)
        assertTrue(Tokenizers.build(TokenizerKind.GPT2, 0, texts).vocabSize() < 10_000);
        assertSame(Gpt2Tokenizer.full(), Tokenizers.build(TokenizerKind.GPT2_FULL, 0, texts));
        assertEquals(Gpt2Tokenizer.FULL_VOCAB_SIZE, Tokenizers.build(TokenizerKind.GPT2_FULL, 0, texts).vocabSize());
    }

    @Test
    void saveReplacesAnExistingFile() {
        Path f = dir.resolve("t.json");
        Tokenizers.save(Tokenizers.build(TokenizerKind.CHAR, 0, List.of("ab")), f);
        Tokenizers.save(Tokenizers.build(TokenizerKind.CHAR, 0, List.of("abc")), f);
        assertEquals(7, Tokenizers.load(f).vocabSize());
    }

    @Test
    void unknownKindListsTheKinds() {
        ConfigError e = assertThrows(ConfigError.class, () -> Tokenizers.kind("bert"));
        assertTrue(e.getMessage().contains("'bert'") && e.getMessage().contains("char, word, gpt2, gpt2-full, custom"), e.getMessage());
        e = assertThrows(ConfigError.class, () -> Tokenizers.kind("sentencepiece"));
        assertTrue(e.getMessage().contains("char, word, gpt2, gpt2-full, custom"), e.getMessage());
        JsonObject o = new JsonObject();
        o.addProperty("kind", "bpe");
        e = assertThrows(ConfigError.class, () -> Tokenizers.fromJson(o));
        assertTrue(e.getMessage().contains("'bpe'"), e.getMessage());
    }

    @Test
    void namedGivesFullGpt2AndRefusesDataBuiltKinds() {
        assertSame(Gpt2Tokenizer.full(), Tokenizers.named(TokenizerKind.GPT2));
        for (TokenizerKind k : List.of(TokenizerKind.CHAR, TokenizerKind.WORD, TokenizerKind.CUSTOM)) {
            ConfigError e = assertThrows(ConfigError.class, () -> Tokenizers.named(k));
            assertTrue(e.getMessage().contains("task's data"), e.getMessage());
        }
    }

    @Test
    void customNeedsRoomForItsSpecials() {
        assertThrows(ConfigError.class, () -> Tokenizers.build(TokenizerKind.CUSTOM, 3, List.of("abc")));
    }

    @Test
    void corruptOrMissingFilesAreConfigErrorsNamingThePath() throws IOException {
        Path missing = dir.resolve("nope/tokenizer.json");
        ConfigError e = assertThrows(ConfigError.class, () -> Tokenizers.load(missing));
        assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());

        Path good = dir.resolve("good.json");
        Tokenizers.save(Tokenizers.build(TokenizerKind.CUSTOM, 300, texts()), good);
        String json = Files.readString(good);
        List<String> bad = List.of(
                json.substring(0, json.length() / 2),                    // truncated
                "",                                                       // empty
                "[1, 2]",                                                 // not an object
                "{\"kind\": \"custom\"}",                                 // fields missing
                json.replace("\"vocab_size\":300", "\"vocab_size\":301"),   // inconsistent
                json.replace("\"Ġ t\"", "\"Ġ nosuchtoken\""),             // a merge of unknown tokens
                "{\"kind\": \"gpt2\", \"cropped\": true, \"original_ids\": [5, 3, 50256]}",
                "{\"kind\": \"gpt2\", \"cropped\": true, \"original_ids\": [1, 2]}",
                "{\"kind\": \"char\", \"vocab\": [\"a\", \"<unk>\"]}",
                "{\"kind\": \"word\", \"vocab\": [\"a b\", \"<unk>\", \"<pad>\", \"<bos>\", \"<eos>\"]}",
                "\u0000\u0001garbage");
        for (int i = 0; i < bad.size(); i++) {
            Path f = dir.resolve("bad" + i + ".json");
            Files.writeString(f, bad.get(i), StandardCharsets.UTF_8);
            ConfigError err = assertThrows(ConfigError.class, () -> Tokenizers.load(f), "case " + i);
            assertTrue(err.getMessage().startsWith(f.toString() + ": "), err.getMessage());
            assertTrue(!err.getMessage().contains("\n"), "one line: " + err.getMessage());
        }
        assertEquals(300, Tokenizers.load(good).vocabSize());
    }
}
