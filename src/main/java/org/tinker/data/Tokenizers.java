package org.tinker.data;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.tinker.config.Choice;
import org.tinker.config.ConfigError;
import org.tinker.config.ModelParams.TokenizerKind;

/** Builds, saves and loads tokenizers. */
public final class Tokenizers {
    /** The tokenizer kinds, as {@code tokenizer_source_name} spells them. */
    private static final List<String> KINDS = Choice.spellings(TokenizerKind.class);

    private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().create();

    private Tokenizers() {}

    /**
     * The tokenizer of a kind for a task's texts: {@code char} and {@code word} take their vocabulary from the
     * texts, {@code gpt2} is GPT-2 cropped to the ids the texts use, {@code gpt2-full} the whole GPT-2 vocabulary
     * (a head of GPT-2's shape, whatever the texts), {@code custom} is a byte-level BPE trained on the texts to about
     * {@code customNTokens} tokens.
     */
    public static Tokenizer build(TokenizerKind kind, int customNTokens, List<String> texts) {
        return switch (kind) {
            case CHAR -> CharTokenizer.build(texts);
            case WORD -> WordTokenizer.build(texts);
            case GPT2 -> Gpt2Tokenizer.cropped(texts);
            case GPT2_FULL -> Gpt2Tokenizer.full();
            case CUSTOM -> {
                if (customNTokens < BpeTokenizer.SPECIALS.size() + 1)
                    throw new ConfigError("custom_tokenizer_ntokens: expected at least " + (BpeTokenizer.SPECIALS.size() + 1)
                            + ", got " + customNTokens);
                yield BpeTokenizer.train(texts, customNTokens);
            }
        };
    }

    /** The kind a name on the command line or in a tokenizer file spells. */
    public static TokenizerKind kind(String name) {
        TokenizerKind k = Choice.parse(TokenizerKind.class, name);
        if (k == null) throw unknownKind(name);
        return k;
    }

    /** A tokenizer that needs no data: {@code gpt2} (and {@code gpt2-full}) is the full GPT-2 tokenizer. */
    public static Tokenizer named(TokenizerKind kind) {
        if (kind == TokenizerKind.GPT2 || kind == TokenizerKind.GPT2_FULL) return Gpt2Tokenizer.full();
        throw new ConfigError("tokenizer '" + kind + "' is built from a task's data (only gpt2 can be had by name)");
    }

    /** The tokenizer that {@link Tokenizer#toJson()} describes. */
    public static Tokenizer fromJson(JsonObject o) {
        if (o == null) throw new ConfigError("tokenizer JSON: expected an object");
        JsonElement k = o.get("kind");
        if (k == null || !k.isJsonPrimitive() || !k.getAsJsonPrimitive().isString())
            throw new ConfigError("tokenizer JSON: expected a string \"kind\" (one of " + String.join(", ", KINDS) + ")");
        return switch (kind(k.getAsString())) {
            case CHAR -> CharTokenizer.fromJson(o);
            case WORD -> WordTokenizer.fromJson(o);
            case GPT2, GPT2_FULL -> Gpt2Tokenizer.fromJson(o); // a gpt2 tokenizer's JSON says whether it is cropped
            case CUSTOM -> BpeTokenizer.fromJson(o);
        };
    }

    /** Writes the tokenizer's JSON to the file atomically (a temporary file in the same folder, then a move). */
    public static void save(Tokenizer tokenizer, Path file) {
        Path abs = file.toAbsolutePath();
        Path dir = abs.getParent();
        Path tmp = null;
        try {
            Files.createDirectories(dir);
            tmp = Files.createTempFile(dir, "." + abs.getFileName() + ".", ".tmp");
            try (Writer w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
                GSON.toJson(tokenizer.toJson(), w);
            }
            Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            tmp = null;
        } catch (IOException e) {
            throw new ConfigError(file + ": cannot write the tokenizer file (" + e + ")", e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // the write already failed; that error is the one to report
                }
            }
        }
    }

    /** Reads a tokenizer saved by {@link #save}. A missing or corrupt file is a {@link ConfigError} naming it. */
    public static Tokenizer load(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new ConfigError(file + ": no such tokenizer file");
        } catch (AccessDeniedException e) {
            throw new ConfigError(file + ": cannot read the tokenizer file (permission denied)");
        } catch (IOException e) {
            throw new ConfigError(file + ": cannot read the tokenizer file (" + e.getMessage() + ")", e);
        }
        try {
            JsonElement e = JsonParser.parseString(text);
            if (!e.isJsonObject()) throw new ConfigError("expected a JSON object");
            return fromJson(e.getAsJsonObject());
        } catch (JsonParseException | IllegalStateException | ClassCastException | NumberFormatException e) {
            throw new ConfigError(file + ": not a valid tokenizer file (corrupt JSON: " + oneLine(e.getMessage()) + ")", e);
        } catch (ConfigError e) {
            throw new ConfigError(file + ": not a valid tokenizer file (" + e.getMessage() + ")", e);
        }
    }

    private static ConfigError unknownKind(String kind) {
        return new ConfigError("unknown tokenizer kind '" + kind + "': expected one of " + String.join(", ", KINDS));
    }

    private static String oneLine(String s) {
        return s == null ? "" : s.replaceAll("\\s+", " ").trim();
    }

    // ---- helpers shared by the tokenizers ----

    /** Strings ordered by code point (as Python sorts them). */
    static final Comparator<String> CODE_POINT_ORDER = (x, y) -> {
        int i = 0, j = 0;
        while (i < x.length() && j < y.length()) {
            int a = x.codePointAt(i), b = y.codePointAt(j);
            if (a != b) return Integer.compare(a, b);
            i += Character.charCount(a);
            j += Character.charCount(b);
        }
        return Integer.compare(x.length() - i, y.length() - j);
    };

    /** A printable form of a token's text: space as ␣, newline as \n, other control characters escaped. */
    static String printable(String s) {
        StringBuilder sb = new StringBuilder(s.length() + 4);
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            i += Character.charCount(cp);
            switch (cp) {
                case ' ' -> sb.append('␣');
                case '\n' -> sb.append("\\n");
                case '\t' -> sb.append("\\t");
                case '\r' -> sb.append("\\r");
                default -> {
                    int type = Character.getType(cp);
                    if (type == Character.CONTROL || type == Character.FORMAT || type == Character.SURROGATE
                            || type == Character.LINE_SEPARATOR || type == Character.PARAGRAPH_SEPARATOR
                            || type == Character.UNASSIGNED || (type == Character.SPACE_SEPARATOR))
                        sb.append(cp <= 0xFF ? String.format("\\x%02X", cp) : String.format("\\u%04X", cp));
                    else
                        sb.appendCodePoint(cp);
                }
            }
        }
        return sb.toString();
    }

    static List<String> stringList(JsonObject o, String field, String what) {
        JsonElement e = o.get(field);
        if (e == null || !e.isJsonArray()) throw new ConfigError(what + ": expected an array \"" + field + "\"");
        JsonArray a = e.getAsJsonArray();
        List<String> out = new ArrayList<>(a.size());
        for (int i = 0; i < a.size(); i++) {
            JsonElement x = a.get(i);
            if (!x.isJsonPrimitive() || !x.getAsJsonPrimitive().isString())
                throw new ConfigError(what + ": expected strings in \"" + field + "\", entry " + i + " is " + x);
            out.add(x.getAsString());
        }
        return out;
    }

    static int intAt(JsonArray a, int i, String what) {
        JsonElement x = a.get(i);
        if (!x.isJsonPrimitive() || !x.getAsJsonPrimitive().isNumber())
            throw new ConfigError(what + ": expected integers, entry " + i + " is " + x);
        double d = x.getAsDouble();
        if (d != Math.rint(d) || Math.abs(d) > Integer.MAX_VALUE)
            throw new ConfigError(what + ": expected integers, entry " + i + " is " + x);
        return (int) d;
    }

    /** If the JSON names a vocab_size, it must be the rebuilt tokenizer's. */
    static void checkVocabSize(JsonObject o, Tokenizer t) {
        JsonElement e = o.get("vocab_size");
        if (e == null) return;
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber() || e.getAsDouble() != t.vocabSize())
            throw new ConfigError(t.kind() + " tokenizer JSON: vocab_size " + e + " but the vocabulary has " + t.vocabSize() + " tokens");
    }
}
