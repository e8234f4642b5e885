package org.tinker.data;

import com.google.gson.JsonObject;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeSet;

/** A minimal char tokenizer for the data tests: ids 0..3 = pad, bos, eos, unk, then the sorted characters. */
final class TestCharTok implements Tokenizer {
    private final Map<Character, Integer> ids = new HashMap<>();
    private final char[] chars;

    TestCharTok(Iterable<String> texts) {
        TreeSet<Character> set = new TreeSet<>();
        for (String t : texts) for (char c : t.toCharArray()) set.add(c);
        chars = new char[set.size()];
        int i = 0;
        for (char c : set) {
            chars[i] = c;
            ids.put(c, 4 + i++);
        }
    }

    @Override public String kind() { return "char"; }
    @Override public int vocabSize() { return 4 + chars.length; }
    @Override public Specials specials() { return new Specials(0, 1, 2, 3); }

    @Override
    public int[] encode(String text) {
        int[] out = new int[text.length()];
        for (int i = 0; i < out.length; i++) out[i] = ids.getOrDefault(text.charAt(i), 3);
        return out;
    }

    @Override
    public String decode(int[] idz, boolean skipSpecial) {
        StringBuilder sb = new StringBuilder();
        for (int id : idz) {
            if (id >= 4) sb.append(chars[id - 4]);
            else if (!skipSpecial) sb.append(new String[] {"<pad>", "<bos>", "<eos>", "<unk>"}[id]);
        }
        return sb.toString();
    }

    @Override public String tokenLabel(int id) { return decode(new int[] {id}, false); }

    @Override
    public JsonObject toJson() {
        JsonObject o = new JsonObject();
        o.addProperty("kind", "char");
        return o;
    }
}
