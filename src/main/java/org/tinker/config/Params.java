package org.tinker.config;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * Binds name → value maps (from config files, --set flags or saved JSON) onto the params records, and
 * flattens records back to maps. This is the only place that reads params by string key.
 */
public final class Params {
    private Params() {}

    public enum Section {
        DATA("DataParams", "dp", DataParams.class, DataParams.DEFAULTS, true),
        TRAIN("TrainParams", "tp", TrainParams.class, TrainParams.DEFAULTS, true),
        MODEL("ModelParams", "mp", ModelParams.class, ModelParams.DEFAULTS, true),
        /** runner tint's settings: its flags, {@code --set tint.KEY=VALUE} and the TinT keys of an input.json. */
        TINT("TintParams", "tint", TintParams.class, TintParams.DEFAULTS, false);

        public final String title;
        public final String prefix;
        public final Class<? extends Record> type;
        public final Record defaults;
        /** Whether the section belongs to a training run's config file (the others are read by their own command). */
        public final boolean run;

        Section(String title, String prefix, Class<? extends Record> type, Record defaults, boolean run) {
            this.title = title;
            this.prefix = prefix;
            this.type = type;
            this.defaults = defaults;
            this.run = run;
        }

        /** The sections of a training run's config file, in file order. */
        public static List<Section> ofRun() {
            return Arrays.stream(values()).filter(s -> s.run).toList();
        }

        public List<String> keys() {
            List<String> out = new ArrayList<>();
            for (RecordComponent c : type.getRecordComponents()) out.add(c.getName());
            return out;
        }

        public boolean has(String key) {
            return keys().contains(key);
        }

        public RecordComponent component(String key) {
            for (RecordComponent c : type.getRecordComponents()) if (c.getName().equals(key)) return c;
            return null;
        }

        /** Accepts "DataParams", "dp", "data" (any case). */
        public static Section named(String name) {
            for (Section s : values())
                if (s.title.equalsIgnoreCase(name) || s.prefix.equalsIgnoreCase(name) || s.name().equalsIgnoreCase(name))
                    return s;
            return null;
        }
    }

    /** Where a value came from, so that a bad value is reported at its file and line. */
    public interface Where {
        /** Location of the key, e.g. {@code configs/x.txt:7} or {@code --set mp.dim=64}. */
        String locate(String key);

        String sectionTitle();

        default void fail(String key, String expected, Object got) {
            throw new ConfigError(locate(key) + ": " + key + "=" + PyLiteral.repr(got) + " in [" + sectionTitle()
                    + "]: expected " + expected);
        }
    }

    /** A value with its location. */
    public record Located(Object value, String where) {}

    /** Builds the record of a section from the values given (others keep their defaults). */
    @SuppressWarnings("unchecked")
    public static <R extends Record> R bind(Section section, Map<String, Located> values, String fallbackWhere) {
        RecordComponent[] comps = section.type.getRecordComponents();
        Object[] args = new Object[comps.length];
        Class<?>[] types = new Class<?>[comps.length];
        for (int k = 0; k < comps.length; k++) {
            RecordComponent c = comps[k];
            types[k] = c.getType();
            Located given = values.get(c.getName());
            try {
                args[k] = given == null ? c.getAccessor().invoke(section.defaults) : convert(given.value(), c.getType());
            } catch (IllegalArgumentException e) {
                throw new ConfigError(given.where() + ": " + c.getName() + "=" + PyLiteral.repr(given.value()) + " in ["
                        + section.title + "]: expected " + e.getMessage());
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException(e);
            }
        }
        for (String key : values.keySet())
            if (!section.has(key))
                throw new ConfigError(values.get(key).where() + ": unknown key '" + key + "' in [" + section.title + "]"
                        + suggest(key, section));
        R r;
        try {
            r = (R) section.type.getDeclaredConstructor(types).newInstance(args);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
        Where where = new Where() {
            public String locate(String key) {
                Located l = values.get(key);
                return l != null ? l.where() : fallbackWhere + " (default of " + key + ")";
            }

            public String sectionTitle() {
                return section.title;
            }
        };
        validate(r, where);
        return r;
    }

    public static void validate(Record r, Where where) {
        // NaN compares false with everything, so a range check can let it through, and inf (also 1e999, which parses
        // as Infinity) is never a usable setting: refuse both in every float field before the range checks.
        for (RecordComponent c : r.getClass().getRecordComponents()) {
            if (c.getType() != double.class && c.getType() != Number.class) continue;
            Object v;
            try {
                v = c.getAccessor().invoke(r);
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException(e);
            }
            if (v instanceof Double d && !Double.isFinite(d)) where.fail(c.getName(), "a finite number", d);
        }
        if (r instanceof DataParams d) d.validate(where);
        else if (r instanceof TrainParams t) t.validate(where);
        else if (r instanceof ModelParams m) m.validate(where);
        else if (r instanceof TintParams t) t.validate(where);
    }

    static Object convert(Object v, Class<?> type) {
        if (v instanceof Integer i) v = (long) i; // Java callers' ints and floats read as the parser's longs and doubles
        else if (v instanceof Float x) v = (double) x;
        if (v instanceof List<?>) throw new IllegalArgumentException(typeName(type) + ", not a list");
        if (type == int.class || type == Integer.class) {
            if (v == PyLiteral.NONE || v == null) {
                if (type == Integer.class) return null;
                throw new IllegalArgumentException("an integer, not None");
            }
            if (v instanceof Double d && d == Math.rint(d) && Math.abs(d) < Integer.MAX_VALUE) return (int) (double) d;
            if (!(v instanceof Long l)) throw new IllegalArgumentException("an integer");
            if (l > Integer.MAX_VALUE || l < Integer.MIN_VALUE) throw new IllegalArgumentException("an integer that fits in 32 bits");
            return (int) (long) l;
        }
        if (type == long.class) {
            if (v instanceof Double d && d == Math.rint(d)) return (long) (double) d;
            if (!(v instanceof Long l)) throw new IllegalArgumentException("an integer");
            return l;
        }
        if (type == double.class) {
            if (v instanceof Long l) return (double) l;
            if (!(v instanceof Double d)) throw new IllegalArgumentException("a number");
            return d;
        }
        if (type == Number.class) {
            if (v instanceof Long l) return (int) (long) l;
            if (!(v instanceof Double d)) throw new IllegalArgumentException("a number");
            return d;
        }
        if (type == boolean.class) {
            if (!(v instanceof Boolean b)) throw new IllegalArgumentException("True or False");
            return b;
        }
        if (type == String.class) {
            if (v == PyLiteral.NONE) return "";
            if (!(v instanceof String s)) throw new IllegalArgumentException("a quoted string");
            return s;
        }
        if (type == PyLiteral.Tuple.class || type == Object.class) return v;
        if (type == ModelDict.class) {
            if (v instanceof ModelDict md) return md;
            if (v == PyLiteral.NONE) return ModelDict.NONE;
            if (!(v instanceof String s)) throw new IllegalArgumentException("a FlexiBERT model_dict as a quoted dict literal");
            try {
                return ModelDict.parse(s);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("a FlexiBERT model_dict, but " + e.getMessage());
            }
        }
        if (type == PerHierarchy.class) {
            try {
                return v instanceof PerHierarchy ph ? ph : PerHierarchy.parse(v);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(typeName(type));
            }
        }
        if (type.isEnum() && Choice.class.isAssignableFrom(type)) {
            if (type.isInstance(v)) return v;
            Object c = v instanceof String s ? choice(type, s) : null;
            if (c == null) throw new IllegalArgumentException(typeName(type));
            return c;
        }
        throw new IllegalStateException("unsupported params field type " + type);
    }

    private static String typeName(Class<?> type) {
        if (type == int.class || type == long.class || type == Integer.class) return "an integer";
        if (type == double.class || type == Number.class) return "a number";
        if (type == boolean.class) return "True or False";
        if (type == String.class) return "a quoted string";
        if (type.isEnum()) return "one of " + Choice.spellings(type);
        if (type == PerHierarchy.class) return "None, a whole number, or a tuple with one per hierarchy";
        return "a single value";
    }

    private static Class<?> box(Class<?> type) {
        if (type == int.class) return Integer.class;
        if (type == long.class) return Long.class;
        if (type == double.class) return Double.class;
        if (type == boolean.class) return Boolean.class;
        return type;
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static Object choice(Class<?> type, String spelling) {
        return Choice.parse((Class) type, spelling);
    }

    /**
     * The values a choice field of a params record may take, as spelled in config files ({@code activation},
     * {@code norm}, {@code lr_scheduler_type}, …), or null when the field is not a choice. The tests that run every
     * variant read these: a value added to an enum is checked everywhere.
     */
    public static List<String> choices(Class<? extends Record> type, String field) {
        for (RecordComponent c : type.getRecordComponents())
            if (c.getName().equals(field)) return c.getType().isEnum() ? Choice.spellings(c.getType()) : null;
        throw new IllegalArgumentException(type.getSimpleName() + " has no field '" + field + "'");
    }

    /** " (did you mean 'dim'?)" or " (it belongs in [TrainParams])", or "" when nothing is close. */
    public static String suggest(String key, Section section) {
        for (Section other : Section.values())
            if (other != section && other.run == section.run && other.has(key)) return " (it belongs in [" + other.title + "])";
        String best = null;
        int bestD = Integer.MAX_VALUE;
        for (String k : section.keys()) {
            int d = editDistance(key, k);
            if (d < bestD) {
                bestD = d;
                best = k;
            }
        }
        return best != null && bestD <= Math.max(2, key.length() / 3) ? " (did you mean '" + best + "'?)" : "";
    }

    static int editDistance(String a, String b) {
        int[] prev = new int[b.length() + 1], cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) prev[j] = j;
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++)
                cur[j] = Math.min(Math.min(cur[j - 1], prev[j]) + 1, prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1));
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }

    /**
     * A copy of a params record with one field replaced, by its config name, the value as the record holds it or as a
     * config file gives it (a spelling, a whole number, a tuple); no validation: code that derives configs.
     */
    @SuppressWarnings("unchecked")
    public static <R extends Record> R with(R record, String field, Object value) {
        RecordComponent[] comps = record.getClass().getRecordComponents();
        Object[] args = new Object[comps.length];
        Class<?>[] types = new Class<?>[comps.length];
        boolean found = false;
        try {
            for (int k = 0; k < comps.length; k++) {
                types[k] = comps[k].getType();
                found |= comps[k].getName().equals(field);
                args[k] = !comps[k].getName().equals(field) ? comps[k].getAccessor().invoke(record)
                        : value == null || box(types[k]).isInstance(value) ? value : convert(value, types[k]);
            }
            if (!found) throw new IllegalArgumentException(record.getClass().getSimpleName() + " has no field '" + field + "'");
            return (R) record.getClass().getDeclaredConstructor(types).newInstance(args);
        } catch (ReflectiveOperationException e) {
            throw new IllegalArgumentException("cannot set " + field + "=" + value + ": " + e, e);
        }
    }

    /**
     * The parameter reference as Markdown: each section's fields with their {@link Default} (as a config file writes
     * the value) and {@link Doc}. {@code docs/parameters.md} is this text ({@code runner params --markdown}); a test
     * keeps the two equal.
     */
    public static String markdown() {
        StringBuilder b = new StringBuilder("# Parameters\n\n");
        b.append("Every field of the three sections of a config file, its default and meaning, generated from the records in\n")
                .append("`src/main/java/org/tinker/config/` (`./runner params --markdown > docs/parameters.md`). A list value is a\n")
                .append("grid axis; a parenthesised tuple is one value. [TintParams] are the settings of `runner tint`\n")
                .append("(docs/models/tint.md): its flags, `--set tint.KEY=VALUE`, and the same keys in a TinT input.json.\n");
        for (Section s : Section.values()) {
            b.append("\n## ").append(s.title).append("\n\n| field | default | meaning |\n|---|---|---|\n");
            for (RecordComponent c : s.type.getRecordComponents()) {
                Default d = c.getAnnotation(Default.class);
                Doc doc = c.getAnnotation(Doc.class);
                String def = d == null ? "" : c.getType() == String.class || c.getType() == ModelDict.class || c.getType().isEnum() ? "\"" + d.value() + "\"" : d.value();
                b.append("| ").append(c.getName()).append(" | `").append(def).append("` | ")
                        .append(doc == null ? "" : doc.value().replace("|", "\\|")).append(" |\n");
            }
        }
        return b.toString();
    }

    /** A section's defaults: each field's {@link Default}, read as a config file's value would be. */
    public static <R extends Record> R defaults(Class<R> type) {
        RecordComponent[] comps = type.getRecordComponents();
        Object[] args = new Object[comps.length];
        Class<?>[] types = new Class<?>[comps.length];
        for (int k = 0; k < comps.length; k++) {
            RecordComponent c = comps[k];
            Default d = c.getAnnotation(Default.class);
            if (d == null) throw new IllegalStateException(type.getSimpleName() + "." + c.getName() + " has no @Default");
            types[k] = c.getType();
            args[k] = c.getType() == String.class || c.getType() == ModelDict.class || c.getType().isEnum() ? convert(d.value(), c.getType())
                    : convert(PyLiteral.parse(d.value()), c.getType());
        }
        try {
            return type.getDeclaredConstructor(types).newInstance(args);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The value of one field of a params record, by its config name, as the record holds it. */
    public static Object value(Record r, String field) {
        for (RecordComponent c : r.getClass().getRecordComponents()) {
            if (!c.getName().equals(field)) continue;
            try {
                return c.getAccessor().invoke(r);
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException(e);
            }
        }
        throw new IllegalArgumentException(r.getClass().getSimpleName() + " has no field '" + field + "'");
    }

    /** Record → ordered map of its fields (as JSON or a config would hold them). */
    public static LinkedHashMap<String, Object> toMap(Record r) {
        LinkedHashMap<String, Object> m = new LinkedHashMap<>();
        for (RecordComponent c : r.getClass().getRecordComponents()) {
            try {
                Object v = c.getAccessor().invoke(r);
                // free-form fields (a scalar or a tuple): None as null, a tuple as its Python text, so JSON round-trips
                if (v == PyLiteral.NONE) v = null;
                else if (v instanceof PyLiteral.Tuple) v = PyLiteral.repr(v);
                else if (v instanceof Choice choice) v = choice.spelling(); // saved and shown as the config file spells it
                else if (v instanceof PerHierarchy ph) v = ph.toPython();
                else if (v instanceof ModelDict md) v = md.text();
                m.put(c.getName(), v);
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException(e);
            }
        }
        return m;
    }

    /** The flattened config: {@code dp.x, tp.y, mp.z}; this is what W&B receives and what is printed. */
    public static LinkedHashMap<String, Object> flatten(DataParams dp, TrainParams tp, ModelParams mp) {
        LinkedHashMap<String, Object> m = new LinkedHashMap<>();
        toMap(dp).forEach((k, v) -> m.put("dp." + k, v));
        toMap(tp).forEach((k, v) -> m.put("tp." + k, v));
        toMap(mp).forEach((k, v) -> m.put("mp." + k, v));
        return m;
    }

    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().serializeNulls().serializeSpecialFloatingPointValues().create();

    public static String toJson(Record r) {
        return GSON.toJson(toMap(r));
    }

    /** {@link #toJson} as a JSON object, to merge into a file that holds more than the params. */
    public static JsonObject toJsonObject(Record r) {
        return GSON.toJsonTree(toMap(r)).getAsJsonObject();
    }

    /** Reads a params JSON file written by {@link #toJson}; unknown keys are an error naming the file. */
    public static <R extends Record> R fromJson(Section section, String json, String path) {
        return bind(section, jsonValues(json, path, key -> true), path);
    }

    /**
     * The entries of a JSON object's text that {@code keep} accepts, as a config file's values (a string as itself,
     * anything else read as a Python literal), each located at {@code path:line} of its key.
     */
    public static LinkedHashMap<String, Located> jsonValues(String json, String path, Predicate<String> keep) {
        JsonObject o;
        try {
            o = JsonParser.parseString(json).getAsJsonObject();
        } catch (RuntimeException e) { // truncated or not an object: one line naming the file, not a Gson trace
            throw new ConfigError(path + ": expected a JSON object of params (" + ConfigError.firstLine(e) + ")");
        }
        Map<String, Integer> lines = keyLines(json);
        LinkedHashMap<String, Located> values = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> e : o.entrySet()) {
            if (!keep.test(e.getKey())) continue;
            String at = path + ":" + lines.getOrDefault(e.getKey(), 1);
            JsonElement el = e.getValue();
            Object v;
            if (el.isJsonNull()) v = PyLiteral.NONE;
            else if (el.isJsonPrimitive() && el.getAsJsonPrimitive().isString()) v = el.getAsString();
            else try {
                v = PyLiteral.parse(el.isJsonPrimitive() && el.getAsJsonPrimitive().isBoolean()
                        ? (el.getAsBoolean() ? "True" : "False") : el.toString());
            } catch (RuntimeException pe) {
                throw new ConfigError(at + ": " + e.getKey() + ": unreadable value " + el + " (" + ConfigError.firstLine(pe) + ")");
            }
            values.put(e.getKey(), new Located(v, at));
        }
        return values;
    }

    /** The line of each key of a JSON object's top level (the text is valid JSON: the parser has read it). */
    private static Map<String, Integer> keyLines(String json) {
        Map<String, Integer> lines = new LinkedHashMap<>();
        int depth = 0, line = 1;
        for (int i = 0; i < json.length(); i++) {
            char c = json.charAt(i);
            if (c == '\n') line++;
            else if (c == '{' || c == '[') depth++;
            else if (c == '}' || c == ']') depth--;
            else if (c == '"') {
                int start = i, startLine = line;
                for (i++; json.charAt(i) != '"'; i++) if (json.charAt(i) == '\\') i++;
                int next = i + 1;
                while (next < json.length() && Character.isWhitespace(json.charAt(next))) next++;
                if (depth == 1 && next < json.length() && json.charAt(next) == ':')
                    lines.putIfAbsent(JsonParser.parseString(json.substring(start, i + 1)).getAsString(), startLine);
            }
        }
        return lines;
    }
}
