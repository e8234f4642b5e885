package org.tinker.cli;

import java.io.File;
import java.lang.management.ManagementFactory;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tinker.train.Benchmark;

/**
 * The process settings tinker trains best under, for every way of starting it. Some can only be given before
 * the process starts: libgomp and glibc read their environment once, at load time, and the JVM's collector is
 * chosen on its command line. So {@code java -jar target/runner.jar ...} started without them starts itself
 * again, once, with them, passes its input and output through and exits with the child's code; {@code ./runner}
 * and the SLURM task scripts set them directly and mark the environment so nothing starts twice.
 *
 * <p>The settings (docs/training.md, "Threads and memory"): libtorch's OpenMP threads spin briefly
 * before sleeping ({@code GOMP_SPINCOUNT=2000}, unless {@code OMP_WAIT_POLICY} is set), two malloc arenas
 * ({@code MALLOC_ARENA_MAX=2}), the serial collector with a 32 MB young generation (RSS stays flat; G1 grew the
 * process by 161% over 2,000 steps), 4 MB thread stacks; with {@code TINKER_DEDICATED=1} a longer spin and freed
 * blocks kept ({@link #DEDICATED}). Whatever the user set already wins. {@code ./runner} writes the same rules in
 * bash (it must set them before the JVM starts); {@code LaunchTest} runs it and checks that both agree.
 * {@code -Dtinker.relaunch=false} turns the restart off.
 */
final class Launch {
    private Launch() {}

    /**
     * Set in the environment of a process started with these settings: "1" from ./runner and SLURM scripts, the first
     * JVM's start time (epoch ms) from a relaunch, so `runner bench` can time from the original {@code java -jar}.
     */
    static final String MARK = Benchmark.LAUNCHED_ENV;

    /** The spin count libtorch's OpenMP threads get when the user chose no wait policy ({@code OMP_WAIT_POLICY}). */
    private static final String SPIN_COUNT = "2000";

    /** Variables set unless the user set them. */
    private static final Map<String, String> DEFAULTS = Map.of("MALLOC_ARENA_MAX", "2", "TORCH_CPP_LOG_LEVEL", "ERROR");

    /**
     * {@code TINKER_DEDICATED=1}: a machine that runs nothing else. The OpenMP threads spin longer, and glibc keeps freed
     * blocks up to 32 MB instead of returning them (no page faults when the next step takes them again; RSS grows by a
     * few percent at the first validations).
     */
    static final String DEDICATED = "TINKER_DEDICATED";
    private static final String DEDICATED_SPIN_COUNT = "20000";
    private static final Map<String, String> DEDICATED_MALLOC = Map.of("MALLOC_MMAP_THRESHOLD_", "33554432",
            "MALLOC_TRIM_THRESHOLD_", "4294967296", "MALLOC_TOP_PAD_", "67108864");

    /** Environment defaults; a variable the user set is kept. */
    static Map<String, String> environment(Map<String, String> current) {
        Map<String, String> env = new LinkedHashMap<>(current);
        boolean dedicated = "1".equals(current.get(DEDICATED));
        if (!current.containsKey("OMP_WAIT_POLICY")) env.putIfAbsent("GOMP_SPINCOUNT", dedicated ? DEDICATED_SPIN_COUNT : SPIN_COUNT);
        DEFAULTS.forEach(env::putIfAbsent);
        if (dedicated) DEDICATED_MALLOC.forEach(env::putIfAbsent);
        env.put(MARK, Long.toString(ManagementFactory.getRuntimeMXBean().getStartTime()));
        return env;
    }

    /** The same rules as bash lines, for scripts that start the jar themselves (SLURM tasks), marked as set. */
    static String shellExports() {
        String dedicated = "[[ ${" + DEDICATED + ":-0} == 1 ]]";
        StringBuilder s = new StringBuilder("if [[ -z ${OMP_WAIT_POLICY:-} ]]; then\n")
                .append("  if ").append(dedicated).append("; then ").append(export("GOMP_SPINCOUNT", DEDICATED_SPIN_COUNT))
                .append("; else ").append(export("GOMP_SPINCOUNT", SPIN_COUNT)).append("; fi\nfi\n");
        new java.util.TreeMap<>(DEFAULTS).forEach((k, v) -> s.append(export(k, v)).append('\n'));
        s.append("if ").append(dedicated).append("; then\n");
        new java.util.TreeMap<>(DEDICATED_MALLOC).forEach((k, v) -> s.append("  ").append(export(k, v)).append('\n'));
        return s.append("fi\nexport ").append(MARK).append("=1\n").toString();
    }

    /** {@code export K=${K:-default}}: the value the user set wins. */
    private static String export(String key, String value) {
        return "export " + key + "=${" + key + ":-" + value + "}";
    }

    /** JVM options: the user's, plus the defaults they did not choose themselves. */
    static List<String> jvmOptions(List<String> given) {
        List<String> opts = new ArrayList<>(given);
        boolean gc = given.stream().anyMatch(o -> o.matches("-XX:\\+Use\\w*GC"));
        if (!gc) {
            opts.add("-XX:+UseSerialGC");
            if (given.stream().noneMatch(o -> o.startsWith("-Xmn") || o.startsWith("-XX:NewSize"))) opts.add("-Xmn32m");
        }
        if (given.stream().noneMatch(o -> o.startsWith("-Xss"))) opts.add("-Xss4m");
        if (given.stream().noneMatch(o -> o.startsWith("-Dai.djl.offline="))) opts.add("-Dai.djl.offline=true");
        return opts;
    }

    /** {@code java OPTIONS -jar runner.jar}, or {@code -cp CLASSPATH org.tinker.cli.Main} when not run from the jar. */
    static List<String> command(List<String> jvmOptions) {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvmOptions);
        Path self = null;
        try {
            self = Path.of(Main.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toAbsolutePath();
        } catch (URISyntaxException | RuntimeException e) {
            // fall through to the class path
        }
        if (self != null && self.toString().endsWith(".jar")) {
            cmd.add("-jar");
            cmd.add(self.toString());
        } else {
            List<String> cp = new ArrayList<>();
            for (String p : System.getProperty("java.class.path").split(File.pathSeparator))
                if (!p.isBlank()) cp.add(Path.of(p).toAbsolutePath().toString());
            cmd.add("-cp");
            cmd.add(String.join(File.pathSeparator, cp));
            cmd.add(Main.class.getName());
        }
        return cmd;
    }

    /** System property of a relaunched JVM: the pid of the process that started it. */
    static final String PARENT_PID = "tinker.parent-pid";

    /**
     * In a relaunched JVM: ends this process when the one that started it is gone (kill -9 of a bare {@code java -jar}
     * must not leave its child training), with one line on stderr and exit 143, as after a SIGTERM. Nothing otherwise.
     */
    static void exitWithParent() {
        String pid = System.getProperty(PARENT_PID);
        if (pid == null) return;
        long p;
        try {
            p = Long.parseLong(pid.trim());
        } catch (NumberFormatException e) {
            return;
        }
        Runnable die = () -> {
            System.err.println("error: the process that started this one (pid " + p + ") has ended; stopping (runner resume continues a saved run)");
            System.exit(143);
        };
        java.util.Optional<ProcessHandle> parent = ProcessHandle.of(p);
        if (parent.isEmpty() || !parent.get().isAlive()) die.run();
        else parent.get().onExit().thenRun(die);
    }

    /**
     * Runs {@code args} in a child process with the settings and returns its exit code, or -1 when this process
     * already has them (or the restart is turned off, or cannot start): then the caller runs the command itself.
     */
    static int relaunch(String[] args) {
        if (System.getenv(MARK) != null || "false".equals(System.getProperty("tinker.relaunch"))) return -1;
        List<String> opts = new ArrayList<>(jvmOptions(ManagementFactory.getRuntimeMXBean().getInputArguments()));
        opts.add("-D" + PARENT_PID + "=" + ProcessHandle.current().pid()); // the child ends when this process does
        List<String> cmd = command(opts);
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).inheritIO();
        pb.environment().clear();
        pb.environment().putAll(environment(System.getenv()));
        Process child;
        try {
            child = pb.start();
        } catch (java.io.IOException e) {
            return -1; // no second JVM (a restricted sandbox): run here, with the settings this process has
        }
        // Ctrl-C reaches the child through the terminal's process group; a kill aimed at this process alone
        // (a scheduler's SIGTERM) is passed on, so the child can still leave its last checkpoint readable.
        Thread forward = new Thread(() -> {
            if (child.isAlive()) {
                child.destroy();
                try {
                    child.waitFor();
                } catch (InterruptedException ignored) {
                    Thread.currentThread().interrupt();
                }
            }
        });
        Runtime.getRuntime().addShutdownHook(forward);
        while (true) {
            try {
                int code = child.waitFor();
                Runtime.getRuntime().removeShutdownHook(forward);
                return code;
            } catch (InterruptedException e) {
                // keep waiting: the child decides when the run is over
            } catch (IllegalStateException e) {
                return child.exitValue(); // shutting down already
            }
        }
    }
}
