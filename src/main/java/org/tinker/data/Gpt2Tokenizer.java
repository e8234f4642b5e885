package org.tinker.data;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.stream.JsonReader;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;
import org.tinker.config.ConfigError;

/**
 * GPT-2's byte-level BPE (OpenAI's r50k vocabulary, read from {@code tokenizers/gpt2/} on the class path).
 *
 * <p>{@link #full()} is the whole 50,257-token vocabulary with ids as published: bos = eos = unk = pad =
 * {@code <|endoftext|>} = 50256 (GPT-2 has no other special token; padding must be masked by length, as
 * {@link Batch#lossMask()} does, not by id). {@link #cropped(List)} is what the reference (lm-springboard) trains
 * with: only the GPT-2 ids that occur when the data is encoded (every sample wrapped in {@code <|endoftext|>}),
 * renumbered in increasing order of their GPT-2 id, followed by two ids of its own, {@code <unk>} (every GPT-2
 * id the crop has not seen) and {@code <pad>}. The literal text {@code <|endoftext|>} is encoded as plain
 * characters, like OpenAI's encoder.py.
 */
public final class Gpt2Tokenizer implements Tokenizer {
    /** Size of the full GPT-2 vocabulary. */
    public static final int FULL_VOCAB_SIZE = 50257;
    /** GPT-2's {@code <|endoftext|>} id. */
    public static final int END_OF_TEXT = 50256;
    static final String END_OF_TEXT_NAME = "<|endoftext|>";

    private static volatile Bpe fullModel;
    private static volatile Gpt2Tokenizer full;

    private final Bpe model;
    /** cropped id → GPT-2 id, null for the full tokenizer. */
    private final int[] crop;
    /** GPT-2 id → cropped id, -1 where not in the crop; null for the full tokenizer. */
    private final int[] fromOriginal;
    private final int vocabSize;
    private final int unk;
    private final int pad;
    private final int eot;

    private Gpt2Tokenizer(Bpe model, int[] crop) {
        this.model = model;
        this.crop = crop;
        if (crop == null) {
            fromOriginal = null;
            vocabSize = FULL_VOCAB_SIZE;
            unk = pad = eot = END_OF_TEXT;
        } else {
            fromOriginal = new int[FULL_VOCAB_SIZE];
            Arrays.fill(fromOriginal, -1);
            for (int i = 0; i < crop.length; i++) fromOriginal[crop[i]] = i;
            eot = fromOriginal[END_OF_TEXT];
            unk = crop.length;
            pad = crop.length + 1;
            vocabSize = crop.length + 2;
        }
    }

    /** The uncropped GPT-2 tokenizer (ids as published; for pretrained GPT-2 weights). */
    public static Gpt2Tokenizer full() {
        Gpt2Tokenizer t = full;
        if (t == null) {
            synchronized (Gpt2Tokenizer.class) {
                if (full == null) full = new Gpt2Tokenizer(model(), null);
                t = full;
            }
        }
        return t;
    }

    /** GPT-2 cropped to the ids that occur in these texts (each wrapped in {@code <|endoftext|>}). */
    public static Gpt2Tokenizer cropped(List<String> texts) {
        Bpe m = model();
        BitSet seen = new BitSet(FULL_VOCAB_SIZE);
        seen.set(END_OF_TEXT);
        for (String text : texts) for (int id : m.encode(text)) seen.set(id);
        return new Gpt2Tokenizer(m, seen.stream().toArray());
    }

    /** A crop given by its GPT-2 ids (strictly increasing, must contain 50256), e.g. from a saved tokenizer. */
    public static Gpt2Tokenizer fromCrop(int[] originalIds) {
        int[] ids = originalIds.clone();
        boolean hasEot = false;
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= FULL_VOCAB_SIZE || (i > 0 && ids[i] <= ids[i - 1]))
                throw new ConfigError("gpt2 tokenizer crop: expected strictly increasing GPT-2 ids in [0, "
                        + FULL_VOCAB_SIZE + "), got " + ids[i] + " at position " + i);
            hasEot |= ids[i] == END_OF_TEXT;
        }
        if (!hasEot) throw new ConfigError("gpt2 tokenizer crop: expected it to contain " + END_OF_TEXT);
        return new Gpt2Tokenizer(model(), ids);
    }

    public boolean isCropped() {
        return crop != null;
    }

    /** The GPT-2 id of one of this tokenizer's ids; -1 for the crop's own {@code <unk>} and {@code <pad>}. */
    public int originalId(int id) {
        checkId(id);
        if (crop == null) return id;
        return id < crop.length ? crop[id] : -1;
    }

    /** This tokenizer's id for a GPT-2 id; the unk id where the crop has not seen it. */
    public int fromOriginalId(int originalId) {
        if (originalId < 0 || originalId >= FULL_VOCAB_SIZE)
            throw new IllegalArgumentException("not a GPT-2 id: " + originalId);
        if (crop == null) return originalId;
        int id = fromOriginal[originalId];
        return id < 0 ? unk : id;
    }

    /** The crop as GPT-2 ids (cropped id → GPT-2 id); null for the full tokenizer. */
    public int[] cropIds() {
        return crop == null ? null : crop.clone();
    }

    /** GPT-2 ids of the text, uncropped. */
    public int[] encodeOriginal(String text) {
        return model.encode(text);
    }

    @Override
    public String kind() {
        return "gpt2";
    }

    @Override
    public Specials specials() {
        return new Specials(pad, eot, eot, unk);
    }

    @Override
    public int vocabSize() {
        return vocabSize;
    }

    @Override
    public int[] encode(String text) {
        int[] ids = model.encode(text);
        if (crop != null) {
            for (int i = 0; i < ids.length; i++) {
                int id = fromOriginal[ids[i]];
                ids[i] = id < 0 ? unk : id;
            }
        }
        return ids;
    }

    @Override
    public String decode(int[] ids, boolean skipSpecial) {
        ByteBuf buf = new ByteBuf(ids.length * 4);
        for (int id : ids) {
            checkId(id);
            if (crop == null) {
                if (id == END_OF_TEXT && skipSpecial) continue;
                buf.add(model.tokenBytes[id]);
            } else if (id == unk) {
                buf.add(UNK_BYTES);
            } else if (id == pad) {
                if (!skipSpecial) buf.add(PAD_BYTES);
            } else {
                if (id == eot && skipSpecial) continue;
                buf.add(model.tokenBytes[crop[id]]);
            }
        }
        return buf.utf8();
    }

    @Override
    public String tokenLabel(int id) {
        checkId(id);
        if (crop != null && id == unk) return "<unk>";
        if (crop != null && id == pad) return "<pad>";
        int orig = crop == null ? id : crop[id];
        if (orig == END_OF_TEXT) return END_OF_TEXT_NAME;
        return ByteLevel.label(model.tokenBytes[orig]);
    }

    @Override
    public JsonObject toJson() {
        JsonObject o = new JsonObject();
        o.addProperty("kind", kind());
        o.addProperty("vocab_size", vocabSize);
        o.addProperty("cropped", crop != null);
        if (crop != null) {
            JsonArray a = new JsonArray(crop.length);
            for (int id : crop) a.add(id);
            o.add("original_ids", a);
        }
        return o;
    }

    static Gpt2Tokenizer fromJson(JsonObject o) {
        JsonElement c = o.get("cropped");
        if (c == null || !c.isJsonPrimitive() || !c.getAsJsonPrimitive().isBoolean())
            throw new ConfigError("gpt2 tokenizer JSON: expected a boolean \"cropped\"");
        Gpt2Tokenizer t;
        if (!c.getAsBoolean()) {
            t = full();
        } else {
            JsonElement a = o.get("original_ids");
            if (a == null || !a.isJsonArray())
                throw new ConfigError("gpt2 tokenizer JSON: expected an array \"original_ids\"");
            JsonArray arr = a.getAsJsonArray();
            int[] ids = new int[arr.size()];
            for (int i = 0; i < ids.length; i++) ids[i] = Tokenizers.intAt(arr, i, "gpt2 tokenizer JSON: original_ids");
            t = fromCrop(ids);
        }
        Tokenizers.checkVocabSize(o, t);
        return t;
    }

    private void checkId(int id) {
        if (id < 0 || id >= vocabSize)
            throw new IllegalArgumentException("token id " + id + " out of range [0, " + vocabSize + ")");
    }

    private static final byte[] UNK_BYTES = "<unk>".getBytes(StandardCharsets.UTF_8);
    private static final byte[] PAD_BYTES = "<pad>".getBytes(StandardCharsets.UTF_8);

    /** The GPT-2 model, loaded once from the class path. */
    static Bpe model() {
        Bpe m = fullModel;
        if (m == null) {
            synchronized (Gpt2Tokenizer.class) {
                if (fullModel == null) fullModel = loadModel();
                m = fullModel;
            }
        }
        return m;
    }

    private static Bpe loadModel() {
        Map<String, Integer> ids = new HashMap<>(FULL_VOCAB_SIZE * 2);
        try (JsonReader r = new JsonReader(reader("encoder.json.gz"))) {
            r.beginObject();
            while (r.hasNext()) ids.put(r.nextName(), r.nextInt());
            r.endObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<String[]> merges = new ArrayList<>(50000);
        try (BufferedReader r = new BufferedReader(reader("vocab.bpe.gz"))) {
            readMergesTxt(r, merges, "GPT-2 vocab.bpe");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return build(ids, merges, "bundled GPT-2 tokenizer");
    }

    private static void readMergesTxt(BufferedReader r, List<String[]> merges, String what) throws IOException {
        String line;
        while ((line = r.readLine()) != null) {
            if (line.startsWith("#version") || line.isEmpty()) continue;
            int sp = line.indexOf(' ');
            if (sp <= 0 || sp == line.length() - 1) throw new ConfigError(what + ": malformed merge line '" + line + "'");
            merges.add(new String[] {line.substring(0, sp), line.substring(sp + 1)});
        }
    }

    /** A GPT-2 BPE model from a token → id map and the merges in rank order; ids must be exactly 0..50256. */
    private static Bpe build(Map<String, Integer> ids, List<String[]> mergePairs, String what) {
        String[] tokens = new String[FULL_VOCAB_SIZE];
        for (Map.Entry<String, Integer> e : ids.entrySet()) {
            int id = e.getValue();
            if (id < 0 || id >= FULL_VOCAB_SIZE || tokens[id] != null)
                throw new ConfigError(what + ": id " + id + " of '" + e.getKey() + "' is out of range or repeated (expected GPT-2's ids 0.." + (FULL_VOCAB_SIZE - 1) + ")");
            tokens[id] = e.getKey();
        }
        for (int i = 0; i < FULL_VOCAB_SIZE; i++)
            if (tokens[i] == null) throw new ConfigError(what + ": id " + i + " missing (expected GPT-2's " + FULL_VOCAB_SIZE + " tokens)");
        if (!END_OF_TEXT_NAME.equals(tokens[END_OF_TEXT]))
            throw new ConfigError(what + ": id 50256 is not <|endoftext|>");
        List<int[]> merges = new ArrayList<>(mergePairs.size());
        for (String[] m : mergePairs) {
            Integer ia = ids.get(m[0]), ib = ids.get(m[1]), ic = ids.get(m[0] + m[1]);
            if (ia == null || ib == null || ic == null)
                throw new ConfigError(what + ": merge not in the vocabulary: " + m[0] + " " + m[1]);
            merges.add(new int[] {ia, ib, ic});
        }
        boolean[] special = new boolean[FULL_VOCAB_SIZE];
        special[END_OF_TEXT] = true;
        Bpe bpe = new Bpe(tokens, special, merges, -1);
        long h = 1469598103934665603L;
        for (String t : tokens) h = h * 1099511628211L + t.hashCode();
        for (int[] m : merges) h = (h * 1099511628211L + m[0]) * 31 + m[1];
        bpe.fingerprint = h;
        return bpe;
    }

    /**
     * GPT-2's tokenizer read from a checkpoint folder: {@code tokenizer.json} (HF fast tokenizer; merges written as
     * {@code "a b"} strings or as {@code ["a", "b"]} pairs) or else {@code vocab.json + merges.txt}. The files are
     * parsed and encoding runs on what they say; the vocabulary and merges must be GPT-2's own (checked against the
     * bundled copy, which is what a saved tokenizer.json of tinker refers to). {@code <|endoftext|>} is id 50256 and,
     * as in OpenAI's encoder, the literal text is encoded as ordinary characters.
     */
    public static Gpt2Tokenizer fromFolder(java.nio.file.Path dir) {
        java.nio.file.Path tj = dir.resolve("tokenizer.json"), vj = dir.resolve("vocab.json"), mt = dir.resolve("merges.txt");
        Map<String, Integer> ids = new HashMap<>(FULL_VOCAB_SIZE * 2);
        List<String[]> merges = new ArrayList<>(50000);
        String what;
        try {
            if (java.nio.file.Files.isRegularFile(tj)) {
                what = tj.toString();
                JsonObject o;
                try (var rd = java.nio.file.Files.newBufferedReader(tj, StandardCharsets.UTF_8)) {
                    o = com.google.gson.JsonParser.parseReader(rd).getAsJsonObject();
                } catch (RuntimeException e) {
                    throw new ConfigError(tj + ": not a valid tokenizer.json (corrupt JSON)");
                }
                JsonObject model = o.has("model") && o.get("model").isJsonObject() ? o.getAsJsonObject("model") : null;
                if (model == null || !model.has("vocab") || !model.has("merges") || (model.has("type") && !"BPE".equals(model.get("type").getAsString())))
                    throw new ConfigError(tj + ": expected a BPE model with \"vocab\" and \"merges\"");
                for (Map.Entry<String, JsonElement> e : model.getAsJsonObject("vocab").entrySet()) ids.put(e.getKey(), e.getValue().getAsInt());
                for (JsonElement m : model.getAsJsonArray("merges")) {
                    if (m.isJsonArray()) {
                        JsonArray a = m.getAsJsonArray();
                        if (a.size() != 2) throw new ConfigError(tj + ": malformed merge " + m);
                        merges.add(new String[] {a.get(0).getAsString(), a.get(1).getAsString()});
                    } else {
                        String line = m.getAsString();
                        int sp = line.indexOf(' ');
                        if (sp <= 0) throw new ConfigError(tj + ": malformed merge '" + line + "'");
                        merges.add(new String[] {line.substring(0, sp), line.substring(sp + 1)});
                    }
                }
                if (o.has("added_tokens") && o.get("added_tokens").isJsonArray())
                    for (JsonElement e : o.getAsJsonArray("added_tokens")) {
                        JsonObject a = e.getAsJsonObject();
                        ids.putIfAbsent(a.get("content").getAsString(), a.get("id").getAsInt());
                    }
            } else if (java.nio.file.Files.isRegularFile(vj) && java.nio.file.Files.isRegularFile(mt)) {
                what = vj + " + " + mt;
                try (JsonReader r = new JsonReader(java.nio.file.Files.newBufferedReader(vj, StandardCharsets.UTF_8))) {
                    r.beginObject();
                    while (r.hasNext()) ids.put(r.nextName(), r.nextInt());
                    r.endObject();
                } catch (RuntimeException e) {
                    throw new ConfigError(vj + ": not a valid vocab.json (corrupt JSON)");
                }
                try (BufferedReader r = java.nio.file.Files.newBufferedReader(mt, StandardCharsets.UTF_8)) {
                    readMergesTxt(r, merges, mt.toString());
                }
            } else {
                throw new ConfigError(dir + ": no tokenizer.json, or vocab.json + merges.txt (expected GPT-2 tokenizer files)");
            }
        } catch (IOException e) {
            throw new ConfigError(dir + ": cannot read the tokenizer files (" + e.getMessage() + ")");
        } catch (IllegalStateException | ClassCastException | NumberFormatException e) {
            throw new ConfigError(dir + ": malformed tokenizer files (" + e.getMessage() + ")");
        }
        Bpe bpe = build(ids, merges, what);
        if (bpe.fingerprint != model().fingerprint)
            throw new ConfigError(what + ": the vocabulary or merges differ from GPT-2's (tinker supports GPT-2's own BPE only)");
        return new Gpt2Tokenizer(bpe, null);
    }

    private static InputStreamReader reader(String name) throws IOException {
        InputStream in = Gpt2Tokenizer.class.getResourceAsStream("/tokenizers/gpt2/" + name);
        if (in == null) throw new IllegalStateException("resource /tokenizers/gpt2/" + name + " missing from the class path");
        return new InputStreamReader(new GZIPInputStream(in, 1 << 16), StandardCharsets.UTF_8);
    }

    /** GPT-2's byte-level alphabet and pre-tokenisation (shared with {@link BpeTokenizer}). */
    static final class ByteLevel {
        private ByteLevel() {}

        /** GPT-2's pre-tokenisation; {@code \s} is Unicode whitespace. */
        static final Pattern PATTERN = Pattern.compile(
                "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
                Pattern.UNICODE_CHARACTER_CLASS);

        /** byte (0..255) → its printable stand-in character. */
        static final char[] BYTE_TO_CHAR = new char[256];
        /** stand-in character → byte, -1 for other characters (indexed up to 511). */
        static final int[] CHAR_TO_BYTE = new int[512];

        static {
            boolean[] direct = new boolean[256];
            for (int b = '!'; b <= '~'; b++) direct[b] = true;
            for (int b = 0xA1; b <= 0xAC; b++) direct[b] = true;
            for (int b = 0xAE; b <= 0xFF; b++) direct[b] = true;
            int n = 0;
            for (int b = 0; b < 256; b++) BYTE_TO_CHAR[b] = direct[b] ? (char) b : (char) (256 + n++);
            Arrays.fill(CHAR_TO_BYTE, -1);
            for (int b = 0; b < 256; b++) CHAR_TO_BYTE[BYTE_TO_CHAR[b]] = b;
        }

        /** The pre-tokens of a text, in order. */
        static List<String> preTokenize(String text) {
            List<String> out = new ArrayList<>();
            Matcher m = PATTERN.matcher(text);
            while (m.find()) out.add(m.group());
            return out;
        }

        /** Bytes → stand-in characters (GPT-2's token spelling). */
        static String toChars(byte[] bytes) {
            char[] c = new char[bytes.length];
            for (int i = 0; i < bytes.length; i++) c[i] = BYTE_TO_CHAR[bytes[i] & 0xFF];
            return new String(c);
        }

        /** Stand-in characters → bytes; null if some character is not a stand-in. */
        static byte[] toBytes(String chars) {
            byte[] b = new byte[chars.length()];
            for (int i = 0; i < b.length; i++) {
                char c = chars.charAt(i);
                int v = c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
                if (v < 0) return null;
                b[i] = (byte) v;
            }
            return b;
        }

        /** A printable label of a token's bytes: UTF-8 where valid, {@code \xNN} for stray bytes. */
        static String label(byte[] bytes) {
            StringBuilder sb = new StringBuilder();
            int i = 0;
            while (i < bytes.length) {
                int b = bytes[i] & 0xFF;
                int len = b < 0x80 ? 1 : b >= 0xC2 && b <= 0xDF ? 2 : b >= 0xE0 && b <= 0xEF ? 3 : b >= 0xF0 && b <= 0xF4 ? 4 : 0;
                boolean ok = len > 0 && i + len <= bytes.length;
                for (int k = 1; ok && k < len; k++) ok = (bytes[i + k] & 0xC0) == 0x80;
                if (ok && len > 1) {
                    String s = new String(bytes, i, len, StandardCharsets.UTF_8);
                    ok = s.indexOf('\uFFFD') < 0;
                }
                if (ok) {
                    sb.append(Tokenizers.printable(new String(bytes, i, len, StandardCharsets.UTF_8)));
                    i += len;
                } else {
                    sb.append(String.format("\\x%02X", b));
                    i++;
                }
            }
            return sb.toString();
        }
    }

    /** A growable byte buffer for decoding. */
    static final class ByteBuf {
        private byte[] a;
        private int n;

        ByteBuf(int capacity) {
            a = new byte[Math.max(16, capacity)];
        }

        void add(byte[] b) {
            if (n + b.length > a.length) a = Arrays.copyOf(a, Math.max(a.length * 2, n + b.length));
            System.arraycopy(b, 0, a, n, b.length);
            n += b.length;
        }

        String utf8() {
            return new String(a, 0, n, StandardCharsets.UTF_8);
        }
    }

    /**
     * A byte-level BPE model: token spellings, merges in rank order, and the encoder (pre-tokenise, then merge the
     * lowest-ranked adjacent pair until none applies), with a cache of the ids of each pre-token.
     */
    static final class Bpe {
        private static final int CACHE_MAX = 1 << 18;

        /** The UTF-8 bytes a token stands for (a special token: its name). */
        final byte[][] tokenBytes;
        /** byte → token id, or the unk id (which no merge involves). */
        final int[] byteToId = new int[256];
        /** (left << 32 | right) → rank. */
        private final HashMap<Long, Integer> rank;
        private final int[] mergedId;
        private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();
        /** A hash of the tokens and merges (set by {@link #build}), to tell GPT-2's own vocabulary. */
        long fingerprint;

        Bpe(String[] tokens, boolean[] special, List<int[]> merges, int unkId) {
            tokenBytes = new byte[tokens.length][];
            Arrays.fill(byteToId, unkId);
            for (int i = 0; i < tokens.length; i++) {
                if (special[i]) {
                    tokenBytes[i] = tokens[i].getBytes(StandardCharsets.UTF_8);
                    continue;
                }
                byte[] b = ByteLevel.toBytes(tokens[i]);
                if (b == null || b.length == 0)
                    throw new IllegalStateException("token " + i + " is not a byte-level string: " + tokens[i]);
                tokenBytes[i] = b;
                if (b.length == 1 && byteToId[b[0] & 0xFF] == unkId) byteToId[b[0] & 0xFF] = i;
            }
            rank = new HashMap<>(merges.size() * 2);
            mergedId = new int[merges.size()];
            for (int r = 0; r < merges.size(); r++) {
                int[] m = merges.get(r);
                rank.putIfAbsent(key(m[0], m[1]), r);
                mergedId[r] = m[2];
            }
        }

        static long key(int a, int b) {
            return ((long) a << 32) | (b & 0xFFFFFFFFL);
        }

        int[] encode(String text) {
            int[] out = new int[Math.max(16, text.length() / 3)];
            int n = 0;
            Matcher m = ByteLevel.PATTERN.matcher(text);
            while (m.find()) {
                int[] ids = encodeWord(text.substring(m.start(), m.end()));
                if (n + ids.length > out.length) out = Arrays.copyOf(out, Math.max(out.length * 2, n + ids.length));
                System.arraycopy(ids, 0, out, n, ids.length);
                n += ids.length;
            }
            return Arrays.copyOf(out, n);
        }

        /** The ids of one pre-token (cached; the returned array must not be changed). */
        int[] encodeWord(String word) {
            int[] ids = cache.get(word);
            if (ids == null) {
                ids = merge(word.getBytes(StandardCharsets.UTF_8));
                if (cache.size() >= CACHE_MAX) cache.clear();
                cache.put(word, ids);
            }
            return ids;
        }

        private int[] merge(byte[] bytes) {
            int[] s = new int[bytes.length];
            int n = bytes.length;
            for (int i = 0; i < n; i++) s[i] = byteToId[bytes[i] & 0xFF];
            while (n > 1) {
                int best = Integer.MAX_VALUE, a = -1, b = -1;
                for (int i = 0; i + 1 < n; i++) {
                    Integer r = rank.get(key(s[i], s[i + 1]));
                    if (r != null && r < best) {
                        best = r;
                        a = s[i];
                        b = s[i + 1];
                    }
                }
                if (best == Integer.MAX_VALUE) break;
                int c = mergedId[best], w = 0;
                for (int i = 0; i < n; ) {
                    if (i + 1 < n && s[i] == a && s[i + 1] == b) {
                        s[w++] = c;
                        i += 2;
                    } else {
                        s[w++] = s[i++];
                    }
                }
                n = w;
            }
            return Arrays.copyOf(s, n);
        }
    }
}
