package org.tinker.cli;

import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.tinker.config.ConfigError;
import org.tinker.config.ConfigFile;
import org.tinker.config.RunSpec;
import org.tinker.runs.Namer;

/**
 * {@code runner --config=NAME --slurm}: writes an {@code sbatch} array script with one task per grid point
 * (task i runs {@code runner ... --grid-index=i} on the same expanded grid) and submits it when
 * {@code sbatch} is on the PATH. Everything of one submission lives in
 * {@code {saved-models}/{NAME}/slurm/grid-{timestamp}/}, beside the config's saved runs: the script, a
 * snapshot of the config files (so editing a config after submitting does not change the grid under the
 * queued tasks) and one log per task ({@code task-{i}.log}).
 */
public final class Slurm {
    private Slurm() {}

    /** What a submission wrote (and, when submitted, its job id). */
    public record Submission(Path dir, Path script, List<Integer> indices, String jobId) {}

    /**
     * Writes the script and submits it.
     *
     * @param args the runner's own arguments, to pass on to every task (--slurm* and --grid-index are dropped)
     * @param points the expanded grid
     * @param todo the 1-based grid indices to run (all, or those not done with --skip-done)
     * @param sbatch the sbatch command; null = look it up on the PATH; "none" = never submit
     */
    public static Submission submit(String config, Path configsDir, List<ConfigFile> files, List<String> args, List<RunSpec> points, List<Integer> todo,
                                    Path savedModels, String slurmArgs, String sbatch, PrintStream out) {
        Path dir = savedModels.resolve(config).resolve("slurm").resolve("grid-" + LocalDateTime.now().format(Namer.TIMESTAMP));
        for (int k = 2; Files.exists(dir); k++)
            dir = dir.resolveSibling(dir.getFileName().toString().replaceFirst("(-\\d+)?$", "") + "-" + k);
        Path cwd = Path.of("").toAbsolutePath();
        Path absDir = cwd.resolve(dir).normalize();
        Path configs = absDir.resolve("configs");
        try {
            Files.createDirectories(configs);
            for (ConfigFile f : files) Files.copy(configsDir.resolve(f.name() + ".txt"), configs.resolve(f.name() + ".txt"), StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new ConfigError(dir + ": cannot write the SLURM submission folder (" + e.getMessage() + ")");
        }
        List<String> taskArgs = taskArgs(args, configs);
        String script = script(config, points.size(), todo, absDir, cwd, taskArgs, slurmArgs);
        Path scriptFile = absDir.resolve("grid.sbatch");
        try {
            Files.writeString(scriptFile, script, StandardCharsets.UTF_8);
            scriptFile.toFile().setExecutable(true);
        } catch (IOException e) {
            throw new ConfigError(scriptFile + ": cannot write (" + e.getMessage() + ")");
        }
        out.println("SLURM array script: " + scriptFile + " (" + todo.size() + " of " + points.size() + " grid points: "
                + arraySpec(todo) + ")");
        String exe = sbatch == null ? onPath("sbatch") : "none".equals(sbatch) ? null : sbatch;
        if (exe == null) {
            out.println("sbatch is not on the PATH: submit it on a SLURM login node with");
            out.println("  sbatch " + scriptFile);
            StringBuilder byHand = new StringBuilder("runner");
            for (String a : taskArgs) byHand.append(' ').append(quote(a));
            out.println("(or run any point by hand, or under another scheduler: " + byHand + " --grid-index=I, I in 1.." + points.size() + ")");
            return new Submission(absDir, scriptFile, todo, null);
        }
        String jobId = runSbatch(exe, scriptFile, cwd);
        out.println("submitted array job " + jobId + " (" + todo.size() + " tasks); logs: " + absDir + "/task-{i}.log");
        out.println("  squeue -j " + jobId + "    sacct -j " + jobId + "    runner grid-status --config=" + config);
        return new Submission(absDir, scriptFile, todo, jobId);
    }

    /** The runner's arguments for one task: without --slurm, --slurm-args, --sbatch, --grid-index, --dry-run; configs from the snapshot. */
    static List<String> taskArgs(List<String> args, Path configsSnapshot) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            String name = a.contains("=") ? a.substring(0, a.indexOf('=')) : a;
            boolean takesValue = !a.contains("=");
            switch (name) {
                case "--slurm", "--dry-run" -> { }
                case "--slurm-args", "--sbatch", "--grid-index", "--configs-dir" -> {
                    if (takesValue) i++;
                }
                default -> out.add(a);
            }
        }
        out.add("--configs-dir=" + configsSnapshot);
        return out;
    }

    static String script(String config, int total, List<Integer> todo, Path dir, Path cwd, List<String> taskArgs, String slurmArgs) {
        StringBuilder s = new StringBuilder();
        s.append("#!/bin/bash\n");
        s.append("# Written by `runner --slurm`: one array task per grid point of configs/").append(config).append("*.txt (")
                .append(total).append(" points).\n");
        s.append("# Task i trains grid point i (`run i/").append(total).append("` in the runner's listing), exactly as\n");
        s.append("#   runner ").append(String.join(" ", taskArgs)).append(" --grid-index=i\n");
        s.append("# Re-submit with `runner --config=").append(config).append(" --slurm --skip-done ...` to run only what is missing or failed.\n");
        s.append("#SBATCH --job-name=tinker-").append(config.replaceAll("[^A-Za-z0-9._-]", "_")).append('\n');
        s.append("#SBATCH --array=").append(arraySpec(todo)).append('\n');
        s.append("#SBATCH --output=").append(dir).append("/task-%a.log\n");
        s.append("#SBATCH --chdir=").append(cwd).append('\n');
        if (slurmArgs != null && !slurmArgs.isBlank())
            for (String a : slurmArgs.trim().split("\\s+")) s.append("#SBATCH ").append(a).append('\n');
        s.append("set -euo pipefail\n");
        s.append("cd ").append(quote(cwd.toString())).append('\n');
        s.append(Launch.shellExports()); // ./runner's process settings (docs/training.md, "Threads and memory"); the JVM's are in the command
        s.append("if [[ -n \"${SLURM_CPUS_PER_TASK:-}\" ]]; then export OMP_NUM_THREADS=$SLURM_CPUS_PER_TASK; fi\n");
        s.append("export TINKER_SLURM_LOG=").append(quote(dir.toString())).append("/task-$SLURM_ARRAY_TASK_ID.log  # noted in the run folder\n");
        s.append("echo \"tinker grid task $SLURM_ARRAY_TASK_ID of job ${SLURM_ARRAY_JOB_ID:-?} on $(hostname) at $(date -Is)\"\n");
        List<String> cmd = new ArrayList<>(javaCommand());
        cmd.addAll(taskArgs);
        s.append("exec");
        for (String c : cmd) s.append(' ').append(quote(c));
        s.append(" --grid-index=\"$SLURM_ARRAY_TASK_ID\"\n");
        return s.toString();
    }

    /** {@code 1-4}, or {@code 2,4,7-9}. */
    static String arraySpec(List<Integer> idx) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < idx.size(); ) {
            int j = i;
            while (j + 1 < idx.size() && idx.get(j + 1) == idx.get(j) + 1) j++;
            if (s.length() > 0) s.append(',');
            s.append(idx.get(i));
            if (j > i) s.append('-').append(idx.get(j));
            i = j + 1;
        }
        return s.toString();
    }

    /** java with tinker's JVM options, {@code -jar runner.jar} (or the class path and main class). */
    static List<String> javaCommand() {
        return Launch.command(Launch.jvmOptions(List.of()));
    }

    static String quote(String s) {
        if (s.matches("[A-Za-z0-9_./=:,+@%-]+")) return s;
        return "'" + s.replace("'", "'\\''") + "'";
    }

    static String onPath(String exe) {
        String path = System.getenv("PATH");
        if (path == null) return null;
        for (String d : path.split(File.pathSeparator)) {
            if (d.isEmpty()) continue;
            Path p = Path.of(d, exe);
            if (Files.isRegularFile(p) && Files.isExecutable(p)) return p.toString();
        }
        return null;
    }

    private static String runSbatch(String exe, Path script, Path cwd) {
        try {
            Process p = new ProcessBuilder(exe, "--parsable", script.toString()).directory(cwd.toFile()).redirectErrorStream(true).start();
            String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroy();
                throw new ConfigError(exe + " " + script + ": no answer within 120 s");
            }
            if (p.exitValue() != 0)
                throw new ConfigError("sbatch " + script + " failed (exit " + p.exitValue() + "): " + text.replace('\n', ' '));
            String last = text.lines().reduce((a, b) -> b).orElse("");
            return last.contains(";") ? last.substring(0, last.indexOf(';')) : last;
        } catch (IOException e) {
            throw new ConfigError(exe + ": cannot run (" + e.getMessage() + ")");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ConfigError("interrupted while submitting " + script);
        }
    }
}
