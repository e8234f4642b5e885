package org.tinker.cli;

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
import java.util.LinkedHashMap;
import java.util.concurrent.Callable;
import org.tinker.config.ConfigError;
import org.tinker.config.DataParams;
import org.tinker.data.Tasks;
import org.tinker.data.Tokenizer;
import org.tinker.engine.SafeTensors;
import org.tinker.gpt2.Gpt2Pretrained;
import org.tinker.tint.AuxModel;
import org.tinker.tint.Mat;
import org.tinker.tint.TintConfig;
import org.tinker.tint.TintInput;
import org.tinker.tint.TintModel;
import org.tinker.tint.TintSgd;
import org.tinker.tint.TintStore;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code runner tint}: the TinT construction (forward on a fixture-style input, create/save, perplexity). */
@Command(name = "tint", mixinStandardHelpOptions = true, description = "TinT: a transformer whose forward pass simulates an aux GPT-2 or OPT, its backward pass and SGD on the train part.",
        subcommands = {TintCommands.Forward.class, TintCommands.Create.class, TintCommands.Perplexity.class})
public final class TintCommands implements Callable<Integer> {
    @Override
    public Integer call() {
        throw new ConfigError("tint: expected a subcommand: forward | create | perplexity (runner tint --help)");
    }

    /** The TinT settings as options (defaults: the original's; K/E/Hs default to the first valid choice for the model). */
    static final class Settings {
        @Option(names = "--n-simulation-layers", paramLabel = "N") int nSim = -1;
        @Option(names = "--n-forward-backward", paramLabel = "N") int steps = 1;
        @Option(names = "--inner-lr", paramLabel = "LR") double innerLr = 1e-4;
        @Option(names = "--num-prefixes", paramLabel = "K") Integer numPrefixes;
        @Option(names = "--hidden-size", paramLabel = "E") Integer hiddenSize;
        @Option(names = "--num-attention-heads", paramLabel = "H") Integer heads;
        @Option(names = "--scale-embeddings", paramLabel = "N") double scaleEmbeddings = 1000;
        @Option(names = "--gate-scale", paramLabel = "G") double gateScale = 10;
        @Option(names = "--no-restrict-prefixes", negatable = false) boolean noRestrict;
        @Option(names = "--no-reuse-forward-blocks", negatable = false) boolean noReuseForward;
        @Option(names = "--no-reuse-backward-blocks", negatable = false) boolean noReuseBackward;
        @Option(names = "--norm", paramLabel = "N", description = "layernorm (GPT-2) | rmsnorm (simulate the aux with RMSNorm; extension)") String norm = "layernorm";
        @Option(names = "--dtype", paramLabel = "D", description = "float64 (default) | float32") String dtype = "float64";
        @Option(names = "--use-prediction-loss", arity = "1", paramLabel = "BOOL", description = {"true (default): the cross-entropy gradient at the top;",
                "it takes precedence over --use-quad, as in the original"}) boolean usePredictionLoss = true;
        @Option(names = "--use-quad", arity = "1", paramLabel = "BOOL", description = {"with --use-prediction-loss false: the loss 0.5*|E h|^2 - (E h)_y",
                "(Saunshi et al.); both false: the original's third option, grad = mean_v E_v - E_y. Ignored while --use-prediction-loss is true"})
        boolean useQuad = false;

        TintConfig config(int D, int H) {
            TintConfig c = new TintConfig();
            c.nSimulationLayers = nSim; c.nForwardBackward = steps; c.innerLr = innerLr; c.scaleEmbeddings = scaleEmbeddings; c.gateScale = gateScale;
            c.restrictPrefixes = !noRestrict; c.reuseForwardBlocks = !noReuseForward; c.reuseBackwardBlocks = !noReuseBackward;
            c.usePredictionLoss = usePredictionLoss; c.useQuad = useQuad;
            if (!dtype.equals("float32") && !dtype.equals("float64")) throw new ConfigError("--dtype=" + dtype + ": expected float32 or float64");
            c.f32 = dtype.equals("float32");
            String first = TintConfig.suggest(D, H).split(" \\| ")[0];
            String[] kv = first.split(" ");
            c.numPrefixes = numPrefixes != null ? numPrefixes : Integer.parseInt(kv[0].split("=")[1]);
            c.hiddenSize = hiddenSize != null ? hiddenSize : Integer.parseInt(kv[1].split("=")[1]);
            c.numAttentionHeads = heads != null ? heads : Integer.parseInt(kv[2].split("=")[1]);
            return c;
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

        Gpt2Commands.ModelChoice choice() {
            Gpt2Commands.ModelChoice c = new Gpt2Commands.ModelChoice();
            c.pretrained = pretrained;
            c.timestamp = timestamp;
            return c;
        }
    }

    /** The aux model: an HF OPT folder directly, anything else (GPT-2 folders, tinker runs) through the LM loader. */
    static AuxModel aux(Gpt2Commands.ModelChoice model, Path savedModels, Settings s) {
        Path opt = optFolder(model);
        if (opt != null) {
            try (NDManager m = NDManager.newBaseManager()) {
                return TintInput.loadAux(opt, m, s.dtype.equals("float32"), s.norm);
            }
        }
        try (Gpt2Commands.Loaded l = Gpt2Commands.load(model, savedModels, DataType.FLOAT32)) {
            return TintStore.fromLm(l.lm(), s.dtype.equals("float32"), s.norm);
        }
    }

    /** The checkpoint folder of {@code --pretrained} when its config.json says model_type opt, else null. */
    static Path optFolder(Gpt2Commands.ModelChoice model) {
        if (model.pretrained == null) return null;
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

        @Override
        public Integer call() throws IOException {
            try (NDManager m = NDManager.newBaseManager()) {
                TintInput in = TintInput.read(input, m);
                TintModel t = new TintModel(in.aux(), in.config());
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
                long peak = 0;
                for (var pool : java.lang.management.ManagementFactory.getMemoryPoolMXBeans())
                    if (pool.getType() == java.lang.management.MemoryType.HEAP) peak += pool.getPeakUsage().getUsed();
                System.gc();
                long retained = usedHeap() - before;
                System.out.printf("heap: %.1f MiB before the pass (model built), peak %.1f MiB during it (garbage included), %.1f MiB retained by its outputs%n",
                        before / 1048576.0, peak / 1048576.0, retained / 1048576.0);
                DataType dt = in.config().f32 ? DataType.FLOAT32 : DataType.FLOAT64;
                LinkedHashMap<String, NDArray> w = new LinkedHashMap<>();
                w.put("original_logits", m.create(o.originalLogits.a, new Shape(o.originalLogits.rows, o.originalLogits.cols)).toType(dt, false));
                w.put("final_logits", m.create(o.finalLogits.a, new Shape(o.finalLogits.rows, o.finalLogits.cols)).toType(dt, false));
                int L = in.aux().L;
                w.putAll(o.updated.toHf(m, dt, L - in.config().nSim(L), false));
                if (out.toAbsolutePath().getParent() != null) Files.createDirectories(out.toAbsolutePath().getParent());
                SafeTensors.write(out, w);
                System.out.printf("TinT forward: %d tokens (%d train), %s, %.3f s; eval loss %.6f -> %.6f; wrote %d tensors to %s%n",
                        in.ids().length, in.nTrain(), in.config().f32 ? "float32" : "float64", secs,
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
            AuxModel a = aux(model.choice(), savedModels, settings);
            TintConfig c = settings.config(a.D, a.H);
            c.validate(a, 1);
            TintModel t = new TintModel(a, c);
            TintStore.save(t, save);
            System.out.printf("TinT of an aux with D=%d, L=%d: K=%d, E=%d, Hs=%d; parameters: repo-equivalent %,d, own %,d; saved to %s%n", a.D, a.L,
                    c.numPrefixes, c.hiddenSize, c.numAttentionHeads, t.repoParamCount(), t.ownParamCount(), save);
            return 0;
        }
    }

    static long usedHeap() {
        return java.lang.management.ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
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

    @Command(name = "perplexity", mixinStandardHelpOptions = true, description = {"The original's perplexity protocol (tint.md §2): blocks of --block-size tokens; the first",
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
        @Option(names = "--dynamic-steps", paramLabel = "N", description = "default: --n-forward-backward") Integer dynamicSteps;
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
            int[] all;
            Gpt2Commands.ModelChoice choice = model.choice();
            Path opt = optFolder(choice);
            if (opt != null) {
                // OPT has no bundled tokenizer here: its folder's own (tokenizer.json or vocab.json + merges.txt)
                Tokenizer tok = Gpt2Pretrained.tokenizer(opt, -1);
                if (tok == null) throw new ConfigError(opt + ": no tokenizer.json or vocab.json + merges.txt (tint perplexity needs the OPT model's tokenizer)");
                all = tokens(tok);
            } else {
                try (Gpt2Commands.Loaded l = Gpt2Commands.load(choice, savedModels, DataType.FLOAT32)) {
                    if (l.tokenizer() == null) throw new ConfigError("tint perplexity: this model has no tokenizer");
                    all = tokens(l.tokenizer());
                }
            }
            AuxModel aux = aux(choice, savedModels, settings);
            if (blockSize < 4 || blockSize > aux.T) throw new ConfigError("--block-size=" + blockSize + ": expected 4.." + aux.T + " (the aux " + aux.family.positionsKey() + ")");
            TintConfig c = settings.config(aux.D, aux.H);
            c.validate(aux, blockSize);
            TintModel tint = new TintModel(aux, c);
            int blocks = all.length / blockSize;
            if (dataSubset != null) blocks = Math.min(blocks, dataSubset);
            if (blocks == 0) throw new ConfigError("--block-size=" + blockSize + ": the split has only " + all.length + " tokens");
            TintSgd.Switches dyn = TintSgd.Switches.exact(aux);
            dyn.trainEmbeddings = true;
            dyn.meanLoss = dynamicLoss.equals("mean");
            int dSteps = dynamicSteps != null ? dynamicSteps : c.nForwardBackward;
            double base = 0, after = 0, dynamic = 0, n = 0;
            long t0 = System.nanoTime();
            for (int b = 0; b < blocks; b++) {
                long[] ids = new long[blockSize];
                for (int i = 0; i < blockSize; i++) ids[i] = all[b * blockSize + i];
                int nTrain = (int) (blockSize * trainFraction);
                TintModel.Output o = tint.forward(ids, nTrain);
                double[] e0 = evalLoss(o.originalLogits, ids, nTrain), e1 = evalLoss(o.finalLogits, ids, nTrain);
                AuxModel d = TintSgd.train(aux, ids, nTrain, dynamicLr, dSteps, dyn);
                double[] e2 = evalLoss(d.forward(ids).logits, ids, nTrain);
                base += e0[0]; after += e1[0]; dynamic += e2[0]; n += e0[1];
            }
            double secs = (System.nanoTime() - t0) / 1e9;
            JsonObject r = new JsonObject();
            r.addProperty("model", model.pretrained != null ? model.pretrained : "timestamp:" + model.timestamp);
            r.addProperty("task", task); r.addProperty("split", split); r.addProperty("block_size", blockSize); r.addProperty("blocks", blocks);
            r.addProperty("train_fraction", trainFraction); r.addProperty("eval_tokens", (long) n);
            r.addProperty("inner_lr", c.innerLr); r.addProperty("n_simulation_layers", c.nSimulationLayers); r.addProperty("n_forward_backward", c.nForwardBackward);
            r.addProperty("num_prefixes", c.numPrefixes); r.addProperty("hidden_size", c.hiddenSize); r.addProperty("num_attention_heads", c.numAttentionHeads);
            r.addProperty("scale_embeddings", c.scaleEmbeddings); r.addProperty("gate_scale", c.gateScale); r.addProperty("dtype", settings.dtype);
            r.addProperty("norm", settings.norm); r.addProperty("restrict_prefixes", c.restrictPrefixes);
            r.addProperty("use_prediction_loss", c.usePredictionLoss); r.addProperty("use_quad", c.useQuad);
            r.addProperty("dynamic_lr", dynamicLr); r.addProperty("dynamic_steps", dSteps); r.addProperty("dynamic_loss", dynamicLoss);
            r.addProperty("ppl_base", Math.exp(base / n)); r.addProperty("ppl_tint", Math.exp(after / n)); r.addProperty("ppl_dynamic_eval", Math.exp(dynamic / n));
            r.addProperty("seconds", secs);
            String line = new Gson().toJson(r);
            if (log.toAbsolutePath().getParent() != null) Files.createDirectories(log.toAbsolutePath().getParent());
            Files.writeString(log, line + "\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            System.out.printf("%s %s, %d blocks of %d (train %.2f): perplexity base %.4f, TinT %.4f, dynamic eval %.4f (%.1f s); appended to %s%n", task, split,
                    blocks, blockSize, trainFraction, Math.exp(base / n), Math.exp(after / n), Math.exp(dynamic / n), secs, log);
            return 0;
        }
    }
}
