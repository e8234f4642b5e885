package org.tinker.runs;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;
import org.tinker.config.ConfigError;
import org.tinker.config.DataParams;
import org.tinker.config.ModelParams;
import org.tinker.config.Params;
import org.tinker.config.RunSpec;
import org.tinker.config.TrainParams;
import org.tinker.engine.SafeTensors;

/**
 * One checkpoint folder ({@code final/} or {@code {n_train_samples}/}) and the files in it:
 * <pre>
 *   model_params.json data_params.json train_params.json   the run's params
 *   train_stats.json                                        every statistic so far
 *   tokenizer.json                                          the tokenizer, exactly
 *   model.safetensors                                       weights by HF-style name (readable by Python's safetensors)
 *   optimizer.safetensors                                   Adam moments ({name}.exp_avg, {name}.exp_avg_sq)
 *   trainer_state.json                                      counters, data position, schedule and RNG state for resume
 * </pre>
 * A checkpoint is written whole into a hidden temporary folder beside it and then renamed into place, so
 * a crash never leaves a half-written checkpoint and the previous one stays readable.
 */
public final class Checkpoint {
    public static final String MODEL_FILE = "model.safetensors";
    public static final String OPTIMIZER_FILE = "optimizer.safetensors";
    public static final String STATE_FILE = "trainer_state.json";
    public static final String STATS_FILE = "train_stats.json";
    public static final String TOKENIZER_FILE = "tokenizer.json";
    public static final String FINAL = "final";

    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().serializeSpecialFloatingPointValues().create();

    private Checkpoint() {}

    /** Writes files into {@code dir} atomically: all of them appear together or none does. */
    public interface Writer {
        void write(Path tmpDir) throws IOException;
    }

    public static void writeAtomically(Path dir, Writer writer) throws IOException {
        Path parent = dir.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        Path tmp = Files.createTempDirectory(parent, "." + dir.getFileName() + ".tmp-");
        try {
            writer.write(tmp);
            publish(tmp);
            syncTree(tmp); // every file and the folder on disk before the rename makes them the checkpoint
            if (Files.exists(dir)) {
                // replace an older checkpoint of the same name (e.g. final/ on resume): move it aside first
                Path old = parent.resolve("." + dir.getFileName() + ".old-" + System.nanoTime());
                Files.move(dir, old, StandardCopyOption.ATOMIC_MOVE);
                move(tmp, dir);
                fsync(parent);
                deleteTree(old);
            } else {
                move(tmp, dir);
            }
            fsync(parent); // the rename itself
        } catch (IOException | RuntimeException e) {
            deleteTree(tmp);
            throw e;
        }
    }

    /** fsyncs every regular file under {@code root}, then every folder (deepest first), {@code root} last. */
    static void syncTree(Path root) throws IOException {
        java.util.List<Path> all;
        try (Stream<Path> s = Files.walk(root)) {
            all = s.sorted(Comparator.reverseOrder()).toList();
        }
        for (Path p : all) if (Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) fsync(p);
        for (Path p : all) if (Files.isDirectory(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) fsync(p);
    }

    /**
     * Forces a file's data, or a folder's entries, to disk. A folder is opened for reading and forced (works on Linux);
     * a platform that refuses to open or force a folder is ignored. A file that cannot be forced is an error.
     */
    static void fsync(Path p) throws IOException {
        if (Files.isDirectory(p)) {
            try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(p, java.nio.file.StandardOpenOption.READ)) {
                ch.force(true);
            } catch (IOException e) {
                // not supported for folders here (Windows): the rename is as durable as the platform makes it
            }
            return;
        }
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(p, java.nio.file.StandardOpenOption.WRITE)) {
            ch.force(true);
        }
    }

    /**
     * Removes what a killed save leaves in a run folder: hidden {@code .NAME.tmp-*} checkpoint folders and {@code
     * .NAME.*.tmp} files, and {@code .NAME.old-*} copies of a replaced checkpoint (put back as NAME when the
     * replacement never arrived). Call only while holding the run's lock. Best effort: returns what was removed.
     */
    public static java.util.List<String> removeStale(Path runDir) {
        java.util.List<String> removed = new java.util.ArrayList<>();
        java.util.List<Path> entries;
        try (Stream<Path> s = Files.list(runDir)) {
            entries = s.sorted().toList();
        } catch (IOException e) {
            return removed;
        }
        java.util.regex.Pattern tmpDir = java.util.regex.Pattern.compile("\\.(.+)\\.tmp-.*");
        java.util.regex.Pattern tmpFile = java.util.regex.Pattern.compile("\\..+\\.tmp");
        java.util.regex.Pattern oldDir = java.util.regex.Pattern.compile("\\.(.+)\\.old-\\d+");
        for (Path p : entries) {
            String n = p.getFileName().toString();
            boolean dir = Files.isDirectory(p, java.nio.file.LinkOption.NOFOLLOW_LINKS);
            java.util.regex.Matcher old = oldDir.matcher(n);
            if (dir && old.matches()) {
                Path target = runDir.resolve(old.group(1));
                if (!Files.exists(target, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                    try { // killed between moving the old checkpoint aside and renaming the new one in: the old one is it
                        Files.move(p, target, StandardCopyOption.ATOMIC_MOVE);
                        continue;
                    } catch (IOException e) {
                        continue; // keep it: it may be the only copy
                    }
                }
                deleteTree(p);
                if (!Files.exists(p)) removed.add(n);
            } else if ((dir && tmpDir.matcher(n).matches()) || (Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)
                    && tmpFile.matcher(n).matches())) {
                deleteTree(p);
                if (!Files.exists(p)) removed.add(n);
            }
        }
        return removed;
    }

    /** Temp files and folders are created private (0600/0700); a saved run is as readable as any other file. */
    private static void publish(Path p) throws IOException {
        if (!p.getFileSystem().supportedFileAttributeViews().contains("posix")) return;
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : (Iterable<Path>) s::iterator)
                Files.setPosixFilePermissions(q, java.nio.file.attribute.PosixFilePermissions.fromString(
                        Files.isDirectory(q) ? "rwxr-xr-x" : "rw-r--r--"));
        }
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to);
        }
    }

    /** Writes a small text file atomically (temp file in the same folder, then rename). */
    public static void writeString(Path file, String text) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        Path tmp = Files.createTempFile(parent, "." + file.getFileName() + ".", ".tmp");
        try {
            Files.writeString(tmp, text, StandardCharsets.UTF_8);
            publish(tmp);
            fsync(tmp);
            move(tmp, file);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    public static void deleteTree(Path p) {
        if (!Files.exists(p)) return;
        try (Stream<Path> s = Files.walk(p)) {
            s.sorted(Comparator.reverseOrder()).forEach(q -> q.toFile().delete());
        } catch (IOException ignored) {
            // best effort: a leftover hidden temp folder is harmless
        }
    }

    public static String toJson(Object o) {
        return GSON.toJson(o);
    }

    /** Writes tensors as safetensors, each named. The arrays are copied, so the caller keeps its own. */
    public static void writeTensors(Path file, Map<String, NDArray> tensors) throws IOException {
        try (NDManager tmp = tensors.values().iterator().next().getManager().newSubManager()) {
            NDList list = new NDList();
            tensors.forEach((name, a) -> {
                NDArray c = a.toDevice(ai.djl.Device.cpu(), true);
                c.attach(tmp);
                c.setName(name);
                list.add(c);
            });
            try (OutputStream os = Files.newOutputStream(file)) {
                list.encode(os, NDList.Encoding.SAFETENSORS);
            }
        }
    }

    /** Reads a safetensors file into {@code manager}, by name. */
    public static LinkedHashMap<String, NDArray> readTensors(Path file, NDManager manager) {
        if (!Files.isRegularFile(file)) throw new ConfigError(file + ": no such file (expected a safetensors checkpoint)");
        SafeTensors.header(file); // offsets checked first: negative, oversized, overlapping are refused
        try (InputStream in = Files.newInputStream(file)) {
            NDList list = NDList.decode(manager, in);
            LinkedHashMap<String, NDArray> out = new LinkedHashMap<>();
            for (NDArray a : list) out.put(a.getName(), a);
            return out;
        } catch (IOException | RuntimeException e) {
            throw new ConfigError(file + ": cannot read safetensors (" + e.getMessage() + ")");
        }
    }

    /**
     * The validation loss recorded for exactly the weights of a checkpoint: trainer_state's {@code checkpointValLoss};
     * for checkpoints saved before it existed, the val loss in train_stats logged at the checkpoint's n_train_samples
     * (a validation and a checkpoint at the same samples saw the same weights). Empty when neither exists: the weights
     * were saved between validations.
     */
    public static java.util.OptionalDouble recordedValLoss(Path checkpoint) {
        TrainerState state = TrainerState.read(checkpoint.resolve(STATE_FILE));
        if (state.checkpointValLoss != null) return java.util.OptionalDouble.of(state.checkpointValLoss);
        long samples = state.nTrainSamples;
        TrainStats stats = readStats(checkpoint.resolve(STATS_FILE));
        java.util.OptionalDouble found = java.util.OptionalDouble.empty();
        for (TrainStats.Point p : stats.get("stat/val_loss:main"))
            if (p.nTrainSamples() == samples && Double.isFinite(p.value())) found = java.util.OptionalDouble.of(p.value());
        return found;
    }

    public static JsonObject readJson(Path file) {
        try {
            return com.google.gson.JsonParser.parseString(Files.readString(file)).getAsJsonObject();
        } catch (IOException | RuntimeException e) {
            throw new ConfigError(file + ": expected a JSON object (" + ConfigError.firstLine(e) + ")");
        }
    }

    /** A checkpoint's train_stats.json; a truncated or odd file is one line naming it. */
    public static TrainStats readStats(Path file) {
        String text = readString(file);
        try {
            return TrainStats.fromJson(text);
        } catch (RuntimeException e) {
            throw new ConfigError(file + ": expected train statistics {name: [[step, n_train_samples, counter, value], ...]} ("
                    + ConfigError.firstLine(e) + ")");
        }
    }

    public static String readString(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            throw new ConfigError(file + ": cannot read (" + e.getMessage() + ")");
        }
    }

    /** The RunSpec a checkpoint was trained with. */
    public static RunSpec readSpec(Path checkpoint, String configName) {
        DataParams dp = Params.fromJson(Params.Section.DATA, readString(checkpoint.resolve("data_params.json")),
                checkpoint.resolve("data_params.json").toString());
        TrainParams tp = Params.fromJson(Params.Section.TRAIN, readString(checkpoint.resolve("train_params.json")),
                checkpoint.resolve("train_params.json").toString());
        ModelParams mp = Params.fromJson(Params.Section.MODEL, readString(checkpoint.resolve("model_params.json")),
                checkpoint.resolve("model_params.json").toString());
        return new RunSpec(configName, 1, 1, dp, tp, mp, new LinkedHashMap<>(), null);
    }
}
