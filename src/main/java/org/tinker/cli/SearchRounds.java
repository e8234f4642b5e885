package org.tinker.cli;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.tinker.config.ConfigError;
import org.tinker.config.ConfigFile;
import org.tinker.config.Grid;
import org.tinker.config.RunSpec;
import org.tinker.runs.Checkpoint;
import org.tinker.runs.GridState;
import org.tinker.runs.Namer;
import org.tinker.runs.RunStore;
import org.tinker.search.RoundTrainer;
import org.tinker.search.SearchLog.Proposal;

/**
 * Trains a search round with the runner's own machinery. The round's models are written as configs,
 * {@code DIR/rounds/round-NNN/{name}-{KKK}.txt} (model KKK of the search: the base config, its model dict and its warm
 * start), which expand like any grid ({@code --config={name} --configs-dir=...}); point i then trains exactly as
 * {@code runner --config=NAME --grid-index=i --save} does, as a child process (up to P side by side) or as task i of
 * one SLURM array job ({@link Slurm}). A point with a finished saved run of the same params ({@link GridState}) is
 * not trained again; a killed one with a checkpoint is resumed ({@code runner resume}).
 */
final class SearchRounds implements RoundTrainer {
    /** --slurm without sbatch on the PATH: the round is written; the search stops until it is submitted and done. */
    static final class Waiting extends RuntimeException {
        Waiting(String message) {
            super(message);
        }
    }

    /** A model's training failed: one line naming its log. */
    static final class Failed extends RuntimeException {
        Failed(String message) {
            super(message);
        }
    }

    private final Path dir, savedModels;
    private final String name, baseText, slurmArgs, sbatch;
    private final int parallel;
    private final boolean slurm;
    private final PrintStream out;

    SearchRounds(Path dir, String name, String baseText, Path savedModels, int parallel, boolean slurm, String slurmArgs, String sbatch,
                 PrintStream out) {
        this.dir = dir;
        this.name = name;
        this.baseText = baseText;
        this.savedModels = savedModels.toAbsolutePath().normalize();
        this.parallel = parallel;
        this.slurm = slurm;
        this.slurmArgs = slurmArgs;
        this.sbatch = sbatch;
        this.out = out;
    }

    @Override
    public List<Outcome> train(int round, List<Proposal> proposals) {
        Path roundDir = dir.resolve("rounds").resolve(String.format("round-%03d", round)).toAbsolutePath().normalize();
        List<RunSpec> specs = write(roundDir, proposals);
        Map<Integer, Double> wall = new HashMap<>();
        List<Integer> todo = new ArrayList<>();
        for (int i = 0; i < specs.size(); i++) {
            GridState.Point pt = GridState.of(specs.get(i), savedModels);
            if (pt.state() == GridState.State.DONE) out.println("search: model " + proposals.get(i).index() + " is done already as " + pt.run().timestamp());
            else todo.add(i);
        }
        if (!todo.isEmpty()) {
            if (slurm) slurm(roundDir, specs, proposals, todo, wall);
            else local(roundDir, specs, proposals, todo, wall);
        }
        List<Outcome> outcomes = new ArrayList<>();
        for (int i = 0; i < specs.size(); i++) {
            GridState.Point pt = GridState.of(specs.get(i), savedModels);
            if (pt.state() != GridState.State.DONE)
                throw new Failed("model " + proposals.get(i).index() + " of round " + round + " has no finished run; see " + log(roundDir, proposals.get(i)));
            outcomes.add(new Outcome(pt.run().timestamp(), pt.valLoss(), parameters(pt.run()), wall.getOrDefault(i, Double.NaN)));
        }
        return outcomes;
    }

    /** The round's configs (kept when they exist: a resumed round trains what was written), expanded as a grid. */
    private List<RunSpec> write(Path roundDir, List<Proposal> proposals) {
        try {
            Files.createDirectories(roundDir);
            for (Proposal p : proposals) {
                Path f = roundDir.resolve(configName(p) + ".txt");
                if (Files.isRegularFile(f)) continue;
                Path tmp = roundDir.resolve(configName(p) + ".tmp");
                Files.writeString(tmp, SearchCommand.modelConfig(baseText, p), StandardCharsets.UTF_8);
                Files.move(tmp, f, StandardCopyOption.ATOMIC_MOVE);
            }
        } catch (IOException e) {
            throw new ConfigError(roundDir + ": cannot write the round's configs (" + e.getMessage() + ")");
        }
        List<ConfigFile> files = Grid.filesFor(roundDir, name);
        List<RunSpec> all = Grid.expand(files, List.of(), null, false);
        List<RunSpec> specs = new ArrayList<>();
        for (Proposal p : proposals)
            specs.add(all.stream().filter(r -> r.configName().equals(configName(p))).findFirst()
                    .orElseThrow(() -> new IllegalStateException("no grid point for model " + p.index())));
        return specs;
    }

    private String configName(Proposal p) {
        return String.format("%s-%03d", name, p.index());
    }

    private Path log(Path roundDir, Proposal p) {
        return roundDir.resolve(configName(p) + ".log");
    }

    /** The runner's arguments for grid point {@code i} (1-based) of the round. */
    private List<String> taskArgs(Path roundDir) {
        return List.of("--config=" + name, "--configs-dir=" + roundDir, "--save", "--no-wandb", "--saved-models=" + savedModels);
    }

    /** Child processes, all of the round's at once (a round holds at most P models); resumes a killed run that kept a checkpoint. */
    private void local(Path roundDir, List<RunSpec> specs, List<Proposal> proposals, List<Integer> todo, Map<Integer, Double> wall) {
        List<String> java = new ArrayList<>(Launch.command(Launch.jvmOptions(List.of("-D" + Launch.PARENT_PID + "=" + ProcessHandle.current().pid()))));
        Map<Integer, Process> running = new HashMap<>();
        Map<Integer, Long> started = new HashMap<>();
        List<Integer> queue = new ArrayList<>(todo);
        try {
            while (!queue.isEmpty() || !running.isEmpty()) {
                while (!queue.isEmpty() && running.size() < parallel) {
                    int i = queue.remove(0);
                    List<String> cmd = new ArrayList<>(java);
                    GridState.Point pt = GridState.of(specs.get(i), savedModels);
                    RunStore.Run killed = pt.state() == GridState.State.UNFINISHED ? pt.run() : null;
                    if (killed != null && !killed.checkpoints().isEmpty()) {
                        cmd.addAll(List.of("resume", "--timestamp=" + killed.timestamp(), "--saved-models=" + savedModels, "--no-wandb"));
                        out.println("search: model " + proposals.get(i).index() + ": resuming its run " + killed.timestamp());
                    } else {
                        cmd.addAll(taskArgs(roundDir));
                        cmd.add("--grid-index=" + specs.get(i).index());
                        out.println("search: training model " + proposals.get(i).index() + (proposals.get(i).neighbour_run() == null ? ""
                                : " from model " + proposals.get(i).neighbour_index() + " (" + proposals.get(i).transfer() + ")")
                                + ": " + proposals.get(i).model_dict() + "  (log: " + log(roundDir, proposals.get(i)) + ")");
                    }
                    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                            .redirectOutput(ProcessBuilder.Redirect.appendTo(log(roundDir, proposals.get(i)).toFile()));
                    pb.environment().clear();
                    pb.environment().putAll(Launch.environment(System.getenv()));
                    started.put(i, System.nanoTime());
                    running.put(i, pb.start());
                }
                for (var e : new ArrayList<>(running.entrySet())) {
                    if (e.getValue().waitFor(200, TimeUnit.MILLISECONDS)) {
                        running.remove(e.getKey());
                        wall.put(e.getKey(), (System.nanoTime() - started.get(e.getKey())) / 1e9);
                        if (e.getValue().exitValue() != 0)
                            throw new Failed("model " + proposals.get(e.getKey()).index() + " failed (exit " + e.getValue().exitValue() + "); see "
                                    + log(roundDir, proposals.get(e.getKey())));
                    }
                }
            }
        } catch (IOException e) {
            throw new Failed("cannot start the runner for a model: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Failed("interrupted while training round " + roundDir.getFileName());
        } finally {
            for (Process p : running.values()) p.destroy(); // each child checkpoints the step it is at; the next search resumes it
            for (Process p : running.values()) {
                try {
                    p.waitFor(60, TimeUnit.SECONDS);
                } catch (InterruptedException ignored) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    /**
     * One array job for the round's missing models, submitted as {@code runner --slurm} does, and waited for; its id is
     * kept in the round's folder so that a search started again waits for the job still queued instead of submitting
     * it twice. Without sbatch on the PATH the script is written and the search stops ({@link Waiting}).
     */
    private void slurm(Path roundDir, List<RunSpec> specs, List<Proposal> proposals, List<Integer> todo, Map<Integer, Double> wall) {
        Path jobFile = roundDir.resolve("slurm-job.txt");
        long t0 = System.nanoTime();
        String job = null;
        try {
            if (Files.isRegularFile(jobFile)) job = Files.readString(jobFile).strip();
        } catch (IOException e) {
            throw new ConfigError(jobFile + ": cannot read (" + e.getMessage() + ")");
        }
        if (job == null || job.isEmpty() || !queued(job)) {
            List<Integer> points = todo.stream().map(i -> specs.get(i).index()).toList();
            List<ConfigFile> files = Grid.filesFor(roundDir, name);
            List<RunSpec> all = Grid.expand(files, List.of(), null, false);
            Slurm.Submission s = Slurm.submit(name, LocalDateTime.now().format(Namer.TIMESTAMP), roundDir, files, taskArgs(roundDir), all, points, savedModels, slurmArgs, sbatch, out);
            if (s.jobId() == null)
                throw new Waiting("search: round " + roundDir.getFileName() + " is written as " + s.script()
                        + "; once it has run, start this same `runner search` command again to collect it and go on");
            job = s.jobId();
            try {
                Files.writeString(jobFile, job + "\n");
            } catch (IOException e) {
                throw new ConfigError(jobFile + ": cannot write (" + e.getMessage() + ")");
            }
        } else {
            out.println("search: waiting for array job " + job + ", submitted before the search stopped");
        }
        while (true) {
            boolean done = todo.stream().allMatch(i -> GridState.of(specs.get(i), savedModels).state() == GridState.State.DONE);
            if (done) break;
            if (!queued(job)) {
                // the job left the queue: a last look (the final checkpoint may have landed meanwhile), then give up
                if (todo.stream().allMatch(i -> GridState.of(specs.get(i), savedModels).state() == GridState.State.DONE)) break;
                throw new Failed("array job " + job + " ended without finishing every model of " + roundDir.getFileName()
                        + "; see the task logs under " + savedModels.resolve(name).resolve("slurm"));
            }
            try {
                Thread.sleep(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new Failed("interrupted while waiting for array job " + job);
            }
        }
        for (int i : todo) wall.put(i, (System.nanoTime() - t0) / 1e9); // queueing included: the round's time as the search saw it
    }

    /** Whether a SLURM job still has tasks queued or running ({@code squeue -h -j ID} lists any). */
    private static boolean queued(String job) {
        String squeue = Slurm.onPath("squeue");
        if (squeue == null) return false;
        try {
            Process p = new ProcessBuilder(squeue, "-h", "-j", job).redirectErrorStream(true).start();
            String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroy();
                return true;
            }
            return p.exitValue() == 0 && !text.isBlank();
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** The number of weights in a run's final checkpoint. */
    private static long parameters(RunStore.Run run) {
        try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
            long n = 0;
            for (NDArray a : Checkpoint.readTensors(run.checkpoint(Checkpoint.FINAL).resolve(Checkpoint.MODEL_FILE), m).values()) n += a.size();
            return n;
        }
    }
}
