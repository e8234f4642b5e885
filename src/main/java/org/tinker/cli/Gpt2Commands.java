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
import org.tinker.explore.LoadedRun;
import org.tinker.explore.Runs;
import org.tinker.model.LM;
import org.tinker.model.gpt2.Gpt2Pretrained;
import org.tinker.train.Checkpoint;
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
    record Loaded(LM lm, NDManager manager, org.tinker.data.Tokenizer tokenizer) implements AutoCloseable {
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

    static Loaded load(ModelChoice c, Path savedModels, DataType dtype) {
        NDManager manager = NDManager.newBaseManager(Device.cpu());
        try {
            if (c.pretrained != null) {
                Path dir = Gpt2Pretrained.resolve(c.pretrained);
                LM lm = Gpt2Pretrained.load(dir, manager, dtype, null);
                return new Loaded(lm, manager, Gpt2Pretrained.tokenizer(dir, lm.vocabSize()));
            }
            try (LoadedRun run = new Runs(savedModels, Path.of("."), Device.cpu()).get(c.timestamp, Checkpoint.FINAL, false)) {
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

    @Command(name = "logits", description = {"Write the logits [T,V] and hidden states of one sequence to a safetensors file:",
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
                NDList r = Gpt2Pretrained.logitsAndHidden(l.lm(), m.create(seq));
                LinkedHashMap<String, NDArray> t = new LinkedHashMap<>();
                t.put("input_ids", m.create(seq));
                t.put("logits", r.get(0));
                for (int i = 1; i < r.size(); i++) t.put("hidden_states." + (i - 1), r.get(i));
                org.tinker.model.gpt2.SafeTensors.write(out, t);
                System.out.printf("wrote %s: logits %s and %d hidden states (%s)%n", out, r.get(0).getShape(), r.size() - 1, dtype);
            }
            return 0;
        }
    }
}
