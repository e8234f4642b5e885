package org.tinker.data;

import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tinker.config.ConfigError;

/**
 * One token per whitespace-separated word. The vocabulary is the data's distinct words and {@code <pad> <bos>
 * <eos> <unk>}, sorted together by code point (a word spelled like a special token, such as PTB's literal
 * {@code <unk>}, is that special token). A sample's line end is its {@code <eos>}; decoding joins words with
 * single spaces. Unknown words encode to {@code <unk>}.
 */
public final class WordTokenizer extends VocabTokenizer {
    static final String UNK = "<unk>", PAD = "<pad>", BOS = "<bos>", EOS = "<eos>";
    static final List<String> SPECIALS = List.of(PAD, BOS, EOS, UNK);

    private final Map<String, Integer> ids;

    private WordTokenizer(String[] vocab) {
        super(vocab, find(vocab, "word tokenizer", PAD, BOS, EOS, UNK));
        ids = new HashMap<>(vocab.length * 2);
        for (int i = 0; i < vocab.length; i++) {
            String w = vocab[i];
            if (w.isEmpty() || splitWords(w).size() != 1 || !splitWords(w).get(0).equals(w))
                throw new ConfigError("word tokenizer: vocabulary entry " + i + " is not a word: \"" + Tokenizers.printable(w) + "\"");
            if (ids.put(w, i) != null) throw new ConfigError("word tokenizer: \"" + w + "\" twice in the vocabulary");
        }
    }

    /** The tokenizer of these texts' words. */
    public static WordTokenizer build(List<String> texts) {
        Set<String> words = new LinkedHashSet<>();
        for (String t : texts) words.addAll(splitWords(t));
        words.addAll(SPECIALS);
        List<String> vocab = new ArrayList<>(words);
        vocab.sort(Tokenizers.CODE_POINT_ORDER);
        return new WordTokenizer(vocab.toArray(new String[0]));
    }

    /** The words of a text: maximal runs of non-whitespace (Unicode whitespace, as Python's str.split()). */
    public static List<String> splitWords(String text) {
        List<String> out = new ArrayList<>();
        int start = -1;
        for (int i = 0; i < text.length(); ) {
            int cp = text.codePointAt(i);
            boolean space = isSpace(cp);
            if (space && start >= 0) {
                out.add(text.substring(start, i));
                start = -1;
            } else if (!space && start < 0) {
                start = i;
            }
            i += Character.charCount(cp);
        }
        if (start >= 0) out.add(text.substring(start));
        return out;
    }

    static boolean isSpace(int cp) {
        return Character.isWhitespace(cp) || Character.isSpaceChar(cp) || cp == 0x85;
    }

    @Override
    public String kind() {
        return "word";
    }

    @Override
    public int[] encode(String text) {
        // a line break inside a sample is an <eos>, as in the classic word-level LM setup: a sample holding
        // several lines (lines_per_sample > 1 or -1) keeps its sentence boundaries
        // (blank lines and a trailing line break add nothing)
        List<Integer> out = new ArrayList<>();
        for (String line : text.split("\n")) {
            List<String> words = splitWords(line);
            if (words.isEmpty()) continue;
            if (!out.isEmpty()) out.add(eos);
            for (String w : words) out.add(ids.getOrDefault(w, unk));
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    @Override
    public String decode(int[] ids, boolean skipSpecial) {
        StringBuilder sb = new StringBuilder();
        for (int id : ids) {
            checked(id);
            if (skipSpecial && (id == pad || id == bos)) continue;
            if (id == eos) { // a line break inside a text, nothing at its end
                if (!skipSpecial) {
                    if (sb.length() > 0) sb.append(' ');
                    sb.append(vocab[id]);
                } else {
                    sb.append('\n');
                }
                continue;
            }
            if (sb.length() > 0 && sb.charAt(sb.length() - 1) != '\n') sb.append(' ');
            sb.append(vocab[id]);
        }
        return skipSpecial ? sb.toString().replaceAll("\n+$", "") : sb.toString();
    }

    @Override
    public String tokenLabel(int id) {
        return Tokenizers.printable(vocab[id]);
    }

    static WordTokenizer fromJson(JsonObject o) {
        WordTokenizer t = new WordTokenizer(Tokenizers.stringList(o, "vocab", "word tokenizer JSON").toArray(new String[0]));
        Tokenizers.checkVocabSize(o, t);
        return t;
    }
}
