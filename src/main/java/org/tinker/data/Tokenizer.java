package org.tinker.data;

import com.google.gson.JsonObject;

/**
 * Text ↔ token ids. Every tokenizer has pad, bos, eos and unk ids inside its vocabulary, saves itself to a
 * JSON object ({@code tokenizer.json} in a checkpoint) and is rebuilt exactly by {@link Tokenizers#fromJson}.
 */
public interface Tokenizer {
    /** {@code char}, {@code word}, {@code gpt2} or {@code custom}. */
    String kind();

    int vocabSize();

    /** The ids of the special tokens (GPT-2's bos and eos are both {@code <|endoftext|>}). */
    record Specials(int pad, int bos, int eos, int unk) {}

    Specials specials();

    default int padId() {
        return specials().pad();
    }

    default int bosId() {
        return specials().bos();
    }

    default int eosId() {
        return specials().eos();
    }

    default int unkId() {
        return specials().unk();
    }

    /** Ids of the text alone, no bos/eos. */
    int[] encode(String text);

    /** A training sample: bos, the text's ids, eos (the reference wraps every sample so). */
    default int[] encodeSample(String text) {
        int[] body = encode(text);
        int[] out = new int[body.length + 2];
        out[0] = bosId();
        System.arraycopy(body, 0, out, 1, body.length);
        out[out.length - 1] = eosId();
        return out;
    }

    /** A prompt for sampling: bos then the text's ids, no eos. */
    default int[] encodePrompt(String text) {
        int[] body = encode(text);
        int[] out = new int[body.length + 1];
        out[0] = bosId();
        System.arraycopy(body, 0, out, 1, body.length);
        return out;
    }

    /** Text of the ids; special tokens (pad, bos, eos) are left out when skipSpecial. */
    String decode(int[] ids, boolean skipSpecial);

    /** A printable form of one token, for plot labels (e.g. {@code ␣the}, {@code \n}). */
    String tokenLabel(int id);

    /** Everything needed to rebuild this tokenizer exactly. Has a "kind" field. */
    JsonObject toJson();
}
