package org.tinker.data;

import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** A minimal whitespace tokenizer for the data tests (for timing PTB): ids 0..3 = pad, bos, eos, unk. */
final class TestWordTok implements Tokenizer {
    private final Map<String, Integer> ids = new HashMap<>();
    private final List<String> words = new ArrayList<>(List.of("<pad>", "<bos>", "<eos>", "<unk>"));

    TestWordTok(Iterable<String> texts) {
        for (String t : texts) for (String w : split(t)) ids.computeIfAbsent(w, k -> { words.add(k); return words.size() - 1; });
    }

    private static List<String> split(String t) {
        List<String> out = new ArrayList<>();
        int i = 0;
        int n = t.length();
        while (i < n) {
            while (i < n && Character.isWhitespace(t.charAt(i))) i++;
            int j = i;
            while (j < n && !Character.isWhitespace(t.charAt(j))) j++;
            if (j > i) out.add(t.substring(i, j));
            i = j;
        }
        return out;
    }

    @Override public String kind() { return "word"; }
    @Override public int vocabSize() { return words.size(); }
    @Override public Specials specials() { return new Specials(0, 1, 2, 3); }

    @Override
    public int[] encode(String text) {
        List<String> w = split(text);
        int[] out = new int[w.size()];
        for (int i = 0; i < out.length; i++) out[i] = ids.getOrDefault(w.get(i), 3);
        return out;
    }

    @Override
    public String decode(int[] idz, boolean skipSpecial) {
        StringBuilder sb = new StringBuilder();
        for (int id : idz) {
            if (skipSpecial && id < 3) continue;
            if (sb.length() > 0) sb.append(' ');
            sb.append(words.get(id));
        }
        return sb.toString();
    }

    @Override public String tokenLabel(int id) { return words.get(id); }

    @Override
    public JsonObject toJson() {
        JsonObject o = new JsonObject();
        o.addProperty("kind", "word");
        return o;
    }
}
