package org.tinker.data;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.TreeSet;
import java.util.regex.Matcher;
import org.tinker.config.ConfigError;
import org.tinker.data.Gpt2Tokenizer.Bpe;
import org.tinker.data.Gpt2Tokenizer.ByteBuf;
import org.tinker.data.Gpt2Tokenizer.ByteLevel;

/**
 * A byte-level BPE trained on the task's data, in the manner of Hugging Face tokenizers' {@code BpeTrainer} with
 * the {@code ByteLevel} pre-tokenizer (as the reference's {@code custom} tokenizer): GPT-2's pre-tokenisation and
 * byte alphabet; ids 0..3 are {@code [UNK] [PAD] [BOS] [EOS]}, then the bytes that occur in the data (sorted by
 * their stand-in character), then one token per merge. Training repeatedly merges the most frequent adjacent pair
 * (ties: the smaller (left id, right id)) until the vocabulary reaches the target size or every word is one
 * token. Bytes that never occurred in the training data encode to {@code [UNK]}. The vocabulary holds byte-level
 * spellings, as Hugging Face tokenizers write them.
 */
public final class BpeTokenizer extends VocabTokenizer {
    static final String UNK = "[UNK]", PAD = "[PAD]", BOS = "[BOS]", EOS = "[EOS]";
    static final List<String> SPECIALS = List.of(UNK, PAD, BOS, EOS);
    private static final int UNK_ID = 0, PAD_ID = 1, BOS_ID = 2, EOS_ID = 3;

    /** merges in rank order: left id, right id, merged id. */
    private final List<int[]> merges;
    private final Bpe model;

    private BpeTokenizer(String[] vocab, List<int[]> merges) {
        super(vocab, new Specials(PAD_ID, BOS_ID, EOS_ID, UNK_ID));
        this.merges = merges;
        boolean[] special = new boolean[vocab.length];
        for (int i = 0; i < SPECIALS.size(); i++) special[i] = true;
        this.model = new Bpe(vocab, special, merges, UNK_ID);
    }

    /**
     * Trains on these texts to a vocabulary of {@code targetSize} tokens (specials and byte alphabet included), or
     * fewer when the data has no pair left to merge.
     */
    public static BpeTokenizer train(List<String> texts, int targetSize) {
        // unique pre-tokens and their counts, in order of first occurrence
        Map<String, long[]> counts = new LinkedHashMap<>();
        for (String text : texts) {
            Matcher m = ByteLevel.PATTERN.matcher(text);
            while (m.find()) counts.computeIfAbsent(m.group(), k -> new long[1])[0]++;
        }
        int nWords = counts.size();
        byte[][] wordBytes = new byte[nWords][];
        long[] freq = new long[nWords];
        boolean[] seenByte = new boolean[256];
        int w0 = 0;
        for (Map.Entry<String, long[]> e : counts.entrySet()) {
            byte[] b = e.getKey().getBytes(StandardCharsets.UTF_8);
            for (byte x : b) seenByte[x & 0xFF] = true;
            wordBytes[w0] = b;
            freq[w0++] = e.getValue()[0];
        }
        counts = null;

        // vocabulary: specials, then the alphabet sorted by stand-in character
        List<String> vocab = new ArrayList<>(SPECIALS);
        Map<String, Integer> idOf = new HashMap<>();
        for (int i = 0; i < vocab.size(); i++) idOf.put(vocab.get(i), i);
        TreeSet<Character> alphabet = new TreeSet<>();
        for (int b = 0; b < 256; b++) if (seenByte[b]) alphabet.add(ByteLevel.BYTE_TO_CHAR[b]);
        int[] byteId = new int[256];
        for (char c : alphabet) {
            idOf.put(String.valueOf(c), vocab.size());
            byteId[ByteLevel.CHAR_TO_BYTE[c]] = vocab.size();
            vocab.add(String.valueOf(c));
        }

        int[][] words = new int[nWords][];
        int[] len = new int[nWords];
        for (int w = 0; w < nWords; w++) {
            byte[] b = wordBytes[w];
            words[w] = new int[b.length];
            for (int i = 0; i < b.length; i++) words[w][i] = byteId[b[i] & 0xFF];
            len[w] = b.length;
        }
        wordBytes = null;

        // pair statistics: count (weighted by word frequency) and the words it may occur in
        HashMap<Long, PairStat> stats = new HashMap<>();
        for (int w = 0; w < nWords; w++) {
            int[] s = words[w];
            for (int i = 0; i + 1 < len[w]; i++) stats.computeIfAbsent(Bpe.key(s[i], s[i + 1]), PairStat::new).add(freq[w], w);
        }
        PriorityQueue<Candidate> queue = new PriorityQueue<>();
        for (PairStat p : stats.values()) if (p.count > 0) queue.add(new Candidate(p.key, p.count));

        List<int[]> merges = new ArrayList<>();
        int[] stamp = new int[nWords];
        Arrays.fill(stamp, -1);
        List<Long> grown = new ArrayList<>();
        while (vocab.size() < targetSize) {
            Candidate top = queue.poll();
            if (top == null) break;
            PairStat p = stats.get(top.key);
            long current = p == null ? 0 : p.count;
            if (current != top.count) {
                if (current > 0) queue.add(new Candidate(top.key, current));
                continue;
            }
            if (current <= 0) continue;
            int a = (int) (top.key >>> 32), b = (int) top.key;
            String merged = vocab.get(a) + vocab.get(b);
            Integer existing = idOf.get(merged);
            int c;
            if (existing != null) {
                c = existing;
            } else {
                c = vocab.size();
                vocab.add(merged);
                idOf.put(merged, c);
            }
            int rankNow = merges.size();
            merges.add(new int[] {a, b, c});

            grown.clear();
            int[] where = p.words;
            int nWhere = p.nWords;
            for (int k = 0; k < nWhere; k++) {
                int w = where[k];
                if (stamp[w] == rankNow) continue;
                stamp[w] = rankNow;
                int[] s = words[w];
                int n = len[w];
                boolean has = false;
                for (int i = 0; i + 1 < n && !has; i++) has = s[i] == a && s[i + 1] == b;
                if (!has) continue;
                long f = freq[w];
                for (int i = 0; i + 1 < n; i++) stats.get(Bpe.key(s[i], s[i + 1])).count -= f;
                int m = 0;
                for (int i = 0; i < n; ) {
                    if (i + 1 < n && s[i] == a && s[i + 1] == b) {
                        s[m++] = c;
                        i += 2;
                    } else {
                        s[m++] = s[i++];
                    }
                }
                len[w] = m;
                for (int i = 0; i + 1 < m; i++) {
                    long key = Bpe.key(s[i], s[i + 1]);
                    PairStat q = stats.computeIfAbsent(key, PairStat::new);
                    q.count += f;
                    if (s[i] == c || s[i + 1] == c) {
                        q.addWord(w);
                        grown.add(key);
                    }
                }
            }
            PairStat done = stats.get(top.key);
            if (done != null && done.count == 0) stats.remove(top.key);
            for (long key : grown) {
                PairStat q = stats.get(key);
                if (q != null && q.pushedAt != rankNow && q.count > 0) {
                    q.pushedAt = rankNow;
                    queue.add(new Candidate(key, q.count));
                }
            }
        }
        return new BpeTokenizer(vocab.toArray(new String[0]), merges);
    }

    private static final class PairStat {
        final long key;
        long count;
        int[] words = new int[4];
        int nWords;
        int pushedAt = -1;

        PairStat(long key) {
            this.key = key;
        }

        void add(long f, int w) {
            count += f;
            addWord(w);
        }

        void addWord(int w) {
            if (nWords > 0 && words[nWords - 1] == w) return;
            if (nWords == words.length) words = Arrays.copyOf(words, nWords * 2);
            words[nWords++] = w;
        }
    }

    /** A heap entry: the most frequent pair first, ties to the smaller (left, right). */
    private record Candidate(long key, long count) implements Comparable<Candidate> {
        @Override
        public int compareTo(Candidate o) {
            if (count != o.count) return count > o.count ? -1 : 1;
            int a = (int) (key >>> 32), b = (int) key, oa = (int) (o.key >>> 32), ob = (int) o.key;
            if (a != oa) return Integer.compare(a, oa);
            return Integer.compare(b, ob);
        }
    }

    public int mergeCount() {
        return merges.size();
    }

    @Override
    public String kind() {
        return "custom";
    }

    @Override
    public int[] encode(String text) {
        return model.encode(text);
    }

    @Override
    public String decode(int[] ids, boolean skipSpecial) {
        ByteBuf buf = new ByteBuf(ids.length * 4);
        for (int id : ids) {
            checked(id);
            if (skipSpecial && (id == PAD_ID || id == BOS_ID || id == EOS_ID)) continue;
            buf.add(model.tokenBytes[id]);
        }
        return buf.utf8();
    }

    @Override
    public String tokenLabel(int id) {
        if (id < SPECIALS.size()) return vocab[id];
        return ByteLevel.label(model.tokenBytes[id]);
    }

    @Override
    public JsonObject toJson() {
        JsonObject o = super.toJson();
        JsonArray m = new JsonArray(merges.size());
        for (int[] x : merges) m.add(vocab[x[0]] + " " + vocab[x[1]]);
        o.add("merges", m);
        return o;
    }

    static BpeTokenizer fromJson(JsonObject o) {
        String what = "custom tokenizer JSON";
        List<String> vocabList = Tokenizers.stringList(o, "vocab", what);
        if (vocabList.size() < SPECIALS.size() || !vocabList.subList(0, SPECIALS.size()).equals(SPECIALS))
            throw new ConfigError(what + ": expected the vocabulary to start with " + SPECIALS);
        Map<String, Integer> idOf = new HashMap<>();
        for (int i = 0; i < vocabList.size(); i++) {
            String t = vocabList.get(i);
            if (i >= SPECIALS.size() && (t.isEmpty() || ByteLevel.toBytes(t) == null))
                throw new ConfigError(what + ": vocabulary entry " + i + " is not a byte-level token");
            if (idOf.put(t, i) != null) throw new ConfigError(what + ": token \"" + t + "\" twice in the vocabulary");
        }
        List<String> mergeList = Tokenizers.stringList(o, "merges", what);
        List<int[]> merges = new ArrayList<>(mergeList.size());
        for (int r = 0; r < mergeList.size(); r++) {
            String line = mergeList.get(r);
            int sp = line.indexOf(' ');
            Integer a = sp < 0 ? null : idOf.get(line.substring(0, sp));
            Integer b = sp < 0 ? null : idOf.get(line.substring(sp + 1));
            Integer c = a == null || b == null ? null : idOf.get(vocabList.get(a) + vocabList.get(b));
            if (c == null || a < SPECIALS.size() || b < SPECIALS.size())
                throw new ConfigError(what + ": merge " + r + " (\"" + line + "\") does not join two vocabulary tokens into one");
            merges.add(new int[] {a, b, c});
        }
        BpeTokenizer t = new BpeTokenizer(vocabList.toArray(new String[0]), merges);
        Tokenizers.checkVocabSize(o, t);
        return t;
    }
}
