package org.tinker.data;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.GZIPInputStream;

/** Test data for the tokenizer tests: the GPT-2 fixture and the corpus samples in src/test/resources. */
final class TokenizerTestData {
    private TokenizerTestData() {}

    record Case(int line, String text, int[] ids) {}

    static String resource(String path) {
        try (InputStream in = TokenizerTestData.class.getResourceAsStream(path)) {
            if (in == null) throw new IllegalStateException("test resource missing: " + path);
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The lines of a sample (without their line ends). */
    static List<String> lines(String sample) {
        String s = resource("/corpora-samples/" + sample);
        List<String> out = new ArrayList<>(Arrays.asList(s.split("\n", -1)));
        if (out.get(out.size() - 1).isEmpty()) out.remove(out.size() - 1);
        return out;
    }

    static String text(String sample) {
        return resource("/corpora-samples/" + sample);
    }

    static List<Case> gpt2Cases() {
        List<Case> out = new ArrayList<>();
        // split on \n only: the file escapes U+2028 and control characters
        String[] rows = resource("/fixtures/gpt2-tokenizer/cases.jsonl").split("\n");
        for (int i = 0; i < rows.length; i++) {
            if (rows[i].isEmpty()) continue;
            JsonObject o = JsonParser.parseString(rows[i]).getAsJsonObject();
            JsonArray a = o.getAsJsonArray("ids");
            int[] ids = new int[a.size()];
            for (int k = 0; k < ids.length; k++) ids[k] = a.get(k).getAsInt();
            out.add(new Case(i + 1, o.get("text").getAsString(), ids));
        }
        return out;
    }

    /**
     * A full corpus split, if one can be found: the class-path resource {@code /corpora/<name>.gz} or
     * {@code /corpora/<name>} (where the project ships its corpora), else {@code <dir>/<name>} for the directory
     * in the system property {@code tinker.corpora} (e.g. a local copy of the shared data). Null if none.
     */
    static String corpus(String name) {
        try {
            for (String p : List.of("/corpora/" + name + ".gz", "/corpora/" + name)) {
                InputStream in = TokenizerTestData.class.getResourceAsStream(p);
                if (in == null) continue;
                try (InputStream s = p.endsWith(".gz") ? new GZIPInputStream(in) : in) {
                    return new String(s.readAllBytes(), StandardCharsets.UTF_8);
                }
            }
            String dir = System.getProperty("tinker.corpora");
            if (dir != null && Files.isRegularFile(Path.of(dir, name))) return Files.readString(Path.of(dir, name));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return null;
    }

    static List<String> corpusLines(String text) {
        List<String> out = new ArrayList<>(Arrays.asList(text.split("\n", -1)));
        if (out.get(out.size() - 1).isEmpty()) out.remove(out.size() - 1);
        return out;
    }
}
