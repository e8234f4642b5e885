package org.tinker.config;

import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.apache.commons.configuration2.INIConfiguration;
import org.apache.commons.configuration2.ex.ConfigurationException;

/**
 * One config file: sections {@code [DataParams]}, {@code [TrainParams]}, {@code [ModelParams]} (or the
 * reference's bare section-name lines) holding {@code key = value} lines, values as Python literals,
 * {@code #} comments. A list value is a grid axis. Every mistake is reported as {@code file:line: ...}.
 */
public final class ConfigFile {
    private final String name;
    private final Map<Params.Section, LinkedHashMap<String, Params.Located>> sections;

    private ConfigFile(String name, Map<Params.Section, LinkedHashMap<String, Params.Located>> sections) {
        this.name = name;
        this.sections = sections;
    }

    /** The config's name: the file name without {@code .txt} once read from {@code configs/}. */
    public String name() {
        return name;
    }

    ConfigFile withName(String newName) {
        return new ConfigFile(newName, sections);
    }

    /** The values given in a section, in file order, each with its {@code file:line}. */
    public LinkedHashMap<String, Params.Located> section(Params.Section s) {
        return sections.get(s);
    }

    public static ConfigFile read(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new ConfigError(file + ": cannot read config file (" + e.getMessage() + ")");
        }
        return parse(file.toString(), utf8(file.toString(), bytes));
    }

    /** The text of a config's bytes; bytes that are not UTF-8 (Latin-1 from an old editor) are an error naming their line. */
    static String utf8(String fileName, byte[] bytes) {
        java.nio.charset.CharsetDecoder dec = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
                .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT);
        java.nio.ByteBuffer in = java.nio.ByteBuffer.wrap(bytes);
        java.nio.CharBuffer out = java.nio.CharBuffer.allocate(bytes.length + 1);
        java.nio.charset.CoderResult r = dec.decode(in, out, true);
        if (!r.isError()) r = dec.flush(out);
        if (r.isError()) {
            int line = 1;
            for (int i = 0; i < in.position(); i++) if (bytes[i] == '\n') line++;
            throw new ConfigError(fileName + ":" + line + ": not UTF-8 (byte 0x" + String.format("%02X", bytes[in.position()] & 0xff)
                    + "); save the config as UTF-8");
        }
        return out.flip().toString();
    }

    public static ConfigFile parse(String fileName, String text) {
        if (text.startsWith("\uFEFF")) text = text.substring(1); // a UTF-8 byte-order mark, as some Windows editors write
        Map<Params.Section, LinkedHashMap<String, Params.Located>> sections = new EnumMap<>(Params.Section.class);
        for (Params.Section s : Params.Section.values()) sections.put(s, new LinkedHashMap<>());
        Map<String, Integer> firstLine = new LinkedHashMap<>();
        StringBuilder ini = new StringBuilder(); // the same content, normalised to INI for Commons Configuration
        Params.Section current = null;
        int firstHeader = 0; // line of the first section header
        String[] lines = text.split("\r?\n", -1);
        for (int n = 1; n <= lines.length; n++) {
            String line = stripComment(lines[n - 1]).strip();
            String at = fileName + ":" + n;
            if (line.isEmpty()) {
                ini.append('\n');
                continue;
            }
            int eq = indexOutsideQuotes(line, '=', 0);
            if (eq < 0) {
                String header = line;
                if (header.startsWith("[") && header.endsWith("]")) header = header.substring(1, header.length() - 1).strip();
                if (header.endsWith(":")) header = header.substring(0, header.length() - 1).strip();
                current = Params.Section.named(header);
                if (current == null || !current.title.equalsIgnoreCase(header))
                    throw new ConfigError(at + ": unknown section '" + header
                            + "' (expected [DataParams], [TrainParams] or [ModelParams], or key = value)");
                if (!current.run)
                    throw new ConfigError(at + ": [" + current.title + "] is not part of a training config (runner "
                            + current.prefix + " reads it from its flags and --set " + current.prefix + ".KEY=VALUE)");
                ini.append('[').append(current.title).append("]\n");
                if (firstHeader == 0) firstHeader = n;
                continue;
            }
            if (indexOutsideQuotes(line, '=', eq + 1) >= 0)
                throw new ConfigError(at + ": expected one 'key = value' per line, found more than one '='");
            String key = line.substring(0, eq).strip();
            String raw = line.substring(eq + 1).strip();
            if (!key.matches("[A-Za-z_][A-Za-z0-9_]*"))
                throw new ConfigError(at + ": '" + key + "' is not a key name (expected letters, digits and _)");
            if (current == null)
                throw new ConfigError(at + ": key '" + key + "' comes before any section header ([DataParams], [TrainParams] or [ModelParams])");
            if (!current.has(key))
                throw new ConfigError(at + ": unknown key '" + key + "' in [" + current.title + "]" + Params.suggest(key, current));
            String id = current.title + "." + key;
            if (firstLine.containsKey(id))
                throw new ConfigError(at + ": duplicate key '" + key + "' in [" + current.title + "] (first set on line "
                        + firstLine.get(id) + ")");
            firstLine.put(id, n);
            Object value;
            try {
                value = PyLiteral.parse(raw);
            } catch (IllegalArgumentException e) {
                throw new ConfigError(at + ": " + key + " in [" + current.title + "]: " + e.getMessage());
            }
            sections.get(current).put(key, new Params.Located(value, at));
            ini.append(key).append(" = ").append(raw.replace("\\", "\\\\")).append('\n');
        }
        // an empty file (or one of comments) would silently train every default: a config says at least which section
        if (firstHeader == 0)
            throw new ConfigError(fileName + ": no sections (expected [DataParams], [TrainParams] or [ModelParams] with key = value lines;"
                    + " an empty section header is enough to train the defaults)");
        crossCheck(fileName, ini.toString(), sections);
        return new ConfigFile(fileName, sections);
    }

    /**
     * Reads the normalised text with Commons Configuration's INI reader and checks it sees the same
     * sections and keys: the file must also be a plain INI file that other tools can read.
     */
    private static void crossCheck(String fileName, String ini, Map<Params.Section, LinkedHashMap<String, Params.Located>> sections) {
        INIConfiguration conf = new INIConfiguration();
        try {
            conf.read(new StringReader(ini));
        } catch (ConfigurationException | IOException e) {
            throw new ConfigError(fileName + ": not a readable INI-style config (" + e.getMessage() + ")");
        }
        for (Params.Section s : Params.Section.ofRun()) {
            Set<String> seen = new HashSet<>();
            conf.getSection(s.title).getKeys().forEachRemaining(k -> seen.add(k.replace("..", ".")));
            if (!seen.equals(sections.get(s).keySet()))
                throw new IllegalStateException("config reader disagreement in " + fileName + " [" + s.title + "]: " + seen
                        + " vs " + sections.get(s).keySet());
        }
    }

    private static String stripComment(String line) {
        int h = indexOutsideQuotes(line, '#', 0);
        return h < 0 ? line : line.substring(0, h);
    }

    private static int indexOutsideQuotes(String s, char target, int from) {
        char quote = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (quote != 0) {
                if (c == '\\') i++;
                else if (c == quote) quote = 0;
            } else if (c == '"' || c == '\'') {
                quote = c;
            } else if (c == target && i >= from) {
                return i;
            }
        }
        return -1;
    }
}
