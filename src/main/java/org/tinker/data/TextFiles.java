package org.tinker.data;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPInputStream;

/** Reading text as lines: UTF-8 (malformed bytes become U+FFFD), {@code .gz} unpacked, blank lines dropped. */
final class TextFiles {
    private TextFiles() {}

    /** Non-blank lines of a stream, trimmed when {@code trim}, else only a trailing {@code \r} removed. */
    static List<String> lines(InputStream in, boolean gzip, boolean trim) throws IOException {
        InputStream raw = gzip ? new GZIPInputStream(in, 1 << 16) : in;
        var dec = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPLACE)
                .onUnmappableCharacter(CodingErrorAction.REPLACE);
        List<String> out = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(raw, dec), 1 << 16)) {
            String line;
            while ((line = r.readLine()) != null) {
                if (line.isBlank()) continue;
                out.add(trim ? line.strip() : stripCr(line));
            }
        }
        return out;
    }

    static List<String> lines(Path file, boolean trim) throws IOException {
        return lines(Files.newInputStream(file), file.getFileName().toString().endsWith(".gz"), trim);
    }

    private static String stripCr(String s) {
        return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
    }
}
