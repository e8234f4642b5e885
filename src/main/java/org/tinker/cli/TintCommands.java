package org.tinker.cli;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.gson.Gson;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.concurrent.Callable;
import org.tinker.config.ConfigError;
import org.tinker.config.DataParams;
import org.tinker.config.Grid;
import org.tinker.config.ModelParams;
import org.tinker.config.Params;
import org.tinker.config.TintParams;
import org.tinker.data.Tasks;
import org.tinker.data.Tokenizer;
import org.tinker.data.Tokenizers;
import org.tinker.engine.SafeTensors;
import org.tinker.gpt2.Gpt2Pretrained;
import org.tinker.tint.AuxModel;
import org.tinker.tint.AuxShape;
import org.tinker.tint.IclInput;
import org.tinker.tint.Mat;
import org.tinker.tint.TintEngine;
import org.tinker.tint.TintInput;
import org.tinker.tint.TintModel;
import org.tinker.tint.TintPass;
import org.tinker.tint.TintSettings;
import org.tinker.tint.TintSgd;
import org.tinker.tint.TintStore;
import org.tinker.train.Benchmark;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code runner tint}: the TinT construction (forward on a fixture-style input, create/save, perplexity, few-shot ICL in {@link TintIclCommand}). */
@Command(name = "tint", mixinStandardHelpOptions = true, description = "TinT: a transformer whose forward pass simulates an aux GPT-2 or OPT, its backward pass and SGD on the train part.",
        subcommands = {TintCommands.Forward.class, TintCommands.Create.class, TintCommands.Perplexity.class, TintIclCommand.class})
public final class TintCommands implements Callable<Integer> {
    @Override
    public Integer call() {
        throw new ConfigError("tint: expected a subcommand: forward | create | perplexity | icl (runner tint --help)");
    }

    /**
     * The TinT settings ({@link TintParams}) as options, and {@code --set tint.KEY=VALUE} for any of them; what is not
     * given keeps the original's default, but num_prefixes, hidden_size and num_attention_heads default to the first
     * valid choice for the aux model ({@link TintSettings#suggest}).
     */
    static final class Settings {
        @Option(names = "--n-simulation-layers", paramLabel = "N") Integer nSim;
        @Option(names = "--n-forward-backward", paramLabel = "N") Integer steps;
        @Option(names = "--inner-lr", paramLabel = "LR") Double innerLr;
        @Option(names = "--num-prefixes", paramLabel = "K") Integer numPrefixes;
        @Option(names = "--hidden-size", paramLabel = "E") Integer hiddenSize;
        @Option(names = "--num-attention-heads", paramLabel = "H") Integer heads;
        @Option(names = "--scale-embeddings", paramLabel = "N") Double scaleEmbeddings;
        @Option(names = "--gate-scale", paramLabel = "G") Double gateScale;
        @Option(names = "--no-restrict-prefixes", negatable = false) boolean noRestrict;
        @Option(names = "--no-reuse-forward-blocks", negatable = false) boolean noReuseForward;
        @Option(names = "--no-reuse-backward-blocks", negatable = false) boolean noReuseBackward;
        @Option(names = "--set", paramLabel = "tint.KEY=VALUE", description = {"any TinT setting by its name (docs/parameters.md, TintParams),",
                "e.g. --set tint.inner_lr=1e-4 --set tint.ln_update_bias_only=False"}) List<String> sets = new ArrayList<>();
        @Option(names = "--norm", paramLabel = "N", description = "layernorm (GPT-2) | rmsnorm (simulate the aux with RMSNorm; extension)") String norm = "layernorm";
        @Option(names = "--dtype", paramLabel = "D", description = "float64 (default) | float32 | bfloat16 (engine: matmuls in bfloat16, float32 accumulation)") String dtype;
        @Option(names = "--backend", paramLabel = "B", description = {"engine (default): the construction as DJL tensors on the CPU or --gpu-id;",
                "mat: dense float64/float32 Java matrices (the reference; small models only)"}) String backend = "engine";
        @Option(names = "--gpu-id", paramLabel = "N", description = "run the engine construction on CUDA device N (default: the CPU)") Integer gpuId;
        @Option(names = "--max-memory", paramLabel = "SIZE", description = {"refuse to build when the estimated peak memory exceeds SIZE (e.g. 16G, 800M);",
                "default: the memory available now (MemAvailable)"}) String maxMemory;
        @Option(names = "--aux-seed", paramLabel = "S", description = "seed of the --aux-shape model's initialisation") long auxSeed = 0;
        @Option(names = "--use-prediction-loss", arity = "1", paramLabel = "BOOL", description = {"true (default): the cross-entropy gradient at the top;",
                "it takes precedence over --use-quad, as in the original"}) Boolean usePredictionLoss;
        @Option(names = "--use-quad", arity = "1", paramLabel = "BOOL", description = {"with --use-prediction-loss false: the loss 0.5*|E h|^2 - (E h)_y",
                "(Saunshi et al.); both false: the original's third option, grad = mean_v E_v - E_y. Ignored while --use-prediction-loss is true"})
        Boolean useQuad;

        /** The settings the command line gives, each located at its flag or --set; a setting given twice is refused. */
        LinkedHashMap<String, Params.Located> given() {
            LinkedHashMap<String, Params.Located> v = new LinkedHashMap<>();
            flag(v, "n_simulation_layers", nSim);
            flag(v, "n_forward_backward", steps);
            flag(v, "inner_lr", innerLr);
            flag(v, "num_prefixes", numPrefixes);
            flag(v, "hidden_size", hiddenSize);
            flag(v, "num_attention_heads", heads);
            flag(v, "scale_embeddings", scaleEmbeddings);
            flag(v, "gate_scale", gateScale);
            flag(v, "use_prediction_loss", usePredictionLoss);
            flag(v, "use_quad", useQuad);
            if (noRestrict) off(v, "restrict_prefixes");
            if (noReuseForward) off(v, "reuse_forward_blocks");
            if (noReuseBackward) off(v, "reuse_backward_blocks");
            if (dtype != null) put(v, "dtype", new Params.Located(switch (dtype) { // bfloat16 is the engine's: the aux stays float32
                case "float64" -> "float64";
                case "float32", "bfloat16" -> "float32";
                default -> throw new ConfigError("--dtype=" + dtype + ": expected float64, float32 or bfloat16");
            }, "--dtype=" + dtype));
            for (String arg : sets) {
                Grid.Override o = Grid.Override.parse(arg);
                if (o.section() != Params.Section.TINT)
                    throw new ConfigError(o.where() + ": runner tint takes TinT settings only (--set tint.KEY=VALUE; docs/parameters.md, TintParams)");
                put(v, o.key(), new Params.Located(o.value(), o.where()));
            }
            return v;
        }

        /** A setting given by its flag, the setting's name with dashes ({@code --inner-lr} for inner_lr). */
        private static void flag(LinkedHashMap<String, Params.Located> v, String key, Object value) {
            if (value != null) put(v, key, new Params.Located(value, "--" + key.replace('_', '-') + "=" + value));
        }

        /** A setting turned off by its {@code --no-} flag. */
        private static void off(LinkedHashMap<String, Params.Located> v, String key) {
            put(v, key, new Params.Located(false, "--no-" + key.replace('_', '-')));
        }

        private static void put(LinkedHashMap<String, Params.Located> v, String key, Params.Located value) {
            Params.Located before = v.put(key, value);
            if (before != null) throw new ConfigError(value.where() + ": " + key + " is already given by " + before.where());
        }

        /** The settings for an aux model of width D and H heads (K, E and Hs not given: the first valid choice). */
        TintParams params(int D, int H) {
            LinkedHashMap<String, Params.Located> v = given();
            List<TintSettings.Widths> valid = TintSettings.suggest(D, H);
            if (!valid.isEmpty()) {
                TintSettings.Widths first = valid.get(0);
                String why = "runner tint (the first valid choice for an aux with D=" + D + ", H=" + H + ")";
                v.putIfAbsent("num_prefixes", new Params.Located(first.numPrefixes(), why));
                v.putIfAbsent("hidden_size", new Params.Located(first.hiddenSize(), why));
                v.putIfAbsent("num_attention_heads", new Params.Located(first.numAttentionHeads(), why));
            }
            return Params.bind(Params.Section.TINT, v, "runner tint");
        }

        /** Whether the aux model is read in float32 (--dtype float32 | bfloat16, or --set tint.dtype=float32). */
        boolean f32() {
            return Params.<TintParams>bind(Params.Section.TINT, given(), "runner tint").f32();
        }

        /** The engine's arithmetic: bfloat16 for --dtype bfloat16 (engine only), else the settings' dtype. */
        TintEngine.Precision precision(TintParams c) {
            if (!backend.equals("engine") && !backend.equals("mat")) throw new ConfigError("--backend=" + backend + ": expected engine or mat");
            if ("bfloat16".equals(dtype)) {
                if (backend.equals("mat")) throw new ConfigError("--dtype=bfloat16 needs --backend engine (the mat reference computes in float64 or float32)");
                return TintEngine.Precision.BFLOAT16;
            }
            return c.f32() ? TintEngine.Precision.FLOAT32 : TintEngine.Precision.FLOAT64;
        }

        /** The construction that runs the passes: the engine on the CPU or --gpu-id, or the Mat reference. */
        TintPass build(AuxModel a, TintParams c) {
            return TintCommands.build(backend, gpuId, a, c, precision(c));
        }

        /**
         * Refuses (one line, exit 2) when the estimated peak memory of building the construction and running one pass of
         * B sequences of T tokens exceeds --max-memory or, by default, what the machine has available now.
         */
        void checkMemory(AuxDims a, TintParams c, int B, int T) {
            long need = backend.equals("mat") ? matEstimate(a, c) : TintEngine.estimateBytes(a.D(), a.L(), a.H(), a.V(), a.wpeRows(), a.F(), c, precision(c), B, T);
            long limit = maxMemory != null ? parseSize(maxMemory) : availableBytes();
            if (need > limit)
                throw new ConfigError(String.format("TinT (%s backend, %s) for an aux with D=%d, L=%d, V=%d at num_prefixes=%d, hidden_size=%d, %d x %d tokens: estimated peak memory %.1f GB, more than the %.1f GB %s",
                        backend, spelling(precision(c)), a.D(), a.L(), a.V(), c.num_prefixes(), c.hidden_size(), B, T, need / 1e9, limit / 1e9,
                        maxMemory != null ? "of --max-memory=" + maxMemory : "available now (MemAvailable; set --max-memory to override)"));
        }

        /** The Mat construction's dense module matrices, prefixes and aux, all doubles. */
        static long matEstimate(AuxDims a, TintParams c) {
            long E = c.hidden_size(), K = c.num_prefixes(), P = a.T() + K, R = a.F() / a.D();
            long modules = 29 * E * E + 12 * P * E, prefixes = (long) a.L() * (6 + 2 * R) * K * E * 3;
            long aux = ((long) a.V() * a.D() + (long) a.L() * (4L * a.D() * a.D() + 2L * a.D() * a.F())) * 3;
            return (modules + prefixes + aux) * 8 + (3L << 29);
        }

        static long parseSize(String s) {
            String t = s.trim().toUpperCase();
            double mult = t.endsWith("G") ? 1e9 : t.endsWith("M") ? 1e6 : t.endsWith("K") ? 1e3 : 1;
            try {
                return (long) (Double.parseDouble(mult == 1 ? t : t.substring(0, t.length() - 1)) * mult);
            } catch (NumberFormatException e) {
                throw new ConfigError("--max-memory=" + s + ": expected a size such as 16G or 800M");
            }
        }

        /** MemAvailable from /proc/meminfo, or the JVM's view of free physical memory elsewhere. */
        static long availableBytes() {
            try {
                for (String line : Files.readAllLines(Path.of("/proc/meminfo")))
                    if (line.startsWith("MemAvailable:")) return Long.parseLong(line.replaceAll("\\D", "")) * 1024;
            } catch (IOException | NumberFormatException ignored) {
                // not Linux
            }
            return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean()).getFreeMemorySize();
        }
    }

    /** An engine precision as --dtype spells it. */
    static String spelling(TintEngine.Precision p) {
        return p.name().toLowerCase();
    }

    /** The CPU, or CUDA device {@code gpuId} when libtorch sees it. */
    static Device device(Integer gpuId, String backend) {
        if (gpuId == null) return Device.cpu();
        int n = Engine.getInstance().getGpuCount();
        if (gpuId < 0 || gpuId >= n)
            throw new ConfigError("--gpu-id=" + gpuId + ": libtorch sees " + n + " GPU(s) on this machine" + (n == 0 ? " (leave out --gpu-id to run on the CPU)" : " (expected 0.." + (n - 1) + ")"));
        if (backend.equals("mat")) throw new ConfigError("--gpu-id needs --backend engine (the mat reference runs in Java on the CPU)");
        return Device.gpu(gpuId);
    }

    /** The engine construction on {@link #device}, or the Mat reference ({@code backend} "mat"). */
    static TintPass build(String backend, Integer gpuId, AuxModel a, TintParams c, TintEngine.Precision precision) {
        if (!backend.equals("engine") && !backend.equals("mat")) throw new ConfigError("--backend=" + backend + ": expected engine or mat");
        return backend.equals("mat") ? new TintModel(a, c) : new TintEngine(a, c, device(gpuId, backend), precision);
    }

    /** The aux dimensions the memory estimate needs, known before the weights are read. */
    record AuxDims(int D, int L, int H, int V, int T, int wpeRows, int F) {
        static AuxDims of(AuxModel a) {
            return new AuxDims(a.D, a.L, a.H, a.V, a.T, a.wpe.rows, a.F);
        }

        static AuxDims of(AuxShape s) {
            return new AuxDims(s.D, s.L, s.H, s.V, s.T, s.T + s.family.posOffset, s.ff());
        }

        /** From an HF GPT-2 or OPT config.json. */
        static AuxDims of(Path dir) {
            JsonObject o = TintInput.readConfig(dir.resolve(Gpt2Pretrained.CONFIG));
            String where = dir.resolve(Gpt2Pretrained.CONFIG).toString();
            try {
                if (TintInput.isOpt(dir)) {
                    int D = o.get("hidden_size").getAsInt(), T = o.get("max_position_embeddings").getAsInt();
                    return new AuxDims(D, o.get("num_hidden_layers").getAsInt(), o.get("num_attention_heads").getAsInt(), o.get("vocab_size").getAsInt(), T, T + 2,
                            o.has("ffn_dim") ? o.get("ffn_dim").getAsInt() : 4 * D);
                }
                int D = o.get("n_embd").getAsInt(), T = o.get("n_positions").getAsInt();
                return new AuxDims(D, o.get("n_layer").getAsInt(), o.get("n_head").getAsInt(), o.get("vocab_size").getAsInt(), T, T,
                        o.has("n_inner") && !o.get("n_inner").isJsonNull() ? o.get("n_inner").getAsInt() : 4 * D);
            } catch (RuntimeException e) {
                throw new ConfigError(where + ": missing or non-integer model dimensions (" + e.getMessage() + ")");
            }
        }
    }

    /**
     * {@code --pretrained DIR | --timestamp T} for the tint commands. Gpt2Commands.ModelChoice's help says "GPT-2
     * checkpoint folder", which is right for the gpt2 commands, but tint also takes HF OPT folders; picocli cannot
     * override an inherited option's text, hence this twin, converted with {@link #choice()} for the shared loaders.
     */
    static final class AuxChoice {
        @Option(names = "--pretrained", paramLabel = "DIR", description = "a GPT-2 or OPT checkpoint folder (HF layout; OPT when its config.json says model_type opt), a models/ name or an HF-cache name (gpt2)")
        String pretrained;

        @Option(names = "--timestamp", paramLabel = "T", description = "a saved tinker run (its final checkpoint)")
        String timestamp;

        @Option(names = "--aux-shape", paramLabel = "S", description = {"gpt2-124m | opt-125m: an aux of that shape with tinker's GPT-2 initialisation",
                "(seed --aux-seed), made in memory (benchmarks; its perplexity uses the GPT-2 tokenizer)"})
        String auxShape;

        Gpt2Commands.ModelChoice choice() {
            Gpt2Commands.ModelChoice c = new Gpt2Commands.ModelChoice();
            c.pretrained = pretrained;
            c.timestamp = timestamp;
            return c;
        }
    }

    /**
     * The aux model: an --aux-shape made in memory, an HF OPT folder directly, anything else (GPT-2 folders, tinker
     * runs) through the LM loader. Where the dimensions are known before the weights are read (shapes, HF folders), the
     * memory estimate of the construction for B sequences of T tokens (T ≤ 0: the aux's positions) is checked first.
     */
    static AuxModel aux(AuxChoice choice, Path savedModels, Settings s, int B, int T) {
        Gpt2Commands.ModelChoice model = choice.choice();
        AuxDims dims = choice.auxShape != null ? AuxDims.of(AuxShape.of(choice.auxShape))
                : model.pretrained != null ? AuxDims.of(Gpt2Pretrained.resolve(model.pretrained)) : null;
        if (dims != null) s.checkMemory(dims, s.params(dims.D(), dims.H()), B, T > 0 ? T : dims.T());
        AuxModel a;
        Path opt = optFolder(model);
        if (choice.auxShape != null) a = AuxShape.of(choice.auxShape).build(s.auxSeed, s.f32());
        else if (opt != null) {
            try (NDManager m = NDManager.newBaseManager()) {
                a = TintInput.loadAux(opt, m, s.f32(), s.norm);
            }
        } else {
            try (Gpt2Commands.Loaded l = Gpt2Commands.load(model, savedModels, DataType.FLOAT32)) {
                a = TintStore.fromLm(l.lm(), s.f32(), s.norm);
            }
        }
        if (dims == null) s.checkMemory(AuxDims.of(a), s.params(a.D, a.H), B, T > 0 ? T : a.T);
        return a;
    }

    /** The aux model's tokenizer: GPT-2's for an --aux-shape, an OPT folder's own, else the loaded model's. */
    static Tokenizer tokenizer(AuxChoice model, Path savedModels, String command) {
        if (model.auxShape != null) return Tokenizers.named(ModelParams.TokenizerKind.GPT2); // a made-up aux has no tokenizer of its own; GPT-2's ids fit both vocabularies
        Gpt2Commands.ModelChoice choice = model.choice();
        Path opt = optFolder(choice);
        if (opt != null) {
            // OPT has no bundled tokenizer here: its folder's own (tokenizer.json or vocab.json + merges.txt)
            Tokenizer tok = Gpt2Pretrained.tokenizer(opt, -1);
            if (tok == null) throw new ConfigError(opt + ": no tokenizer.json or vocab.json + merges.txt (tint " + command + " needs the OPT model's tokenizer)");
            return tok;
        }
        try (Gpt2Commands.Loaded l = Gpt2Commands.load(choice, savedModels, DataType.FLOAT32)) {
            if (l.tokenizer() == null) throw new ConfigError("tint " + command + ": this model has no tokenizer");
            return l.tokenizer();
        }
    }

    /** The checkpoint folder of {@code --pretrained} when its config.json says model_type opt, else null. */
    static Path optFolder(Gpt2Commands.ModelChoice model) {
        if (model == null || model.pretrained == null) return null;
        Path dir = Gpt2Pretrained.resolve(model.pretrained);
        return TintInput.isOpt(dir) ? dir : null;
    }

    @Command(name = "forward", mixinStandardHelpOptions = true, description = {"One TinT forward pass on a fixture-style input.json (GPT-2 or OPT aux model, ids, n_train,",
            "every TinT setting, optional icl_mask | icl_segments and position_ids); writes original_logits, final_logits and the updated",
            "aux weights (the aux family's HF names, top n_simulation_layers + the final norm) in the input's dtype."})
    static final class Forward implements Callable<Integer> {
        @Option(names = "--input", required = true, paramLabel = "CASE/input.json") Path input;
        @Option(names = "--out", required = true, paramLabel = "OUT.safetensors") Path out;
        @Option(names = "--repeat", paramLabel = "N", description = "run the pass N times and report the fastest (timing)") int repeat = 1;
        @Option(names = "--backend", paramLabel = "B", description = "engine (default; the input's dtype) | mat (the dense reference)") String backend = "engine";
        @Option(names = "--gpu-id", paramLabel = "N", description = "run the engine construction on CUDA device N (default: the CPU)") Integer gpuId;

        @Override
        public Integer call() throws IOException {
            try (NDManager m = NDManager.newBaseManager()) {
                TintInput in = TintInput.read(input, m);
                TintPass t = build(backend, gpuId, in.aux(), in.config(), in.config().f32() ? TintEngine.Precision.FLOAT32 : TintEngine.Precision.FLOAT64);
                TintModel.Output o = null;
                double secs = Double.POSITIVE_INFINITY;
                System.gc();
                long before = usedHeap();
                for (var pool : java.lang.management.ManagementFactory.getMemoryPoolMXBeans()) pool.resetPeakUsage();
                for (int r = 0; r < Math.max(1, repeat); r++) {
                    long t0 = System.nanoTime();
                    o = t.forward(in.ids(), in.nTrain(), in.icl());
                    secs = Math.min(secs, (System.nanoTime() - t0) / 1e9);
                }
                t.close();
                long peak = 0;
                for (var pool : java.lang.management.ManagementFactory.getMemoryPoolMXBeans())
                    if (pool.getType() == java.lang.management.MemoryType.HEAP) peak += pool.getPeakUsage().getUsed();
                System.gc();
                long retained = usedHeap() - before;
                System.out.printf("heap: %.1f MiB before the pass (model built), peak %.1f MiB during it (garbage included), %.1f MiB retained by its outputs%n",
                        before / 1048576.0, peak / 1048576.0, retained / 1048576.0);
                DataType dt = in.config().f32() ? DataType.FLOAT32 : DataType.FLOAT64;
                LinkedHashMap<String, NDArray> w = new LinkedHashMap<>();
                w.put("original_logits", m.create(o.originalLogits.a, new Shape(o.originalLogits.rows, o.originalLogits.cols)).toType(dt, false));
                w.put("final_logits", m.create(o.finalLogits.a, new Shape(o.finalLogits.rows, o.finalLogits.cols)).toType(dt, false));
                int L = in.aux().L;
                w.putAll(o.updated.toHf(m, dt, L - in.config().nSim(L), false));
                if (out.toAbsolutePath().getParent() != null) Files.createDirectories(out.toAbsolutePath().getParent());
                SafeTensors.write(out, w);
                System.out.printf("TinT forward: %d tokens (%d train), %s, %.3f s; eval loss %.6f -> %.6f; wrote %d tensors to %s%n",
                        in.ids().length, in.nTrain(), in.config().dtype(), secs,
                        evalLoss(o.originalLogits, in.ids(), in.nTrain())[0] / (in.ids().length - in.nTrain()),
                        evalLoss(o.finalLogits, in.ids(), in.nTrain())[0] / (in.ids().length - in.nTrain()), w.size(), out);
            }
            return 0;
        }
    }

    @Command(name = "create", mixinStandardHelpOptions = true, description = "Construct the TinT model of a GPT-2-architecture model or an HF OPT folder and save it (tint.json + tint.safetensors).")
    static final class Create implements Callable<Integer> {
        @ArgGroup(exclusive = true, multiplicity = "1") AuxChoice model;
        @Mixin Settings settings;
        @Option(names = "--save", required = true, paramLabel = "PATH") Path save;
        @Option(names = "--saved-models", paramLabel = "DIR") Path savedModels = Path.of("saved-models");

        @Override
        public Integer call() {
            long t0 = System.nanoTime();
            AuxModel a = aux(model, savedModels, settings, 1, 0);
            TintParams c = settings.params(a.D, a.H);
            TintSettings.validate(c, a, 1);
            long t1 = System.nanoTime();
            try (TintPass t = settings.build(a, c)) {
                long t2 = System.nanoTime();
                long repo, own;
                if (t instanceof TintEngine e) {
                    TintStore.save(e, save);
                    repo = e.repoParamCount();
                    own = e.ownParamCount();
                } else {
                    TintModel m = (TintModel) t;
                    TintStore.save(m, save);
                    repo = m.repoParamCount();
                    own = m.ownParamCount();
                }
                System.out.printf("TinT of an aux with D=%d, L=%d: K=%d, E=%d, Hs=%d; parameters: repo-equivalent %,d, own %,d (%s backend, as stored);"
                        + " aux read in %.1f s, construction built in %.1f s, saved in %.1f s; peak RSS %,.0f MB; saved to %s%n", a.D, a.L,
                        c.num_prefixes(), c.hidden_size(), c.num_attention_heads(), repo, own, settings.backend, (t1 - t0) / 1e9, (t2 - t1) / 1e9,
                        (System.nanoTime() - t2) / 1e9, Benchmark.rssMb("VmHWM"), save);
            }
            return 0;
        }
    }

    static long usedHeap() {
        return java.lang.management.ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    /** Per block [Σ CE over the eval targets before the update, after it, count], from one (batched) TinT pass. */
    static double[][] passLosses(TintPass tint, long[][] ids, int nTrain) {
        double[][] out = new double[ids.length][];
        if (tint instanceof TintEngine e) {
            int[] nt = new int[ids.length];
            java.util.Arrays.fill(nt, nTrain);
            IclInput[] icl = new IclInput[ids.length];
            java.util.Arrays.fill(icl, IclInput.NONE);
            try (NDManager scope = NDManager.newBaseManager(e.device())) {
                TintEngine.Result r = e.forward(scope, ids, nt, icl);
                for (int b = 0; b < ids.length; b++) {
                    double[] e0 = evalLoss(r.originalLogits.get(b), ids[b], nTrain), e1 = evalLoss(r.finalLogits.get(b), ids[b], nTrain);
                    out[b] = new double[] {e0[0], e1[0], e0[1]};
                }
            }
        } else {
            for (int b = 0; b < ids.length; b++) {
                TintModel.Output o = tint.forward(ids[b], nTrain);
                double[] e0 = evalLoss(o.originalLogits, ids[b], nTrain), e1 = evalLoss(o.finalLogits, ids[b], nTrain);
                out[b] = new double[] {e0[0], e1[0], e0[1]};
            }
        }
        return out;
    }

    /** [Σ CE over the eval targets n_train..T−1, count] from logits [T, V] on the device (log-softmax in float64). */
    static double[] evalLoss(NDArray logits, long[] ids, int nTrain) {
        int T = ids.length, n = T - nTrain;
        NDArray lp = logits.get((nTrain - 1) + ":" + (T - 1)).toType(DataType.FLOAT64, false).logSoftmax(-1);
        long[] y = java.util.Arrays.copyOfRange(ids, nTrain, T);
        NDArray picked = lp.gather(lp.getManager().create(y, new Shape(n, 1)), 1);
        return new double[] {-picked.sum().getDouble(), n};
    }

    /** [Σ CE over the eval targets n_train..T−1, count]. */
    static double[] evalLoss(Mat logits, long[] ids, int nTrain) {
        double s = 0;
        int n = 0;
        for (int t = nTrain - 1; t <= ids.length - 2; t++) {
            double m = Double.NEGATIVE_INFINITY, z = 0;
            for (int v = 0; v < logits.cols; v++) m = Math.max(m, logits.get(t, v));
            for (int v = 0; v < logits.cols; v++) z += Math.exp(logits.get(t, v) - m);
            s += m + Math.log(z) - logits.get(t, (int) ids[t + 1]);
            n++;
        }
        return new double[] {s, n};
    }

    @Command(name = "perplexity", mixinStandardHelpOptions = true, description = {"The original's perplexity protocol (docs/models/tint.md, Perplexity protocol): blocks of --block-size tokens; the first",
            "--train-fraction is the train part; perplexity of the rest before and after TinT's internal update, and with dynamic evaluation",
            "(explicit SGD on all parameters, same train part, --dynamic-steps steps of --dynamic-lr on the mean or summed loss). Appends a JSON line to --log."})
    static final class Perplexity implements Callable<Integer> {
        @ArgGroup(exclusive = true, multiplicity = "1") AuxChoice model;
        @Mixin Settings settings;
        @Option(names = "--task", paramLabel = "T") String task = "wikitext-2";
        @Option(names = "--split", paramLabel = "S") String split = "valid";
        @Option(names = "--train-fraction", paramLabel = "F") double trainFraction = 0.5;
        @Option(names = "--block-size", paramLabel = "N") int blockSize = 1024;
        @Option(names = "--data-subset", paramLabel = "N", description = "only the first N blocks (default all)") Integer dataSubset;
        @Option(names = "--dynamic-lr", paramLabel = "LR") double dynamicLr = 1e-4;
        @Option(names = "--dynamic-steps", paramLabel = "N", description = "default: --n-forward-backward; 0: no dynamic evaluation (it runs on the Mat reference: small models)") Integer dynamicSteps;
        @Option(names = "--batch-size", paramLabel = "B", description = "blocks per TinT pass (engine; default 1)") int batchSize = 1;
        @Option(names = "--dynamic-loss", paramLabel = "L", description = "mean (the original's baseline) | sum") String dynamicLoss = "mean";
        @Option(names = "--log", paramLabel = "FILE") Path log = Path.of("tint-results.jsonl");
        @Option(names = "--saved-models", paramLabel = "DIR") Path savedModels = Path.of("saved-models");

        /** The split's non-empty lines joined by newlines, tokenised. */
        int[] tokens(Tokenizer tok) {
            var t = Tasks.load(DataParams.DEFAULTS.withDatasetName(task), Path.of("."));
            var samples = t.splits().named(split, "--split");
            StringBuilder text = new StringBuilder();
            for (var s : samples) if (!s.text().isBlank()) text.append(text.length() == 0 ? "" : "\n").append(s.text());
            return tok.encode(text.toString());
        }

        @Override
        public Integer call() throws IOException {
            if (!dynamicLoss.equals("mean") && !dynamicLoss.equals("sum")) throw new ConfigError("--dynamic-loss=" + dynamicLoss + ": expected mean or sum");
            if (!(trainFraction > 0 && trainFraction < 1)) throw new ConfigError("--train-fraction=" + trainFraction + ": expected a number in (0, 1)");
            if (batchSize < 1) throw new ConfigError("--batch-size=" + batchSize + ": expected at least 1");
            int[] all = tokens(tokenizer(model, savedModels, "perplexity"));
            int blocks = all.length / blockSize;
            if (dataSubset != null) blocks = Math.min(blocks, dataSubset);
            if (blockSize < 4 || blocks == 0) throw new ConfigError("--block-size=" + blockSize + ": the split has " + all.length + " tokens (expected 4 ≤ block size ≤ the token count)");
            int batch = Math.min(batchSize, blocks);
            long tAux = System.nanoTime();
            AuxModel aux = aux(model, savedModels, settings, batch, blockSize);
            if (blockSize > aux.T) throw new ConfigError("--block-size=" + blockSize + ": expected 4.." + aux.T + " (the aux " + aux.family.positionsKey() + ")");
            TintParams c = settings.params(aux.D, aux.H);
            TintSettings.validate(c, aux, blockSize);
            TintSgd.Switches dyn = TintSgd.Switches.exact(aux);
            dyn.trainEmbeddings = true;
            dyn.meanLoss = dynamicLoss.equals("mean");
            int dSteps = dynamicSteps != null ? dynamicSteps : c.n_forward_backward();
            double base = 0, after = 0, dynamic = 0, n = 0, passSecs = Double.POSITIVE_INFINITY;
            int nTrain = (int) (blockSize * trainFraction);
            long t0 = System.nanoTime();
            double buildSecs;
            try (TintPass tint = settings.build(aux, c)) {
                buildSecs = (System.nanoTime() - t0) / 1e9;
                System.out.printf("aux read in %.1f s, construction (%s, %s) built in %.1f s; parameters: repo-equivalent %,d, own %,d%n", (t0 - tAux) / 1e9,
                        settings.backend, spelling(settings.precision(c)), buildSecs, tint instanceof TintEngine e ? e.repoParamCount() : ((TintModel) tint).repoParamCount(),
                        tint instanceof TintEngine e ? e.ownParamCount() : ((TintModel) tint).ownParamCount());
                for (int b0 = 0; b0 < blocks; b0 += batch) {
                    int nb = Math.min(batch, blocks - b0);
                    long[][] ids = new long[nb][blockSize];
                    for (int b = 0; b < nb; b++)
                        for (int i = 0; i < blockSize; i++) ids[b][i] = all[(b0 + b) * blockSize + i];
                    long p0 = System.nanoTime();
                    double[][] e01 = passLosses(tint, ids, nTrain);
                    passSecs = Math.min(passSecs, (System.nanoTime() - p0) / 1e9);
                    System.out.printf("blocks %d-%d: one TinT pass %.1f s; peak RSS so far %,.0f MB%n", b0, b0 + nb - 1, (System.nanoTime() - p0) / 1e9, Benchmark.rssMb("VmHWM"));
                    for (int b = 0; b < nb; b++) {
                        base += e01[b][0]; after += e01[b][1]; n += e01[b][2];
                        if (dSteps > 0) {
                            AuxModel d = TintSgd.train(aux, ids[b], nTrain, dynamicLr, dSteps, dyn);
                            dynamic += evalLoss(d.forward(ids[b]).logits, ids[b], nTrain)[0];
                        }
                    }
                }
            }
            double secs = (System.nanoTime() - t0) / 1e9;
            JsonObject r = new JsonObject();
            r.addProperty("model", model.pretrained != null ? model.pretrained : model.auxShape != null ? "aux-shape:" + model.auxShape + " seed " + settings.auxSeed
                    : "timestamp:" + model.timestamp);
            r.addProperty("backend", settings.backend);
            r.addProperty("task", task); r.addProperty("split", split); r.addProperty("block_size", blockSize); r.addProperty("blocks", blocks);
            r.addProperty("train_fraction", trainFraction); r.addProperty("eval_tokens", (long) n);
            Params.toJsonObject(c).entrySet().forEach(e -> r.add(e.getKey(), e.getValue()));
            r.addProperty("dtype", spelling(settings.precision(c))); // bfloat16 is the engine's arithmetic, not a TinT setting
            r.addProperty("norm", settings.norm);
            r.addProperty("dynamic_lr", dynamicLr); r.addProperty("dynamic_steps", dSteps); r.addProperty("dynamic_loss", dynamicLoss);
            r.addProperty("ppl_base", Math.exp(base / n)); r.addProperty("ppl_tint", Math.exp(after / n)); if (dSteps > 0) r.addProperty("ppl_dynamic_eval", Math.exp(dynamic / n));
            r.addProperty("seconds", secs);
            r.addProperty("build_seconds", buildSecs);
            r.addProperty("batch_size", batch);
            r.addProperty("fastest_pass_seconds", passSecs);
            r.addProperty("peak_rss_mb", Benchmark.rssMb("VmHWM"));
            String line = new Gson().toJson(r);
            if (log.toAbsolutePath().getParent() != null) Files.createDirectories(log.toAbsolutePath().getParent());
            Files.writeString(log, line + "\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            System.out.printf("%s %s, %d blocks of %d (train %.2f): perplexity base %.4f, TinT %.4f, dynamic eval %s (%.1f s); appended to %s%n", task, split,
                    blocks, blockSize, trainFraction, Math.exp(base / n), Math.exp(after / n), dSteps > 0 ? String.format("%.4f", Math.exp(dynamic / n)) : "not run",
                    secs, log);
            return 0;
        }
    }
}
