package org.tinker.runs;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.HashSet;
import java.util.Set;
import org.tinker.config.ConfigError;
import org.tinker.config.RunSpec;

/**
 * Names a run's W&B project, run and save folder (the reference's Namer): edit {@link #runName} to give
 * runs informative names; the save folder includes it. Timestamps are {@code YYYY-MM-DD--HH-MM-SS}, made
 * unique with a {@code -2}, {@code -3}, ... suffix when several runs start in the same second.
 */
public final class Namer {
    public static final String MAIN_PROJ = System.getenv().getOrDefault("TINKER_MAIN_PROJ", "base");
    public static final DateTimeFormatter TIMESTAMP = DateTimeFormatter.ofPattern("yyyy-MM-dd--HH-mm-ss");
    private static final Set<String> issued = new HashSet<>();

    private Namer() {}

    /** W&B project: {@code {MAIN_PROJ}-{config or --wandb-proj-name}-{task}}. */
    public static String wandbProjectName(RunSpec spec, String projNameOverride) {
        return MAIN_PROJ + "-" + (projNameOverride != null ? projNameOverride : spec.configName()) + "-" + spec.dp().dataset_name();
    }

    /** Name of the run; null (the default) leaves it to W&B and keeps it out of the save path. */
    public static String runName(RunSpec spec) {
        return spec.ablation() != null ? "ablation-" + spec.ablation() : null;
    }

    /**
     * Refuses a name that would leave its folder when used as one path element under saved-models: empty, {@code .},
     * {@code ..}, a leading dot (hidden, as saved-models' own {@code .timestamps}), a {@code /} or {@code \\} (hence any
     * absolute path), or a control character. {@code what} names where it came from (a flag or a config key).
     */
    public static String requirePlainName(String what, String name) {
        boolean bad = name == null || name.isEmpty() || name.startsWith(".") || name.contains("/") || name.contains("\\")
                || name.chars().anyMatch(c -> c < 0x20 || c == 0x7f);
        if (bad)
            throw new ConfigError(what + "=" + (name == null ? "" : name.replaceAll("\\p{Cntrl}", "?"))
                    + ": expected a plain name to save the run under (no '/', no '..', not absolute, not starting with '.')");
        return name;
    }

    /** Checks every name {@link #saveFolderName} puts in the path: config, task, run name. */
    public static void requirePlainNames(RunSpec spec) {
        requirePlainName("config name", spec.configName());
        requirePlainName("dp.dataset_name", spec.dp().dataset_name());
        String run = runName(spec);
        if (run != null) requirePlainName("run name", run);
    }

    /** {@code {config}/{task}/{run_name/}{timestamp}}, relative to saved-models/. */
    public static String saveFolderName(RunSpec spec, String timestamp) {
        String run = runName(spec);
        return spec.configName() + "/" + spec.dp().dataset_name() + "/" + (run != null ? run + "/" : "") + timestamp;
    }

    /** A timestamp not yet used in this process nor by any saved run under {@code savedModels}. */
    public static synchronized String newTimestamp(Path savedModels) {
        RunStore.requireRunsFolder(savedModels);
        String base = LocalDateTime.now().format(TIMESTAMP);
        String ts = base;
        for (int k = 2; issued.contains(ts) || existsAnywhere(savedModels, ts); k++) ts = base + "-" + k;
        issued.add(ts);
        return ts;
    }

    /**
     * A fresh timestamp for a run that will be saved, claimed across processes: an empty file
     * {@code savedModels/.timestamps/{ts}} is created exclusively, so grid tasks that start in the same second
     * (a SLURM array) on one file system never share a run folder.
     */
    public static synchronized String claimTimestamp(Path savedModels) {
        Path claims = savedModels.resolve(".timestamps");
        while (true) {
            String ts = newTimestamp(savedModels);
            try {
                Files.createDirectories(claims);
                Files.createFile(claims.resolve(ts));
                return ts;
            } catch (java.nio.file.FileAlreadyExistsException e) {
                // another process took it: newTimestamp now skips it
            } catch (java.io.IOException e) {
                return ts; // cannot claim (read-only?): creating the run folder will report the problem
            }
        }
    }

    /** Gives back a claimed timestamp whose run folder was removed (a run that failed before it trained). */
    public static void releaseClaim(Path savedModels, String ts) {
        try {
            Files.deleteIfExists(savedModels.resolve(".timestamps").resolve(ts));
        } catch (java.io.IOException e) {
            // an empty claim file left behind is harmless
        }
    }

    private static boolean existsAnywhere(Path root, String ts) {
        if (!Files.isDirectory(root)) return false;
        try (var s = Files.find(root, 5, (p, a) -> a.isDirectory() && p.getFileName() != null && p.getFileName().toString().equals(ts))) {
            return s.findAny().isPresent();
        } catch (java.io.IOException e) {
            return false;
        }
    }
}
