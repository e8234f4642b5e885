package org.tinker.data;

import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.tinker.config.ConfigError;

/**
 * One token per character (Unicode code point), as the reference: the vocabulary is the sorted set of the
 * data's characters and {@code <unk> <pad> <bos> <eos>}, sorted together by code point. Characters not in the
 * vocabulary encode to {@code <unk>}.
 */
public final class CharTokenizer extends VocabTokenizer {
    static final String UNK = "<unk>", PAD = "<pad>", BOS = "<bos>", EOS = "<eos>";
    static final List<String> SPECIALS = List.of(UNK, PAD, BOS, EOS);

    private final int[] ascii = new int[128];
    private final Map<Integer, Integer> others = new HashMap<>();

    private CharTokenizer(String[] vocab) {
        super(vocab, find(vocab, "char tokenizer", PAD, BOS, EOS, UNK));
        Arrays.fill(ascii, -1);
        for (int i = 0; i < vocab.length; i++) {
            String t = vocab[i];
            if (SPECIALS.contains(t)) continue; // placed by find
            if (t.codePointCount(0, t.length()) != 1)
                throw new ConfigError("char tokenizer: vocabulary entry " + i + " is neither one character nor a special token: "
                        + Tokenizers.printable(t));
            int cp = t.codePointAt(0);
            boolean dup = cp < 128 ? ascii[cp] >= 0 : others.containsKey(cp);
            if (dup) throw new ConfigError("char tokenizer: character " + Tokenizers.printable(t) + " twice in the vocabulary");
            if (cp < 128) ascii[cp] = i;
            else others.put(cp, i);
        }
    }

    /** The tokenizer of these texts' characters. */
    public static CharTokenizer build(List<String> texts) {
        TreeSet<Integer> cps = new TreeSet<>();
        for (String t : texts) t.codePoints().forEach(cps::add);
        List<String> vocab = new ArrayList<>(cps.size() + 4);
        for (int cp : cps) vocab.add(new String(Character.toChars(cp)));
        vocab.addAll(SPECIALS);
        vocab.sort(Tokenizers.CODE_POINT_ORDER);
        return new CharTokenizer(vocab.toArray(new String[0]));
    }

    @Override
    public String kind() {
        return "char";
    }

    @Override
    public int[] encode(String text) {
        int[] out = new int[text.length()];
        int n = 0;
        for (int i = 0; i < text.length(); ) {
            int cp = text.codePointAt(i);
            i += Character.charCount(cp);
            int id;
            if (cp < 128) id = ascii[cp];
            else id = others.getOrDefault(cp, -1);
            out[n++] = id < 0 ? unk : id;
        }
        return n == out.length ? out : Arrays.copyOf(out, n);
    }

    @Override
    public String decode(int[] ids, boolean skipSpecial) {
        StringBuilder sb = new StringBuilder(ids.length);
        for (int id : ids) {
            if (skipSpecial && (id == pad || id == bos || id == eos)) continue;
            sb.append(vocab[checked(id)]);
        }
        return sb.toString();
    }

    @Override
    public String tokenLabel(int id) {
        if (id == unk || id == pad || id == bos || id == eos) return vocab[id];
        return Tokenizers.printable(vocab[id]);
    }

    static CharTokenizer fromJson(JsonObject o) {
        CharTokenizer t = new CharTokenizer(Tokenizers.stringList(o, "vocab", "char tokenizer JSON").toArray(new String[0]));
        Tokenizers.checkVocabSize(o, t);
        return t;
    }
}
