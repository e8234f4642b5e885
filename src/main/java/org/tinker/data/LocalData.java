package org.tinker.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.tinker.config.ConfigError;
import org.tinker.config.DataParams;

/**
 * Tasks read from the user's own data folder.
 *
 * <p>{@code {projectRoot}/data-path.txt} holds (on its first non-blank line) the path of a data folder; a relative
 * path is relative to the project root. Task {@code name} is the folder {@code {path}/{name}/}, or else the
 * shallowest folder called {@code name} up to 3 levels below {@code {path}} (ties broken by path order). In it:
 * <ul>
 *   <li>{@code train.txt}, {@code valid.txt} (or {@code val.txt}/{@code validation.txt}) and {@code test.txt}:
 *       the data's own splits; each file gives {@code lines_per_sample} lines per sample, -1 = the whole file;
 *   <li>else {@code data.txt}, else every {@code *.txt} in name order, read as one list of lines: no splits of
 *       its own, cut by {@link SplitRule} (by lines), then {@code lines_per_sample} lines per sample within each
 *       split, -1 = the whole split.
 * </ul>
 * Blank lines are dropped everywhere; other lines are kept as they are (only a trailing {@code \r} is removed).
 */
public final class LocalData {
    private LocalData() {}

    public static final String DATA_PATH_FILE = "data-path.txt";
    static final int MAX_DEPTH = 3;

    /** Where local tasks are looked for. */
    public record Location(Path dataPathFile, boolean dataPathFileFound, Path dataFolder) {
        public String describe() {
            if (!dataPathFileFound) return "no local data folder (" + dataPathFile + " not found)";
            if (dataFolder == null) return "no local data folder (" + dataPathFile + " is empty)";
            String exists = Files.isDirectory(dataFolder) ? "" : ", which does not exist";
            return "local folders under " + dataFolder + " (up to " + MAX_DEPTH + " levels, from " + dataPathFile + exists + ")";
        }
    }

    public static Location locate(Path projectRoot) {
        Path f = projectRoot.resolve(DATA_PATH_FILE);
        if (!Files.isRegularFile(f)) return new Location(f, false, null);
        try {
            for (String line : Files.readAllLines(f)) {
                String p = line.strip();
                if (p.isEmpty()) continue;
                if (p.startsWith("~/")) p = System.getProperty("user.home") + p.substring(1);
                Path dir = Path.of(p);
                if (!dir.isAbsolute()) dir = projectRoot.resolve(dir);
                return new Location(f, true, dir.normalize());
            }
        } catch (IOException | RuntimeException e) {
            throw new ConfigError(f + ": cannot read the data folder path (" + e.getMessage() + ")");
        }
        return new Location(f, true, null);
    }

    /** The task's folder, or null. */
    public static Path find(Location loc, String name) {
        if (loc.dataFolder() == null || !Files.isDirectory(loc.dataFolder())) return null;
        if (name.isBlank() || name.contains("..")) return null;
        Path base = loc.dataFolder();
        Path direct = base.resolve(name).normalize();
        if (direct.startsWith(base) && Files.isDirectory(direct)) return direct;
        if (name.contains("/") || name.contains("\\")) return null;
        try (Stream<Path> s = Files.walk(base, MAX_DEPTH)) {
            return s.filter(p -> !p.equals(base) && Files.isDirectory(p) && p.getFileName().toString().equals(name))
                    .min(Comparator.<Path>comparingInt(p -> base.relativize(p).getNameCount())
                            .thenComparing(Path::toString))
                    .orElse(null);
        } catch (IOException | UncheckedIOException e) {
            return null;
        }
    }

    /** Folder names directly under the data folder (for error messages). */
    static List<String> listTasks(Location loc) {
        List<String> out = new ArrayList<>();
        if (loc.dataFolder() == null || !Files.isDirectory(loc.dataFolder())) return out;
        try (Stream<Path> s = Files.list(loc.dataFolder())) {
            s.filter(Files::isDirectory).map(p -> p.getFileName().toString()).sorted().forEach(out::add);
        } catch (IOException e) {
            // only for a message
        }
        return out;
    }

    /** Reads a task folder. */
    public static Splits load(Path folder, DataParams dp) {
        try {
            Path train = folder.resolve("train.txt");
            if (Files.isRegularFile(train)) {
                Path valid = firstExisting(folder, "valid.txt", "val.txt", "validation.txt");
                Path test = folder.resolve("test.txt");
                if (valid == null || !Files.isRegularFile(test)) {
                    throw new ConfigError(folder + ": has train.txt but no " + (valid == null ? "valid.txt" : "test.txt")
                            + "; expected train.txt + valid.txt + test.txt, or data.txt, or other *.txt files");
                }
                int lps = dp.lines_per_sample();
                return new Splits(SplitRule.crop(SplitRule.group(TextFiles.lines(train, false), lps), dp.debug_crop()),
                        SplitRule.crop(SplitRule.group(TextFiles.lines(valid, false), lps), dp.debug_crop()),
                        SplitRule.crop(SplitRule.group(TextFiles.lines(test, false), lps), dp.debug_crop()), true);
            }
            List<Path> files = new ArrayList<>();
            Path data = folder.resolve("data.txt");
            if (Files.isRegularFile(data)) {
                files.add(data);
            } else {
                try (Stream<Path> s = Files.list(folder)) {
                    s.filter(p -> Files.isRegularFile(p) && p.getFileName().toString().endsWith(".txt"))
                            .sorted().forEach(files::add);
                }
            }
            if (files.isEmpty()) {
                throw new ConfigError(folder + ": no text files; expected train.txt + valid.txt + test.txt, or data.txt, or *.txt files");
            }
            List<String> lines = new ArrayList<>();
            for (Path f : files) lines.addAll(TextFiles.lines(f, false));
            if (lines.isEmpty()) throw new ConfigError(folder + ": the text files hold no non-blank lines");
            return unsplitLines(lines, dp);
        } catch (IOException e) {
            throw new ConfigError(folder + ": cannot read (" + e + ")", e);
        }
    }

    private static Path firstExisting(Path folder, String... names) {
        for (String n : names) {
            Path p = folder.resolve(n);
            if (Files.isRegularFile(p)) return p;
        }
        return null;
    }

    /**
     * Lines without splits of their own: {@code debug_crop} keeps the lines of the first N samples (N ×
     * lines_per_sample lines; no effect with -1), the lines are cut by {@link SplitRule}, then grouped.
     */
    static Splits unsplitLines(List<String> lines, DataParams dp) {
        int lps = dp.lines_per_sample();
        if (dp.debug_crop() != null && lps > 0) {
            lines = SplitRule.crop(lines, (int) Math.min(Integer.MAX_VALUE, (long) dp.debug_crop() * lps));
        }
        List<List<String>> cut = SplitRule.cut(lines, dp.val_pct(), dp.test_pct());
        return new Splits(SplitRule.group(cut.get(0), lps), SplitRule.group(cut.get(1), lps),
                SplitRule.group(cut.get(2), lps), false);
    }
}
