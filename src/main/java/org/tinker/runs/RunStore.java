package org.tinker.runs;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.tinker.config.ConfigError;

/**
 * The saved runs under {@code saved-models/}: {@code {config}/{task}/{run_name?}/{timestamp}/{checkpoint}/}.
 * Finds a run by its timestamp and lists its checkpoints.
 */
public final class RunStore {
    public static final Pattern TIMESTAMP = Pattern.compile("\\d{4}-\\d{2}-\\d{2}--\\d{2}-\\d{2}-\\d{2}(-\\d+)?");

    private final Path root;

    public RunStore(Path savedModels) {
        requireRunsFolder(savedModels);
        this.root = savedModels;
    }

    public Path root() {
        return root;
    }

    /** A saved run: its folder and where it sits. */
    public record Run(String timestamp, String config, String task, String runName, Path dir) {
        /** Checkpoint names, intermediate ones by increasing n_train_samples, then {@code final} if present. */
        public List<String> checkpoints() {
            List<String> out = new ArrayList<>();
            try (Stream<Path> s = Files.list(dir)) {
                s.filter(p -> Files.isRegularFile(p.resolve(Checkpoint.MODEL_FILE)))
                        .map(p -> p.getFileName().toString())
                        .filter(n -> n.matches("\\d+"))
                        .sorted(Comparator.comparingLong(Long::parseLong))
                        .forEach(out::add);
            } catch (IOException e) {
                throw new ConfigError(dir + ": cannot list checkpoints (" + e.getMessage() + ")");
            }
            if (Files.isRegularFile(dir.resolve(Checkpoint.FINAL).resolve(Checkpoint.MODEL_FILE))) out.add(Checkpoint.FINAL);
            return out;
        }

        public Path checkpoint(String name) {
            Path p = dir.resolve(name);
            if (!Files.isRegularFile(p.resolve(Checkpoint.MODEL_FILE)))
                throw new ConfigError(p + ": no such checkpoint (this run has: " + String.join(", ", checkpoints()) + ")");
            return p;
        }

        public boolean finished() {
            return Files.isRegularFile(dir.resolve(Checkpoint.FINAL).resolve(Checkpoint.MODEL_FILE));
        }
    }

    /**
     * Refuses the root of a file system as saved-models: runs are found by walking it five levels deep, and a run is
     * written at {@code <saved-models>/<config>/<task>/<timestamp>}, both wrong at {@code /}.
     */
    public static void requireRunsFolder(Path savedModels) {
        if (savedModels.toAbsolutePath().normalize().getFileName() == null)
            throw new ConfigError("--saved-models=" + savedModels + ": expected a folder to keep runs in, not the root of the file system");
    }

    /**
     * Creates a run folder {@code runDir} below {@code savedModels}, refusing when one of the folders between them (the
     * config's, the task's, the run name's) is a symbolic link: the run would land wherever the link points.
     */
    public static void createRunFolder(Path savedModels, Path runDir) throws IOException {
        Path root = savedModels.toAbsolutePath().normalize(), dir = runDir.toAbsolutePath().normalize();
        if (!dir.startsWith(root) || dir.equals(root))
            throw new ConfigError(runDir + ": expected a folder inside " + savedModels);
        Files.createDirectories(root);
        Path at = root;
        for (Path part : root.relativize(dir)) {
            at = at.resolve(part);
            if (Files.isSymbolicLink(at))
                throw new ConfigError(at + ": is a symbolic link; expected a plain folder of " + savedModels + " (refusing to create a run through it)");
            if (!Files.isDirectory(at, java.nio.file.LinkOption.NOFOLLOW_LINKS)) Files.createDirectory(at);
        }
    }

    /**
     * Opens a file of a run folder (log.txt, slurm-task.txt) for appending, or truncating with {@code truncate}, without
     * following a symbolic link: a link planted in a run folder is refused, never written through.
     */
    public static java.io.OutputStream openRunFile(Path file, boolean truncate) throws IOException {
        if (Files.isSymbolicLink(file))
            throw new ConfigError(file + ": is a symbolic link; expected a plain file of the run folder (refusing to write through it)");
        return Files.newOutputStream(file, java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE,
                truncate ? java.nio.file.StandardOpenOption.TRUNCATE_EXISTING : java.nio.file.StandardOpenOption.APPEND,
                java.nio.file.LinkOption.NOFOLLOW_LINKS);
    }

    /** All runs, oldest first. */
    public List<Run> list() {
        List<Run> out = new ArrayList<>();
        if (!Files.isDirectory(root)) return out;
        try (Stream<Path> s = Files.find(root, 5, (p, a) -> a.isDirectory() && p.getFileName() != null && TIMESTAMP.matcher(p.getFileName().toString()).matches())) {
            s.forEach(p -> out.add(describe(p)));
        } catch (IOException e) {
            throw new ConfigError(root + ": cannot list saved runs (" + e.getMessage() + ")");
        }
        out.sort(Comparator.comparing(Run::timestamp));
        return out;
    }

    private Run describe(Path dir) {
        Path rel = root.relativize(dir);
        String config = rel.getNameCount() > 0 ? rel.getName(0).toString() : "?";
        String task = rel.getNameCount() > 1 ? rel.getName(1).toString() : "?";
        String runName = rel.getNameCount() > 3 ? rel.getName(2).toString() : null;
        return new Run(dir.getFileName().toString(), config, task, runName, dir);
    }

    public Run find(String timestamp) {
        if (timestamp == null || timestamp.isBlank()) throw new ConfigError("--timestamp: expected a run's timestamp, e.g. 2026-11-23--13-40-01");
        for (Run r : list()) if (r.timestamp().equals(timestamp)) return r;
        throw new ConfigError(root.resolve("**").resolve(timestamp) + ": no saved run with timestamp " + timestamp
                + " (see `runner list`)");
    }

    /**
     * The one-writer lock of a run folder: an exclusive {@link FileLock} on {@code <run>/.lock}, held by the process
     * that trains or resumes the run for as long as it writes it, released by {@link #close} or when the process ends
     * (also by kill -9: the operating system drops it). A second writer, in another process or this one, is refused.
     */
    public static final class Lock implements AutoCloseable {
        public static final String FILE = ".lock";
        /** Lock files held by this JVM: a second channel on a file this process has locked must not be opened, since
         *  closing it would drop the process's lock (POSIX record locks are per process). */
        private static final Set<Path> HELD = ConcurrentHashMap.newKeySet();

        private final Path file;
        private final FileChannel channel;
        private final FileLock lock;

        private Lock(Path file, FileChannel channel, FileLock lock) {
            this.file = file;
            this.channel = channel;
            this.lock = lock;
        }

        /** Locks {@code runDir} (which must exist) for writing, or refuses in one line naming {@code run}. */
        public static Lock acquire(Path runDir, String run) {
            Path file = runDir.resolve(FILE).toAbsolutePath().normalize();
            ConfigError busy = new ConfigError("run " + run + " (" + runDir + "): another process is writing this run (it holds "
                    + file + "); wait for it to end or stop it, then resume");
            if (!HELD.add(file)) throw busy;
            FileChannel ch = null;
            try {
                ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, java.nio.file.LinkOption.NOFOLLOW_LINKS);
                FileLock l;
                try {
                    l = ch.tryLock();
                } catch (OverlappingFileLockException e) {
                    l = null;
                }
                if (l == null) throw busy;
                return new Lock(file, ch, l);
            } catch (IOException e) {
                HELD.remove(file);
                closeQuietly(ch);
                throw new ConfigError("run " + run + " (" + runDir + "): cannot lock the run folder (" + e.getMessage() + ")");
            } catch (RuntimeException e) {
                HELD.remove(file);
                closeQuietly(ch);
                throw e;
            }
        }

        private static void closeQuietly(FileChannel ch) {
            if (ch == null) return;
            try {
                ch.close();
            } catch (IOException ignored) {
                // nothing held
            }
        }

        @Override
        public void close() {
            try {
                if (lock.isValid()) lock.release();
            } catch (IOException ignored) {
                // the channel's close below releases it too
            }
            closeQuietly(channel);
            HELD.remove(file);
        }
    }
}
