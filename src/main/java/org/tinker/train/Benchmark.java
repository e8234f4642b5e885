package org.tinker.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tinker.config.ModelParams;
import org.tinker.config.RunSpec;
import org.tinker.config.TrainParams;
import org.tinker.engine.Kernels;
import org.tinker.model.Generation;
import org.tinker.runs.Checkpoint;
import org.tinker.runs.StatsListener;

/**
 * {@code runner bench}: training speed of a config through the normal runner path (Experiment → Trainer),
 * with the figures that say how close it is to the hardware: steady-state tokens/s (median of windows
 * after warm-up, with min and max), time from the start of {@code java} to the first step, peak RSS and RSS drift, model
 * FLOPs per token, achieved GFLOP/s, the matmul peak of the run's precision measured on the spot, MFU, and
 * generation speed with and without the KV cache.
 */
public final class Benchmark {
    private Benchmark() {}

    /** The figures of one benchmark. */
    public record Report(String config, int steps, long tokensPerStep, double medianTokensPerSec, double minTokensPerSec,
                         double maxTokensPerSec, double secondsToFirstStep, double peakRssMb, double rssDriftPct,
                         double flopsPerToken, double achievedGflops, String precision, double matmulPeakGflops, double mfu,
                         int generatedTokens, double cachedTokensPerSec, double recomputeTokensPerSec, long parameters, int threads,
                         String process) {

        public Map<String, Object> asMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            for (var c : Report.class.getRecordComponents()) {
                try {
                    m.put(c.getName(), c.getAccessor().invoke(this));
                } catch (ReflectiveOperationException e) {
                    throw new IllegalStateException(e);
                }
            }
            return m;
        }

        public String table() {
            return String.join("\n",
                    String.format("benchmark %s: %d training steps, %,d tokens/step, %,d parameters, %d intra-op threads", config,
                            steps, tokensPerStep, parameters, threads),
                    "  process                        " + process,
                    String.format("  train tokens/s (steady state)   %,.0f median  (min %,.0f, max %,.0f)", medianTokensPerSec,
                            minTokensPerSec, maxTokensPerSec),
                    String.format("  time to first step             %.2f s (from the start of java)", secondsToFirstStep),
                    String.format("  peak RSS                       %,.0f MB;  RSS drift after warm-up %+.1f%% (median of the last fifth vs the first)", peakRssMb, rssDriftPct),
                    String.format("  model FLOPs per token          %,.1f MFLOP (6N + 12LTD, training)", flopsPerToken / 1e6),
                    String.format("  achieved                       %.1f GFLOP/s", achievedGflops),
                    String.format("  %s matmul peak (measured)    %.1f GFLOP/s", precision, matmulPeakGflops),
                    String.format("  MFU                            %.1f%% (of the %s peak)", 100 * mfu, precision),
                    generatedTokens == 0
                            ? "  generation tokens/s            not measured (training only)"
                            : Double.isNaN(cachedTokensPerSec)
                            ? String.format("  generation tokens/s            %,.0f recomputing the context (this architecture has no KV cache; %d new tokens)",
                                    recomputeTokensPerSec, generatedTokens)
                            : String.format("  generation tokens/s            %,.0f with the KV cache, %,.0f recomputing the context (%.1fx; %d new tokens)",
                                    cachedTokensPerSec, recomputeTokensPerSec, cachedTokensPerSec / recomputeTokensPerSec, generatedTokens));
        }
    }

    /**
     * Runs {@code steps} optimizer steps of the spec (no validation until the end) and measures; {@code trainOnly}: no
     * validation and test at the end and no generation speed (bench/compare.sh, which reports training alone).
     */
    public static Report run(RunSpec spec, int steps, boolean trainOnly, Path projectRoot, PrintStream out) {
        return run(spec, steps, trainOnly, null, projectRoot, out);
    }

    /** What to profile: {@code steps} more optimizer steps after the timed ones, written to {@code trace}. */
    public record Profile(Path trace, int steps) {}

    /**
     * As {@link #run(RunSpec, int, boolean, Path, PrintStream)}; with a {@code profile}, libtorch's profiler records
     * every op of that many further steps after the timed ones (so its overhead stays out of the figures) and writes
     * them as a Chrome trace (bench/profile_report.py sums them per op; Perfetto or chrome://tracing show them).
     */
    public static Report run(RunSpec spec, int steps, boolean trainOnly, Profile profile, Path projectRoot, PrintStream out) {
        int extra = profile == null ? 0 : profile.steps();
        RunSpec s = forBenchmark(spec, steps + extra);
        Experiment.Setup setup = Experiment.Setup.quiet(projectRoot, projectRoot.resolve("target/bench-runs"), false);
        try (Experiment.Prepared p = Experiment.prepare(s, setup, null)) {
            long[] stepEnd = new long[steps + 1];
            long[] stepTokens = new long[steps + 1];
            double[] rss = new double[steps + 1];
            long[] firstStepWallMs = {0};
            StatsListener timer = (name, value, at) -> {
                if (name.equals("n_train_tokens") && at.statSyncer() > 0 && at.statSyncer() <= steps) {
                    int i = (int) at.statSyncer();
                    stepEnd[i] = System.nanoTime();
                    if (i == 1) firstStepWallMs[0] = System.currentTimeMillis();
                    stepTokens[i] = (long) value;
                    if (i % Math.max(1, steps / 50) == 0 || i == steps) rss[i] = rssMb("VmRSS");
                }
                // the listener runs on the training thread at the end of each step: the profiler sees whole steps
                if (profile != null && name.equals("n_train_tokens")) {
                    if (at.statSyncer() == steps) JniUtils.startProfile(false, true, false);
                    if (at.statSyncer() == steps + extra) JniUtils.stopProfile(profile.trace().toAbsolutePath().toString());
                }
            };
            Trainer t = new Trainer(s, p.lm(), p.data(), new Trainer.Options(setup.savedModels(), false, List.of(timer), out, false));
            if (trainOnly) t.withoutFinalEvaluation();
            out.printf("benchmark %s: %d steps of %s (%,d parameters)%s ...%n", s.configName(), steps, describe(s.mp()),
                    p.lm().numParameters(), extra == 0 ? "" : ", then " + extra + " profiled");
            if (profile != null && profile.trace().getParent() != null) {
                try {
                    Files.createDirectories(profile.trace().getParent());
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }
            t.train();
            double startToFirst = (firstStepWallMs[0] - processStartMillis()) / 1e3;
            // steady state: drop the first 10% (at least 3 steps), then at least 5 equal windows; a smoke run of under 4
            // steps keeps its last step(s) and says only that the path runs
            int warm = Math.min(Math.max(3, steps / 10), steps - 1);
            int windows = Math.max(5, Math.min(20, (steps - warm) / 10));
            List<Double> rates = new ArrayList<>();
            int per = Math.max(1, (steps - warm) / windows);
            for (int w = 0; w < windows && warm + (w + 1) * per <= steps; w++) {
                int a = warm + w * per, b = warm + (w + 1) * per;
                rates.add((stepTokens[b] - stepTokens[a]) / ((stepEnd[b] - stepEnd[a]) / 1e9));
            }
            double[] sorted = rates.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            double median = sorted.length == 0 ? Double.NaN : sorted[sorted.length / 2];
            // RSS drift: median of the first fifth of the samples after warm-up vs median of the last fifth. Single
            // samples swing by several percent as glibc returns and re-takes the top of its heap between steps.
            List<Double> samples = new ArrayList<>();
            for (int i = warm; i <= steps; i++) if (rss[i] > 0) samples.add(rss[i]);
            int fifth = Math.max(1, samples.size() / 5);
            double rssStart = median(samples.subList(0, fifth)), rssEnd = median(samples.subList(samples.size() - fifth, samples.size()));
            double flops = flopsPerToken(s.mp(), p.lm().vocabSize());
            TrainParams.Precision precision = s.tp().precision();
            double peak = precision == TrainParams.Precision.BF16 ? bf16MatmulPeakGflops(p.manager()) : matmulPeakGflops(p.manager());
            double achieved = median * flops / 1e9;
            int newTokens = trainOnly ? 0 : Math.min(256, s.mp().max_seq_len() - 1);
            // NaN: the hierarchical and flexi bodies have no KV cache, so there is no cached speed to report
            double cached = !trainOnly && p.lm().cacheable() ? generationSpeed(p, newTokens, true) : Double.NaN;
            double recompute = trainOnly ? Double.NaN : generationSpeed(p, newTokens, false);
            long tokensPerStep = steps > warm ? (stepTokens[steps] - stepTokens[warm]) / (steps - warm) : 0;
            return new Report(s.configName(), steps, tokensPerStep, median, sorted.length == 0 ? Double.NaN : sorted[0],
                    sorted.length == 0 ? Double.NaN : sorted[sorted.length - 1], startToFirst, rssMb("VmHWM"),
                    100 * (rssEnd - rssStart) / rssStart, flops, achieved, precision.spelling(), peak, achieved / peak, newTokens, cached,
                    recompute, p.lm().numParameters(), threads(), processSettings());
        }
    }

    private static double median(List<Double> xs) {
        if (xs.isEmpty()) return Double.NaN;
        double[] a = xs.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return a.length % 2 == 1 ? a[a.length / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
    }

    static RunSpec forBenchmark(RunSpec s, int steps) {
        // one run of exactly `steps` steps, validating only at epoch ends and at the end, no samples or checkpoints
        TrainParams b = s.tp().with("epochs", 1000).with("max_steps", steps).with("val_check_epoch_frac", Integer.MAX_VALUE)
                .with("max_sample_tokens", 0).with("no_wandb", true).with("hyperparams_log_freq", Integer.MAX_VALUE)
                .with("checkpoint_every", 0);
        return new RunSpec(s.configName(), s.index(), s.total(), s.dp(), b, s.mp(), s.varying(), s.ablation());
    }

    /**
     * Training FLOPs per token: 6 per weight of every matmul (forward 2, backward 4), with the head counted
     * and the embedding lookups not, plus 12·L·T·D for attention scores and their weighted sum.
     */
    public static double flopsPerToken(ModelParams mp, int vocab) {
        long d = mp.dim(), ff = mp.ffDim();
        long perLayer = 3 * d * d + d * d + 2 * d * ff;
        long matmulWeights = mp.n_layers() * perLayer + (long) vocab * d;
        return 6.0 * matmulWeights + 12.0 * mp.n_layers() * mp.max_seq_len() * d;
    }

    /** The bfloat16 matmul peak: 2048×2048 products in libtorch's bfloat16 kernel (oneDNN, AMX where present). */
    public static double bf16MatmulPeakGflops(NDManager base) {
        if (!Kernels.available()) return Double.NaN;
        double best = 0;
        try (NDManager m = base.newSubManager()) {
            int n = 2048;
            NDArray a = m.randomNormal(new Shape(n, n)), b = m.randomNormal(new Shape(n, n)).div(Math.sqrt(n)); // keeps a·bᵏ finite
            Kernels.bf16Matmuls(a, b, 2).close(); // warm-up
            for (int r = 0; r < 3; r++) {
                int reps = 8;
                long t0 = System.nanoTime();
                Kernels.bf16Matmuls(a, b, reps).close();
                best = Math.max(best, 2.0 * n * n * n * reps / ((System.nanoTime() - t0) / 1e9) / 1e9);
            }
        }
        return best;
    }

    /**
     * fp32 matmul throughput of libtorch here and now: the best of three rounds over square sizes 512..2048. One
     * round alone read anywhere from 301 to 369 GFLOP/s on the 2-core machine (an interrupt or a frequency dip in a
     * 0.15 s timing); the best of three read 316–363 over 55 measurements at different times, a narrower spread but
     * not a constant: the machine itself runs faster and slower.
     */
    public static double matmulPeakGflops(NDManager base) {
        int[] sizes = {512, 1024, 2048};
        double best = 0;
        try (NDManager m = base.newSubManager()) {
            NDArray[] as = new NDArray[sizes.length], bs = new NDArray[sizes.length];
            for (int i = 0; i < sizes.length; i++) {
                as[i] = m.randomNormal(new Shape(sizes[i], sizes[i]));
                bs[i] = m.randomNormal(new Shape(sizes[i], sizes[i]));
                as[i].matMul(bs[i]).close(); // warm-up
            }
            for (int round = 0; round < 3; round++) { // rounds interleave the sizes, so one slow moment spoils one timing
                for (int i = 0; i < sizes.length; i++) {
                    long n = sizes[i];
                    int reps = n >= 2048 ? 3 : 10;
                    long t0 = System.nanoTime();
                    for (int r = 0; r < reps; r++) as[i].matMul(bs[i]).close();
                    best = Math.max(best, 2.0 * n * n * n * reps / ((System.nanoTime() - t0) / 1e9) / 1e9);
                }
            }
        }
        return best;
    }

    /**
     * Sampling speed from a one-token prompt, {@code newTokens} new tokens (temperature 1, seed 0), with the KV cache
     * or recomputing the whole context for every token: the best of two runs after one whole run as warm-up. The cached
     * loop warms up over whole runs (a standalone loop on bench-char's shape: 668 tokens/s in its first run, 958 in its
     * second, 1,075–1,115 from the sixth on; the TorchScript graph optimizer made no difference), so the 8-token warm-up
     * used before timed it cold.
     */
    private static double generationSpeed(Experiment.Prepared p, int newTokens, boolean cache) {
        int[] prompt = p.tokenizer().encodePrompt("");
        Generation.sample(p.lm(), prompt, prompt.length + newTokens, 1.0, null, null, -1, new java.util.Random(0), cache);
        double best = 0;
        for (int r = 0; r < 2; r++) {
            long t0 = System.nanoTime();
            int[] out = Generation.sample(p.lm(), prompt, prompt.length + newTokens, 1.0, null, null, -1,
                    new java.util.Random(0), cache);
            best = Math.max(best, (out.length - prompt.length) / ((System.nanoTime() - t0) / 1e9));
        }
        return best;
    }

    public static double rssMb(String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status")))
                if (line.startsWith(field + ":")) return Long.parseLong(line.replaceAll("\\D", "")) / 1024.0;
        } catch (IOException | NumberFormatException ignored) {
            // not Linux: no RSS figures
        }
        return Double.NaN;
    }

    /**
     * Set in the environment of a process that runs with tinker's process settings: "1" from ./runner and the SLURM
     * scripts, the first JVM's start time (epoch ms) when a bare {@code java -jar} started this one with them
     * (cli.Launch, which owns the settings; the name lives here because train cannot depend on cli).
     */
    public static final String LAUNCHED_ENV = "TINKER_LAUNCHED";

    /**
     * When {@code java} was started: this JVM's start, or, when a bare {@code java -jar} started this JVM with tinker's
     * process settings (cli.Launch), the first JVM's, which that one passes on in {@code TINKER_LAUNCHED}.
     */
    static long processStartMillis() {
        long self = ManagementFactory.getRuntimeMXBean().getStartTime();
        try {
            long parent = Long.parseLong(System.getenv().getOrDefault(LAUNCHED_ENV, ""));
            return parent > 1_000_000_000_000L && parent < self ? parent : self; // "1" (./runner): no parent JVM
        } catch (NumberFormatException e) {
            return self;
        }
    }

    /**
     * The process settings the figures depend on: the OpenMP wait and malloc variables that are set, and the JVM's
     * collectors (Copy/MarkSweepCompact = serial).
     */
    static String processSettings() {
        List<String> parts = new ArrayList<>();
        for (String v : List.of("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS", "MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_",
                "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")) {
            String x = System.getenv(v);
            if (x != null) parts.add(v + "=" + x);
        }
        parts.add("GC " + String.join("/", ManagementFactory.getGarbageCollectorMXBeans().stream()
                .map(java.lang.management.GarbageCollectorMXBean::getName).toList()));
        return String.join(" ", parts);
    }

    private static int threads() {
        try {
            return ai.djl.pytorch.jni.JniUtils.getNumThreads();
        } catch (RuntimeException | LinkageError e) {
            return -1;
        }
    }

    private static String describe(ModelParams mp) {
        return String.format("%s L%d H%d D%d ff%d T%d %s", mp.layer_architecture(), mp.n_layers(), mp.n_heads(), mp.dim(), mp.ffDim(),
                mp.max_seq_len(), mp.tokenizer_source_name());
    }

    public static String json(Report r) {
        return Checkpoint.toJson(r.asMap());
    }
}
