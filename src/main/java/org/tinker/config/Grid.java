package org.tinker.config;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Expands config files into runs. Every list value, in every section, is a grid axis; the runs are the
 * cartesian product of the axes, in a fixed order: files sorted by name, then axes in section order
 * (DataParams, TrainParams, ModelParams) and field order, the first axis varying slowest.
 */
public final class Grid {
    private Grid() {}

    /** A {@code --set section.key=value} override; {@code where} is how errors name it. */
    public record Override(Params.Section section, String key, Object value, String where) {
        /** Parses {@code mp.dim=64}, {@code ModelParams.dim=64}, {@code tp.lr=[0.001,0.003]}. */
        public static Override parse(String arg) {
            String where = "--set " + arg;
            int eq = arg.indexOf('=');
            int dot = arg.indexOf('.');
            if (eq < 0 || dot < 0 || dot > eq)
                throw new ConfigError(where + ": expected section.key=value, e.g. --set mp.dim=64");
            Params.Section s = Params.Section.named(arg.substring(0, dot).strip());
            if (s == null)
                throw new ConfigError(where + ": unknown section '" + arg.substring(0, dot) + "' (expected dp, tp, mp or DataParams, TrainParams, ModelParams; tint for runner tint)");
            String key = arg.substring(dot + 1, eq).strip();
            if (!s.has(key)) throw new ConfigError(where + ": unknown key '" + key + "' in [" + s.title + "]" + Params.suggest(key, s));
            Object v;
            try {
                v = PyLiteral.parse(arg.substring(eq + 1));
            } catch (IllegalArgumentException e) {
                // a bare word on the command line is taken as a string: --set dp.dataset_name=ptb
                String raw = arg.substring(eq + 1).strip();
                if (raw.matches("[A-Za-z0-9_.\\-/]+") && !raw.isEmpty()) v = raw;
                else throw new ConfigError(where + ": " + e.getMessage());
            }
            return new Override(s, key, v, where);
        }
    }

    /**
     * The most runs {@link #expand} builds unless told otherwise ({@code runner --max-grid=N}): every point is bound and
     * validated before the first run starts, so a grid of millions of points would hang before printing anything.
     */
    public static final long DEFAULT_MAX_RUNS = 10_000;

    /** All runs of the given files, at most {@link #DEFAULT_MAX_RUNS}. */
    public static List<RunSpec> expand(List<ConfigFile> files, List<Override> overrides, String taskOverride, boolean ablate) {
        return expand(files, overrides, taskOverride, ablate, DEFAULT_MAX_RUNS);
    }

    /**
     * How many runs {@link #expand} would build, counted without building them; {@link Long#MAX_VALUE} when the count
     * does not fit in a long (32 axes of 2 values already overflow an int).
     */
    public static long count(List<ConfigFile> files, List<Override> overrides, boolean ablate) {
        long total = 0;
        for (ConfigFile f : files) total = saturatedAdd(total, count(given(f, overrides, null), ablate));
        return total;
    }

    private static long count(Map<Params.Section, LinkedHashMap<String, Params.Located>> given, boolean ablate) {
        long n = ablate ? 1 + Ablations.ALL.stream().filter(ab -> Ablations.changes(ab, given)).count() : 1;
        for (Params.Section s : Params.Section.values())
            for (Params.Located l : given.get(s).values())
                if (l.value() instanceof List<?> list) n = saturatedMultiply(n, list.size());
        return n;
    }

    private static long saturatedMultiply(long a, long b) {
        return b != 0 && a > Long.MAX_VALUE / b ? Long.MAX_VALUE : a * b;
    }

    private static long saturatedAdd(long a, long b) {
        return a > Long.MAX_VALUE - b ? Long.MAX_VALUE : a + b;
    }

    private static String runs(long n) {
        return n == Long.MAX_VALUE ? "more than 9.2e18 runs" : String.format("%,d runs", n);
    }

    /** A config's values with the overrides and --task applied. */
    private static Map<Params.Section, LinkedHashMap<String, Params.Located>> given(ConfigFile f, List<Override> overrides, String taskOverride) {
        Map<Params.Section, LinkedHashMap<String, Params.Located>> given = new EnumMap<>(Params.Section.class);
        for (Params.Section s : Params.Section.values()) given.put(s, new LinkedHashMap<>(f.section(s)));
        for (Override o : overrides) {
            if (!o.section().run)
                throw new ConfigError(o.where() + ": [" + o.section().title + "] is not a training setting (runner " + o.section().prefix
                        + " takes --set " + o.section().prefix + ".KEY=VALUE)");
            given.get(o.section()).put(o.key(), new Params.Located(o.value(), o.where()));
        }
        if (taskOverride != null)
            given.get(Params.Section.DATA).put("dataset_name", new Params.Located(taskOverride, "--task=" + taskOverride));
        return given;
    }

    /**
     * All runs of the given files.
     *
     * @param taskOverride replaces dataset_name everywhere when not null ({@code --task})
     * @param ablate also run every ablation of {@link Ablations} for each grid point
     * @param maxRuns refuse, before building any, a grid of more runs than this
     */
    public static List<RunSpec> expand(List<ConfigFile> files, List<Override> overrides, String taskOverride, boolean ablate, long maxRuns) {
        long total = 0;
        String largest = null;
        long largestCount = -1;
        for (ConfigFile f : files) {
            long n = count(given(f, overrides, taskOverride), ablate);
            total = saturatedAdd(total, n);
            if (n > largestCount) {
                largestCount = n;
                largest = f.name();
            }
        }
        if (total > maxRuns)
            throw new ConfigError(largest + ".txt: the grid has " + runs(largestCount) + (files.size() > 1 ? " (" + runs(total)
                    + " with the other " + largest + "-*.txt files)" : "") + ", more than the limit of " + String.format("%,d", maxRuns)
                    + " (raise it with --max-grid=N, or give fewer list values)");
        List<RunSpec> out = new ArrayList<>();
        List<Object[]> pending = new ArrayList<>(); // configName, dp, tp, mp, varying, ablation
        for (ConfigFile f : files) {
            Map<Params.Section, LinkedHashMap<String, Params.Located>> given = given(f, overrides, taskOverride);
            // axes in section order, then field order
            List<Params.Section> axisSection = new ArrayList<>();
            List<String> axisKey = new ArrayList<>();
            for (Params.Section s : Params.Section.values())
                for (String key : s.keys()) {
                    Params.Located l = given.get(s).get(key);
                    if (l != null && l.value() instanceof List<?> list) {
                        if (list.isEmpty()) throw new ConfigError(l.where() + ": " + key + " in [" + s.title + "]: an empty list gives no runs");
                        axisSection.add(s);
                        axisKey.add(key);
                    }
                }
            int[] sizes = new int[axisKey.size()];
            int count = 1;
            for (int a = 0; a < sizes.length; a++) {
                sizes[a] = ((List<?>) given.get(axisSection.get(a)).get(axisKey.get(a)).value()).size();
                count *= sizes[a];
            }
            for (int c = 0; c < count; c++) {
                int rest = c;
                int[] choice = new int[sizes.length];
                for (int a = sizes.length - 1; a >= 0; a--) {
                    choice[a] = rest % sizes[a];
                    rest /= sizes[a];
                }
                Map<Params.Section, LinkedHashMap<String, Params.Located>> point = new EnumMap<>(Params.Section.class);
                for (Params.Section s : Params.Section.values()) point.put(s, new LinkedHashMap<>(given.get(s)));
                LinkedHashMap<String, Object> varying = new LinkedHashMap<>();
                for (int a = 0; a < sizes.length; a++) {
                    Params.Located l = point.get(axisSection.get(a)).get(axisKey.get(a));
                    Object v = ((List<?>) l.value()).get(choice[a]);
                    point.get(axisSection.get(a)).put(axisKey.get(a), new Params.Located(v, l.where()));
                    varying.put(axisSection.get(a).prefix + "." + axisKey.get(a), v);
                }
                addRun(pending, f.name(), point, varying, null);
                if (ablate)
                    for (Ablations.Ablation ab : Ablations.ALL) {
                        if (!Ablations.changes(ab, given)) continue; // the config has this value already: a duplicate run
                        Map<Params.Section, LinkedHashMap<String, Params.Located>> abl = new EnumMap<>(Params.Section.class);
                        for (Params.Section s : Params.Section.values()) abl.put(s, new LinkedHashMap<>(point.get(s)));
                        ab.overrides().forEach((k, v) -> {
                            Params.Section s = Params.Section.named(k.substring(0, k.indexOf('.')));
                            abl.get(s).put(k.substring(k.indexOf('.') + 1), new Params.Located(v, "ablation " + ab.name()));
                        });
                        addRun(pending, f.name(), abl, varying, ab.name());
                    }
            }
        }
        for (int i = 0; i < pending.size(); i++) {
            Object[] p = pending.get(i);
            @SuppressWarnings("unchecked")
            LinkedHashMap<String, Object> varying = (LinkedHashMap<String, Object>) p[4];
            out.add(new RunSpec((String) p[0], i + 1, pending.size(), (DataParams) p[1], (TrainParams) p[2],
                    (ModelParams) p[3], varying, (String) p[5]));
        }
        return out;
    }

    private static void addRun(List<Object[]> pending, String name, Map<Params.Section, LinkedHashMap<String, Params.Located>> point,
                               LinkedHashMap<String, Object> varying, String ablation) {
        String fallback = name;
        DataParams dp = Params.bind(Params.Section.DATA, point.get(Params.Section.DATA), fallback);
        TrainParams tp = Params.bind(Params.Section.TRAIN, point.get(Params.Section.TRAIN), fallback);
        ModelParams mp = Params.bind(Params.Section.MODEL, point.get(Params.Section.MODEL), fallback);
        pending.add(new Object[] {name, dp, tp, mp, varying, ablation});
    }

    /** {@code configs/NAME.txt} and every {@code configs/NAME-*.txt}, sorted by file name. */
    public static List<ConfigFile> filesFor(java.nio.file.Path configDir, String name) {
        java.nio.file.Path main = configDir.resolve(name + ".txt");
        List<java.nio.file.Path> paths = new ArrayList<>();
        if (java.nio.file.Files.isRegularFile(main)) paths.add(main);
        try (var s = java.nio.file.Files.list(configDir)) {
            s.filter(p -> p.getFileName().toString().startsWith(name + "-") && p.getFileName().toString().endsWith(".txt"))
                    .sorted().forEach(paths::add);
        } catch (java.io.IOException e) {
            throw new ConfigError(configDir + ": cannot list config folder (" + e.getMessage() + ")");
        }
        if (paths.isEmpty())
            throw new ConfigError(main + ": no such config (and no " + name + "-*.txt beside it)");
        List<ConfigFile> files = new ArrayList<>();
        for (java.nio.file.Path p : paths) {
            String fn = p.getFileName().toString();
            ConfigFile cf = ConfigFile.read(p);
            files.add(renamed(cf, fn.substring(0, fn.length() - 4), p.toString()));
        }
        return files;
    }

    private static ConfigFile renamed(ConfigFile cf, String configName, String path) {
        return cf.withName(configName);
    }
}
