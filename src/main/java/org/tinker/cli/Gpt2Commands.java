package org.tinker.cli;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.concurrent.Callable;
import org.tinker.config.ConfigError;
import org.tinker.config.DataParams;
import org.tinker.data.Tasks;
import org.tinker.data.Tokenizer;
import org.tinker.engine.SafeTensors;
import org.tinker.explore.LoadedRun;
import org.tinker.explore.Runs;
import org.tinker.explore.SlidingPerplexity;
import org.tinker.gpt2.Gpt2Export;
import org.tinker.gpt2.Gpt2Pretrained;
import org.tinker.model.LM;
import org.tinker.runs.Checkpoint;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** The subcommands of the pretrained GPT-2 work: logits, export, lora-merge, perplexity. */
public final class Gpt2Commands {
    private Gpt2Commands() {}

    /** {@code --pretrained DIR | --timestamp T}: which model. */
    static final class ModelChoice {
        @Option(names = "--pretrained", paramLabel = "DIR", description = "a GPT-2 checkpoint folder, a models/ name or an HF-cache name (gpt2)")
        String pretrained;

        @Option(names = "--timestamp", paramLabel = "T", description = "a saved tinker run (its final checkpoint)")
        String timestamp;
    }

    /** A loaded model: the LM and the manager that owns it. */
    record Loaded(LM lm, NDManager manager, Tokenizer tokenizer) implements AutoCloseable {
        @Override
        public void close() {
            lm.close();
            manager.close();
        }
    }

    static DataType dtype(String s) {
        return switch (s) {
            case "float32" -> DataType.FLOAT32;
            case "float64" -> DataType.FLOAT64;
            default -> throw new ConfigError("--dtype=" + s + ": expected float32 or float64");
        };
    }

    /** A Hugging Face GPT-2/OPT checkpoint folder (or a models/ or HF-cache name); its tokenizer is null when it has none. */
    static Loaded loadPretrained(String pretrained, DataType dtype) {
        Path dir = Gpt2Pretrained.resolve(pretrained);
        NDManager manager = NDManager.newBaseManager(Device.cpu());
        try {
            LM lm = Gpt2Pretrained.load(dir, manager, dtype, null);
            return new Loaded(lm, manager, Gpt2Pretrained.tokenizer(dir, lm.vocabSize()));
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    static Loaded load(ModelChoice c, Path savedModels, DataType dtype) {
        if (c.pretrained != null) return loadPretrained(c.pretrained, dtype);
        NDManager manager = NDManager.newBaseManager(Device.cpu());
        try {
            try (LoadedRun run = new Runs(savedModels, Path.of("."), Device.cpu()).get(c.timestamp, Checkpoint.FINAL, false)) {
                if (run.lm().hasLora()) run.lm().mergeLora(); // a LoRA run computes with base + adapters
                LM lm = new LM(run.modelParams(), run.lm().vocabSize(), manager, 0, dtype);
                lm.loadParameters(run.lm().parameters());
                return new Loaded(lm, manager, run.tokenizer());
            }
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    static long[] parseIds(String ids, Path idsFile) {
        String text;
        String where;
        if (ids != null) {
            text = ids;
            where = "--ids";
        } else {
            try {
                text = Files.readString(idsFile);
            } catch (IOException e) {
                throw new ConfigError(idsFile + ": cannot read the ids file (" + e.getMessage() + ")");
            }
            where = idsFile.toString();
        }
        List<Long> out = new ArrayList<>();
        for (String p : text.trim().replace("[", "").replace("]", "").split("[,\\s]+")) {
            if (p.isEmpty()) continue;
            try {
                out.add(Long.parseLong(p));
            } catch (NumberFormatException e) {
                throw new ConfigError(where + ": expected integer token ids separated by commas or spaces, got '" + p + "'");
            }
        }
        if (out.isEmpty()) throw new ConfigError(where + ": no token ids");
        return out.stream().mapToLong(Long::longValue).toArray();
    }

    @Command(name = "logits", mixinStandardHelpOptions = true, description = {"Write the logits [T,V] and hidden states of one sequence to a safetensors file:",
            "logits, hidden_states.{i} = input of block i (i < L), hidden_states.{L} = final-norm output (HF convention)."})
    static final class LogitsCmd implements Callable<Integer> {
        @ArgGroup(exclusive = true, multiplicity = "1") ModelChoice model;

        static final class IdsChoice {
            @Option(names = "--ids", paramLabel = "1,2,3", description = "token ids, comma-separated") String ids;
            @Option(names = "--ids-file", paramLabel = "F", description = "a file of token ids (commas or whitespace)") Path idsFile;
        }

        @ArgGroup(exclusive = true, multiplicity = "1") IdsChoice ids;
        @Option(names = "--dtype", paramLabel = "D", description = "float32 (default) or float64") String dtype = "float32";
        @Option(names = "--out", required = true, paramLabel = "OUT.safetensors") Path out;
        @Option(names = "--saved-models", paramLabel = "DIR") Path savedModels = Path.of("saved-models");

        @Override
        public Integer call() throws IOException {
            long[] seq = parseIds(ids.ids, ids.idsFile);
            try (Loaded l = load(model, savedModels, dtype(dtype)); NDManager m = l.manager().newSubManager()) {
                for (long id : seq)
                    if (id < 0 || id >= l.lm().vocabSize())
                        throw new ConfigError("token id " + id + " is outside the vocabulary [0, " + l.lm().vocabSize() + ")");
                if (seq.length > l.lm().params().max_seq_len())
                    throw new ConfigError(seq.length + " ids: expected at most max_seq_len=" + l.lm().params().max_seq_len());
                NDList r;
                try {
                    r = Gpt2Pretrained.logitsAndHidden(l.lm(), m.create(seq));
                } catch (IllegalArgumentException e) { // a body without one residual stream says why
                    throw new ConfigError("logits: " + e.getMessage());
                }
                LinkedHashMap<String, NDArray> t = new LinkedHashMap<>();
                t.put("input_ids", m.create(seq));
                t.put("logits", r.get(0));
                for (int i = 1; i < r.size(); i++) t.put("hidden_states." + (i - 1), r.get(i));
                SafeTensors.write(out, t);
                System.out.printf("wrote %s: logits %s and %d hidden states (%s)%n", out, r.get(0).getShape(), r.size() - 1, dtype);
            }
            return 0;
        }
    }

    @Command(name = "export", mixinStandardHelpOptions = true, description = {"Save a model of GPT-2 architecture as a Hugging Face checkpoint folder (config.json, model.safetensors",
            "with HF names and Conv1D [in,out] weights, GPT-2 tokenizer files) that transformers' from_pretrained loads.",
            "LoRA adapters are merged first."})
    static final class ExportCmd implements Callable<Integer> {
        @ArgGroup(exclusive = true, multiplicity = "1") ModelChoice model;
        @Option(names = "--out", required = true, paramLabel = "DIR") Path out;
        @Option(names = "--saved-models", paramLabel = "DIR") Path savedModels = Path.of("saved-models");

        @Override
        public Integer call() {
            try (Loaded l = load(model, savedModels, DataType.FLOAT32)) {
                var r = Gpt2Export.export(l.lm(), l.tokenizer(), out);
                System.out.println("exported " + r.tensors() + " tensors to " + out + (r.note().isEmpty() ? "" : " (" + r.note() + ")"));
            }
            return 0;
        }
    }

    @Command(name = "lora-merge", mixinStandardHelpOptions = true, description = {"Fold a LoRA run's adapters into its weights: writes the checkpoint {run}/merged/",
            "(same files as final/, model.safetensors merged, lora_rank=0), which `runs.get(T, \"merged\", ...)` opens."})
    static final class LoraMergeCmd implements Callable<Integer> {
        @Option(names = "--timestamp", required = true, paramLabel = "T") String timestamp;
        @Option(names = "--checkpoint", paramLabel = "C", description = "checkpoint to merge (default: final)") String checkpoint = Checkpoint.FINAL;
        @Option(names = "--saved-models", paramLabel = "DIR") Path savedModels = Path.of("saved-models");

        @Override
        public Integer call() throws IOException {
            Path merged = merge(savedModels, timestamp, checkpoint);
            System.out.println("merged LoRA adapters into " + merged);
            return 0;
        }
    }

    /** Writes {run}/merged/ from a LoRA checkpoint; returns its path. */
    public static Path merge(Path savedModels, String timestamp, String checkpoint) throws IOException {
        try (LoadedRun run = new Runs(savedModels, Path.of("."), Device.cpu()).get(timestamp, checkpoint, false)) {
            if (!run.lm().hasLora())
                throw new ConfigError(run.run().dir() + ": lora_rank is 0 in this run; nothing to merge");
            run.lm().mergeLora();
            Path src = run.run().checkpoint(checkpoint);
            Path dst = run.run().dir().resolve("merged");
            Checkpoint.writeAtomically(dst, tmp -> {
                try (var files = Files.list(src)) {
                    for (Path f : (Iterable<Path>) files::iterator) {
                        String n = f.getFileName().toString();
                        if (n.equals(Checkpoint.MODEL_FILE) || n.equals(Checkpoint.OPTIMIZER_FILE) || n.equals("train_params.json")) continue;
                        if (Files.isRegularFile(f)) Files.copy(f, tmp.resolve(n));
                    }
                }
                var tp = Checkpoint.readJson(src.resolve("train_params.json"));
                tp.addProperty("lora_rank", 0);
                Checkpoint.writeString(tmp.resolve("train_params.json"), Checkpoint.toJson(tp));
                Checkpoint.writeTensors(tmp.resolve(Checkpoint.MODEL_FILE), run.lm().parameters());
            });
            return dst;
        }
    }

    @Command(name = "perplexity", mixinStandardHelpOptions = true, description = {"Sliding-window perplexity (the Hugging Face perplexity guide) of a model on a task's split:",
            "the split's samples joined with blank lines, tokenized, windows of --max-length tokens every --stride tokens."})
    static final class PerplexityCmd implements Callable<Integer> {
        @ArgGroup(exclusive = true, multiplicity = "1") ModelChoice model;
        @Option(names = "--task", paramLabel = "T", description = "task (default wikitext-2)") String task = "wikitext-2";
        @Option(names = "--split", paramLabel = "S", description = "test (default) | valid | train") String split = "test";
        @Option(names = "--stride", paramLabel = "N", description = "window step (default 512)") int stride = 512;
        @Option(names = "--max-length", paramLabel = "N", description = "window length (default: the model's max_seq_len)") Integer maxLength;
        @Option(names = "--max-tokens", paramLabel = "N", description = "only the first N tokens (default: all)") Integer maxTokens;
        @Option(names = "--dtype", paramLabel = "D") String dtype = "float32";
        @Option(names = "--saved-models", paramLabel = "DIR") Path savedModels = Path.of("saved-models");

        @Override
        public Integer call() {
            try (Loaded l = load(model, savedModels, dtype(dtype))) {
                if (l.tokenizer() == null) throw new ConfigError("perplexity: this checkpoint has no tokenizer files");
                var t = Tasks.load(DataParams.DEFAULTS.withDatasetName(task), Path.of("."));
                var samples = t.splits().named(split, "--split");
                if (samples.isEmpty()) throw new ConfigError("task " + task + ": the " + split + " split is empty");
                StringBuilder text = new StringBuilder();
                for (var s : samples) text.append(text.length() == 0 ? "" : "\n\n").append(s.text());
                int[] ids = l.tokenizer().encode(text.toString());
                if (maxTokens != null && maxTokens < ids.length) ids = java.util.Arrays.copyOf(ids, maxTokens);
                int len = maxLength == null ? l.lm().params().max_seq_len() : maxLength;
                if (stride < 1 || stride > len) throw new ConfigError("--stride=" + stride + ": expected 1.." + len);
                long t0 = System.nanoTime();
                var r = SlidingPerplexity.compute(l.lm(), ids, len, stride);
                System.out.printf("%s %s, max_length %d, stride %d: %s (%.1f s)%n", task, split, len, stride, r, (System.nanoTime() - t0) / 1e9);
            }
            return 0;
        }
    }
}
