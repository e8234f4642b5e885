package org.tinker.gpt2;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import org.tinker.config.ConfigError;
import org.tinker.data.Gpt2Tokenizer;
import org.tinker.data.Tokenizer;
import org.tinker.data.Tokenizers;
import org.tinker.engine.SafeTensors;
import org.tinker.model.LM;

/**
 * Writes a tinker LM of GPT-2 architecture as a Hugging Face GPT-2 checkpoint folder that
 * {@code GPT2LMHeadModel.from_pretrained(dir)} can load: {@code config.json}, {@code model.safetensors} (float32,
 * HF key names, the four projections back in Conv1D layout {@code [in, out]}, no {@code lm_head.weight} when tied,
 * metadata {@code format=pt}) and, for the full GPT-2 tokenizer, {@code vocab.json}, {@code merges.txt},
 * {@code tokenizer_config.json}, {@code special_tokens_map.json}.
 */
public final class Gpt2Export {
    private Gpt2Export() {}

    /** What was written. */
    public record Result(Path dir, int tensors, boolean tokenizerFiles, String note) {}

    public static Result export(LM lm, Tokenizer tok, Path dir) {
        if (lm.hasLora()) throw new ConfigError("export: the model has LoRA adapters; merge them first (runner lora-merge)");
        boolean fullGpt2 = tok instanceof Gpt2Tokenizer g && !g.isCropped();
        int eos = fullGpt2 ? Gpt2Tokenizer.END_OF_TEXT : lm.vocabSize() - 1;
        JsonObject cfg = Gpt2Config.toJson(lm.params(), lm.vocabSize(), eos, eos);
        try (NDManager tmp = lm.manager().newSubManager()) {
            LinkedHashMap<String, NDArray> out = new LinkedHashMap<>();
            for (Map.Entry<String, NDArray> e : lm.parameters().entrySet()) {
                String k = e.getKey();
                NDArray a = e.getValue().stopGradient();
                a.attach(tmp);
                String rest = k.startsWith("transformer.h.") ? k.substring(k.indexOf('.', "transformer.h.".length()) + 1) : "";
                if (Gpt2Pretrained.CONV1D.contains(rest)) {
                    a = a.transpose(1, 0).toType(DataType.FLOAT32, true);
                    a.attach(tmp);
                }
                NDArray f = a.toType(DataType.FLOAT32, true);
                f.attach(tmp);
                out.put(k, f);
            }
            Files.createDirectories(dir);
            Files.writeString(dir.resolve(Gpt2Pretrained.CONFIG), new GsonBuilder().setPrettyPrinting().create().toJson(cfg) + "\n");
            SafeTensors.write(dir.resolve(Gpt2Pretrained.SAFETENSORS), out);
            String note = "";
            if (fullGpt2) {
                copyGz("/tokenizers/gpt2/encoder.json.gz", dir.resolve("vocab.json"));
                copyGz("/tokenizers/gpt2/vocab.bpe.gz", dir.resolve("merges.txt"));
                Files.writeString(dir.resolve("special_tokens_map.json"),
                        "{\"bos_token\": \"<|endoftext|>\", \"eos_token\": \"<|endoftext|>\", \"unk_token\": \"<|endoftext|>\"}\n");
                Files.writeString(dir.resolve("tokenizer_config.json"), "{\"tokenizer_class\": \"GPT2Tokenizer\", \"model_max_length\": "
                        + lm.params().max_seq_len() + ", \"add_prefix_space\": false, \"bos_token\": \"<|endoftext|>\", "
                        + "\"eos_token\": \"<|endoftext|>\", \"unk_token\": \"<|endoftext|>\"}\n");
            } else if (tok == null) {
                note = "no tokenizer files: the model has no tokenizer";
            } else {
                note = "no tokenizer files: the model's tokenizer (" + tok.kind() + (tok instanceof Gpt2Tokenizer ? ", cropped" : "")
                        + ") is not GPT-2's full vocabulary; tinker's tokenizer.json is written instead";
                Tokenizers.save(tok, dir.resolve("tinker_tokenizer.json"));
            }
            return new Result(dir, out.size(), fullGpt2, note);
        } catch (IOException e) {
            throw new ConfigError(dir + ": cannot write the export (" + e.getMessage() + ")");
        }
    }

    private static void copyGz(String resource, Path to) throws IOException {
        try (InputStream in = Gpt2Export.class.getResourceAsStream(resource)) {
            if (in == null) throw new IllegalStateException("resource " + resource + " missing from the class path");
            try (InputStream gz = new GZIPInputStream(in)) {
                Files.copy(gz, to, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }
}
