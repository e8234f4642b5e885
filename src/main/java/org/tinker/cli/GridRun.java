package org.tinker.cli;

import ai.djl.Device;
import ai.djl.engine.Engine;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import org.tinker.config.ConfigError;
import org.tinker.config.ConfigFile;
import org.tinker.config.RunSpec;
import org.tinker.runs.GridState;
import org.tinker.runs.RunStore;
import org.tinker.train.Experiment;

/** The grid flags of the main command: {@code --grid-index}, {@code --skip-done}, {@code --slurm}, and {@code --gpu-id} lists. */
final class GridRun {
    private GridRun() {}

    /** The points to train: all, or point {@code gridIndex} (1-based); with skipDone, those not already done. */
    static List<RunSpec> select(List<RunSpec> runs, Integer gridIndex, boolean skipDone, java.nio.file.Path savedModels, PrintStream out) {
        List<RunSpec> chosen = runs;
        if (gridIndex != null) {
            if (gridIndex < 1 || gridIndex > runs.size())
                throw new ConfigError("--grid-index=" + gridIndex + ": expected 1.." + runs.size() + " (the grid has " + runs.size()
                        + (runs.size() == 1 ? " point)" : " points)"));
            chosen = List.of(runs.get(gridIndex - 1));
            out.println("grid point " + gridIndex + "/" + runs.size() + ": " + chosen.get(0).header());
        }
        if (!skipDone) return chosen;
        List<RunSpec> todo = new ArrayList<>();
        for (RunSpec r : chosen) {
            GridState.Point p = GridState.of(r, savedModels);
            if (p.state() == GridState.State.DONE)
                out.println("skip " + r.header() + ": done as " + p.run().timestamp()
                        + (Double.isNaN(p.valLoss()) ? "" : String.format(" (val_loss %.4f)", p.valLoss())));
            else todo.add(r);
        }
        if (todo.isEmpty()) out.println("nothing to run: every selected grid point is done (--skip-done)");
        return todo;
    }

    /**
     * Trains one point. Inside a SLURM task that saves, the run folder (finished or not) gets
     * {@code slurm-task.txt}: the job, task, node and where the scheduler's log of the task is.
     */
    static void train(RunSpec r, Experiment.Setup setup) {
        try {
            Experiment.run(r, setup);
        } finally {
            String job = System.getenv("SLURM_ARRAY_JOB_ID"), task = System.getenv("SLURM_ARRAY_TASK_ID");
            if (setup.save() && job != null && task != null) noteSlurmTask(r, setup.savedModels(), job, task, System.getenv("TINKER_SLURM_LOG"));
        }
    }

    private static void noteSlurmTask(RunSpec r, java.nio.file.Path savedModels, String job, String task, String log) {
        RunStore.Run run = GridState.newest(r, savedModels);
        if (run == null) return;
        String text = "SLURM array job " + job + ", task " + task + " (job id " + System.getenv().getOrDefault("SLURM_JOB_ID", "?")
                + ") on " + System.getenv().getOrDefault("SLURMD_NODENAME", "?") + "\n"
                + "scheduler log (stdout and stderr of the task): " + (log == null ? "?" : log) + "\n";
        try (java.io.OutputStream os = RunStore.openRunFile(run.dir().resolve("slurm-task.txt"), true)) {
            os.write(text.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        } catch (java.io.IOException | ConfigError e) {
            System.err.println("warning: cannot write " + run.dir().resolve("slurm-task.txt") + ": " + e.getMessage());
        }
    }

    /** {@code --slurm}: writes (and submits) the array script; with --skip-done only the points not done. */
    static int slurm(Main m, List<ConfigFile> files, List<RunSpec> runs, List<String> originalArgs, PrintStream out) {
        if (m.gridIndex != null) throw new ConfigError("--slurm with --grid-index: --slurm submits every grid point (each task gets its own --grid-index)");
        if (!m.save) out.println("note: --slurm without --save: the tasks will train but keep nothing (add --save to keep the runs)");
        List<Integer> todo = new ArrayList<>();
        for (RunSpec r : runs) {
            if (m.skipDone) {
                GridState.Point p = GridState.of(r, m.savedModels);
                if (p.state() == GridState.State.DONE) {
                    out.println("skip " + r.header() + ": done as " + p.run().timestamp());
                    continue;
                }
            }
            todo.add(r.index());
        }
        if (todo.isEmpty()) {
            out.println("nothing to submit: every grid point is done (--skip-done)");
            return 0;
        }
        if (m.dryRun) {
            out.println("--dry-run: would submit grid points " + Slurm.arraySpec(todo));
            return 0;
        }
        Slurm.submit(m.config, m.configsDir, files, originalArgs, runs, todo, m.savedModels, m.slurmArgs, m.sbatch, out);
        return 0;
    }

    /** {@code --gpu-id}: none → [cpu]; {@code N} → [gpu N]; {@code 0,1} or {@code all} → those GPUs (data-parallel). */
    static List<Device> devices(String gpuId) {
        if (gpuId == null || gpuId.isBlank()) return List.of(Device.cpu());
        String arg = "--gpu-id=" + gpuId;
        int n = Engine.getInstance().getGpuCount();
        if (n == 0) throw new ConfigError(arg + ": no CUDA device is visible (the bundled natives are CPU-only; drop --gpu-id to train on the CPU,"
                + " or see docs/gpus.md)");
        LinkedHashSet<Integer> ids = new LinkedHashSet<>();
        if (gpuId.strip().equalsIgnoreCase("all")) {
            for (int i = 0; i < n; i++) ids.add(i);
        } else {
            for (String part : gpuId.split(",")) {
                int id;
                try {
                    id = Integer.parseInt(part.strip());
                } catch (NumberFormatException e) {
                    throw new ConfigError(arg + ": expected a device number, a list like 0,1, or all");
                }
                if (id < 0 || id >= n) throw new ConfigError(arg + ": expected 0.." + (n - 1) + " (" + n + " CUDA devices)");
                if (!ids.add(id)) throw new ConfigError(arg + ": device " + id + " is listed twice");
            }
        }
        List<Device> out = new ArrayList<>();
        for (int id : ids) out.add(Device.gpu(id));
        return out;
    }
}
