package org.tinker.gpt2;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.tinker.config.ConfigError;
import org.tinker.config.ModelParams;
import org.tinker.config.Params;
import org.tinker.data.Gpt2Tokenizer;
import org.tinker.data.Tokenizer;
import org.tinker.engine.ExpectedTensors;
import org.tinker.engine.SafeTensors;
import org.tinker.engine.TorchPickle;
import org.tinker.model.ForwardOptions;
import org.tinker.model.Inspection;
import org.tinker.model.LM;

/**
 * Pretrained GPT-2 checkpoints in Hugging Face format, as tinker {@link LM}s.
 *
 * <p>A checkpoint is a folder with {@code config.json} and {@code model.safetensors} (or {@code pytorch_model.bin},
 * read by the non-executing {@link TorchPickle}). {@link #resolve} finds one from a folder path, a name in a local
 * models folder ({@code $TINKER_MODELS/NAME}, {@code ./models/NAME}) or a name in the Hugging Face cache
 * ({@code $HF_HUB_CACHE}, else {@code $HF_HOME/hub}, else {@code ~/.cache/huggingface/hub}:
 * {@code models--NAME/snapshots/*}; {@code gpt2} also finds {@code models--openai-community--gpt2}).
 *
 * <p>HF stores the four projections as {@code Conv1D} weights {@code [in, out]}; tinker's are torch-Linear
 * {@code [out, in]}, so those are transposed on the way in (and out, see {@link Gpt2Export}). The causal-mask
 * buffers ({@code attn.bias}, {@code attn.masked_bias}) are dropped; a tied {@code lm_head.weight} is not loaded
 * (the LM's head is {@code wte} itself, one parameter).
 */
public final class Gpt2Pretrained {
    private Gpt2Pretrained() {}

    public static final String CONFIG = "config.json";
    public static final String SAFETENSORS = "model.safetensors";
    public static final String PICKLE = "pytorch_model.bin";
    /** The projections HF stores as Conv1D ([in, out]). */
    public static final Set<String> CONV1D = Set.of("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight");

    private static final Pattern BLOCK = Pattern.compile("h\\.(\\d+)\\.(.+)");

    /** Where to look, from the environment (null values allowed). */
    public record Env(String hfHubCache, String hfHome, String tinkerModels, Path home, Path projectRoot) {
        public static Env system() {
            return new Env(System.getenv("HF_HUB_CACHE"), System.getenv("HF_HOME"), System.getenv("TINKER_MODELS"),
                    Path.of(System.getProperty("user.home")), Path.of("."));
        }

        Path hub() {
            if (hfHubCache != null && !hfHubCache.isBlank()) return Path.of(hfHubCache);
            if (hfHome != null && !hfHome.isBlank()) return Path.of(hfHome, "hub");
            return home.resolve(".cache/huggingface/hub");
        }
    }

    public static Path resolve(String nameOrDir) {
        return resolve(nameOrDir, Env.system());
    }

    /** The checkpoint folder for a folder path or a model name; a {@link ConfigError} saying where it looked if none. */
    public static Path resolve(String nameOrDir, Env env) {
        if (nameOrDir == null || nameOrDir.isBlank()) throw new ConfigError("pretrained: expected a checkpoint folder or a model name such as gpt2");
        Path asPath = Path.of(nameOrDir);
        if (Files.isDirectory(asPath)) {
            checkFolder(asPath);
            return asPath;
        }
        if (asPath.isAbsolute() || nameOrDir.startsWith(".") || nameOrDir.startsWith("~") || nameOrDir.chars().filter(ch -> ch == '/').count() > 1)
            throw new ConfigError(nameOrDir + ": no such checkpoint folder (expected a folder with config.json + model.safetensors or pytorch_model.bin)");
        List<Path> looked = new ArrayList<>();
        List<Path> candidates = new ArrayList<>();
        if (env.tinkerModels() != null && !env.tinkerModels().isBlank()) candidates.add(Path.of(env.tinkerModels(), nameOrDir));
        candidates.add(env.projectRoot().resolve("models").resolve(nameOrDir));
        for (Path c : candidates) {
            looked.add(c);
            if (Files.isDirectory(c) && hasFiles(c)) return c;
        }
        Path hub = env.hub();
        List<String> repos = new ArrayList<>(List.of(nameOrDir));
        if (!nameOrDir.contains("/") && nameOrDir.startsWith("gpt2")) repos.add("openai-community/" + nameOrDir);
        for (String repo : repos) {
            Path repoDir = hub.resolve("models--" + repo.replace("/", "--"));
            looked.add(repoDir.resolve("snapshots/*"));
            Path snap = snapshot(repoDir);
            if (snap != null) return snap;
        }
        StringBuilder sb = new StringBuilder("pretrained model '" + nameOrDir + "': no checkpoint (config.json + model.safetensors or pytorch_model.bin) found; looked in ");
        for (int i = 0; i < looked.size(); i++) sb.append(i == 0 ? "" : ", ").append(looked.get(i));
        sb.append(". Get it with `huggingface-cli download ").append(nameOrDir.contains("/") || !nameOrDir.startsWith("gpt2") ? nameOrDir : "openai-community/" + nameOrDir)
                .append(" config.json model.safetensors vocab.json merges.txt` (fills the HF cache), or copy those files into models/")
                .append(nameOrDir).append("/, or pass the folder itself");
        throw new ConfigError(sb.toString());
    }

    private static Path snapshot(Path repoDir) {
        Path snaps = repoDir.resolve("snapshots");
        if (!Files.isDirectory(snaps)) return null;
        try {
            Path ref = repoDir.resolve("refs/main");
            if (Files.isRegularFile(ref)) {
                Path s = snaps.resolve(Files.readString(ref).trim());
                if (Files.isDirectory(s) && hasFiles(s)) return s;
            }
            try (Stream<Path> st = Files.list(snaps)) {
                return st.filter(p -> Files.isDirectory(p) && hasFiles(p))
                        .max(Comparator.comparing(p -> p.toFile().lastModified())).orElse(null);
            }
        } catch (IOException e) {
            return null;
        }
    }

    private static boolean hasFiles(Path dir) {
        return Files.isRegularFile(dir.resolve(CONFIG))
                && (Files.isRegularFile(dir.resolve(SAFETENSORS)) || Files.isRegularFile(dir.resolve(PICKLE)));
    }

    private static void checkFolder(Path dir) {
        if (!Files.isRegularFile(dir.resolve(CONFIG)))
            throw new ConfigError(dir + ": no config.json (expected a Hugging Face GPT-2 checkpoint folder: config.json + model.safetensors or pytorch_model.bin)");
        if (!Files.isRegularFile(dir.resolve(SAFETENSORS)) && !Files.isRegularFile(dir.resolve(PICKLE)))
            throw new ConfigError(dir + ": no model.safetensors or pytorch_model.bin (expected the weights beside config.json)");
    }

    public static Gpt2Config config(Path dir) {
        return Gpt2Config.read(dir.resolve(CONFIG));
    }

    /** The weights file's tensors under their HF names (model.safetensors preferred over pytorch_model.bin). */
    public static LinkedHashMap<String, NDArray> readHf(Path dir, NDManager manager) {
        return readHf(dir, manager, config(dir));
    }

    /**
     * The weights file's tensors under their HF names, each read bounded by {@code cfg}: a tensor config.json does not
     * describe, or of another shape, and storages larger than what it describes are refused before allocating.
     */
    public static LinkedHashMap<String, NDArray> readHf(Path dir, NDManager manager, Gpt2Config cfg) {
        ExpectedTensors expected = cfg.expectedTensors(dir.resolve(CONFIG).toString());
        Path st = dir.resolve(SAFETENSORS);
        if (Files.isRegularFile(st)) return SafeTensors.read(st, manager, expected);
        Path bin = dir.resolve(PICKLE);
        if (Files.isRegularFile(bin)) return TorchPickle.read(bin, manager, expected);
        throw new ConfigError(dir + ": no model.safetensors or pytorch_model.bin");
    }

    /**
     * HF GPT-2 tensors → tinker's names and layouts. Accepts keys with or without the {@code transformer.} prefix
     * (GPT2LMHeadModel vs GPT2Model files); unknown keys are an error naming them.
     */
    public static LinkedHashMap<String, NDArray> toTinker(Map<String, NDArray> hf, Gpt2Config cfg, String where) {
        LinkedHashMap<String, NDArray> out = new LinkedHashMap<>();
        List<String> unexpected = new ArrayList<>();
        for (Map.Entry<String, NDArray> e : hf.entrySet()) {
            String k = e.getKey();
            NDArray a = e.getValue();
            if (k.equals("lm_head.weight")) {
                if (!cfg.mp().tie_embed_deembed()) out.put(LM.LM_HEAD, a);
                continue; // tied: the head is wte
            }
            String s = k.startsWith("transformer.") ? k.substring("transformer.".length()) : k;
            switch (s) {
                case "wte.weight" -> out.put(LM.WTE, a);
                case "wpe.weight" -> out.put(LM.WPE, a);
                case "ln_f.weight" -> out.put(LM.LN_F_W, a);
                case "ln_f.bias" -> out.put(LM.LN_F_B, a);
                default -> {
                    Matcher m = BLOCK.matcher(s);
                    if (!m.matches()) {
                        unexpected.add(k);
                        continue;
                    }
                    String rest = m.group(2);
                    if (rest.equals("attn.bias") || rest.equals("attn.masked_bias")) continue; // causal-mask buffers
                    String name = "transformer.h." + m.group(1) + "." + rest;
                    if (CONV1D.contains(rest)) {
                        if (a.getShape().dimension() != 2) throw new ConfigError(where + ": " + k + " has shape " + a.getShape() + ", expected a 2-D Conv1D weight");
                        NDArray t = a.transpose(1, 0).toType(a.getDataType(), true);
                        t.setName(name);
                        out.put(name, t);
                    } else {
                        out.put(name, a);
                    }
                }
            }
        }
        if (!unexpected.isEmpty()) throw new ConfigError(where + ": unexpected tensors " + unexpected + " (not part of GPT2LMHeadModel)");
        return out;
    }

    /** Loads a checkpoint folder as an LM in float32. */
    public static LM load(Path dir, NDManager manager) {
        return load(dir, manager, DataType.FLOAT32, null);
    }

    /**
     * Loads a checkpoint folder as an LM.
     *
     * @param architecture torch-transformer (default when null) or custom-transformer (the same block; both have hook points)
     */
    public static LM load(Path dir, NDManager manager, DataType dtype, String architecture) {
        checkFolder(dir);
        Gpt2Config cfg = config(dir);
        ModelParams mp = cfg.mp();
        if (architecture != null) mp = withArchitecture(mp, architecture);
        LM lm = new LM(mp, cfg.vocabSize(), manager, 0, dtype);
        try {
            loadWeights(lm, dir, cfg);
        } catch (RuntimeException e) {
            lm.close();
            throw e;
        }
        return lm;
    }

    /** Copies a checkpoint folder's weights into an LM built with its config's architecture. */
    public static void loadWeights(LM lm, Path dir, Gpt2Config cfg) {
        try (NDManager tmp = lm.manager().newSubManager()) {
            Map<String, NDArray> t = toTinker(readHf(dir, tmp, cfg), cfg, dir.toString());
            try {
                lm.loadParameters(t);
            } catch (IllegalArgumentException e) {
                throw new ConfigError(dir + ": weights do not match config.json: " + e.getMessage());
            }
        }
    }

    /**
     * A run's model params for fine-tuning a checkpoint: every architecture field from config.json (as the reference
     * overwrote them), tokenizer gpt2; the run keeps its layer_architecture, from_os_pretrained and from_saved.
     */
    public static ModelParams fineTuneParams(ModelParams run, Gpt2Config cfg) {
        ModelParams m = cfg.mp();
        ModelParams out = run; // every other field (recipes among them) stays the run's
        for (String field : List.of("n_layers", "n_heads", "dim", "dim_ff_factor", "max_seq_len", "tokenizer_source_name",
                "individual_head_params", "pos_encoding", "tie_embed_deembed", "norm_first", "final_norm", "activation",
                "layer_norm_eps", "norm"))
            out = out.with(field, Params.toMap(m).get(field));
        return out;
    }

    /** The same params with another layer_architecture (every other field kept). */
    public static ModelParams withArchitecture(ModelParams m, String architecture) {
        return m.with("layer_architecture", architecture);
    }

    /**
     * The tokenizer of a checkpoint folder: its {@code tokenizer.json} or {@code vocab.json + merges.txt} when
     * present, else the bundled GPT-2 tokenizer when the vocabulary has GPT-2's 50,257 entries; null otherwise.
     */
    public static Tokenizer tokenizer(Path dir, int vocabSize) {
        if (Files.isRegularFile(dir.resolve("tokenizer.json"))
                || (Files.isRegularFile(dir.resolve("vocab.json")) && Files.isRegularFile(dir.resolve("merges.txt"))))
            return Gpt2Tokenizer.fromFolder(dir);
        return vocabSize == Gpt2Tokenizer.FULL_VOCAB_SIZE ? Gpt2Tokenizer.full() : null;
    }

    /**
     * Logits and hidden states of one sequence, HF {@code output_hidden_states} style: {@code hidden[i]} is the
     * input of block i (i &lt; L) and {@code hidden[L]} is {@code ln_f} of the last block's output.
     *
     * @return logits [T,V] followed by the L+1 hidden states [T,D], all in {@code ids}' manager
     */
    public static NDList logitsAndHidden(LM lm, NDArray ids) {
        boolean was = lm.isTraining();
        lm.setTraining(false);
        try {
            var out = lm.forward(ids, new ForwardOptions(false, true, null, null));
            NDArray emb = out.embeddings().get(0); // [L+1,T,D]
            NDList r = new NDList();
            r.add(out.logits().get(0));
            long n = emb.getShape().get(0);
            for (int i = 0; i < n - 1; i++) r.add(emb.get(i));
            r.add(Inspection.finalNorm(lm, emb.get(n - 1))); // the model's own final norm (any architecture)
            return r;
        } finally {
            lm.setTraining(was);
        }
    }
}
