package org.tinker.data;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.util.List;
import org.tinker.config.ConfigError;

/**
 * What the tokenizers that list their vocabulary (char, word, the task-trained BPE) share: the vocabulary in id
 * order with the four special tokens inside it, the accessors, the id range check and the JSON that lists the
 * vocabulary. A subclass adds how text maps to ids.
 */
abstract sealed class VocabTokenizer implements Tokenizer permits CharTokenizer, WordTokenizer, BpeTokenizer {
    final String[] vocab;
    final int pad, bos, eos, unk;

    VocabTokenizer(String[] vocab, Specials specials) {
        this.vocab = vocab;
        pad = specials.pad();
        bos = specials.bos();
        eos = specials.eos();
        unk = specials.unk();
    }

    /**
     * The ids of the special tokens spelled {@code pad bos eos unk} in {@code vocab}; each must occur exactly once
     * ({@code what} names the tokenizer in the error).
     */
    static Specials find(String[] vocab, String what, String pad, String bos, String eos, String unk) {
        int[] ids = {-1, -1, -1, -1};
        List<String> names = List.of(pad, bos, eos, unk);
        for (int i = 0; i < vocab.length; i++) {
            int k = names.indexOf(vocab[i]);
            if (k < 0) continue;
            if (ids[k] >= 0) throw new ConfigError(what + ": " + vocab[i] + " twice in the vocabulary");
            ids[k] = i;
        }
        for (int k = 0; k < 4; k++)
            if (ids[k] < 0) throw new ConfigError(what + ": vocabulary lacks " + names.get(k));
        return new Specials(ids[0], ids[1], ids[2], ids[3]);
    }

    /** The vocabulary, id order. */
    public List<String> vocab() {
        return List.of(vocab);
    }

    @Override
    public final Specials specials() {
        return new Specials(pad, bos, eos, unk);
    }

    @Override
    public final int vocabSize() {
        return vocab.length;
    }

    /** {@code id}, refused when it is not a token of this vocabulary (a decode of another model's ids). */
    final int checked(int id) {
        if (id < 0 || id >= vocab.length)
            throw new IllegalArgumentException("token id " + id + " out of range [0, " + vocab.length + ")");
        return id;
    }

    /** kind, vocab_size and the vocabulary; a subclass adds what else rebuilds it. */
    @Override
    public JsonObject toJson() {
        JsonObject o = new JsonObject();
        o.addProperty("kind", kind());
        o.addProperty("vocab_size", vocab.length);
        JsonArray a = new JsonArray(vocab.length);
        for (String t : vocab) a.add(t);
        o.add("vocab", a);
        return o;
    }
}
