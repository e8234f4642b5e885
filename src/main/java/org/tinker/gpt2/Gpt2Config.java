package org.tinker.gpt2;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tinker.config.ConfigError;
import org.tinker.config.ModelParams.Architecture;
import org.tinker.config.ModelParams.Norm;
import org.tinker.config.ModelParams.PosEncoding;
import org.tinker.config.ModelParams;
import org.tinker.engine.ExpectedTensors;

/**
 * A Hugging Face {@code GPT2Config} ({@code config.json}) as tinker's {@link ModelParams}, and back.
 * GPT-2 is: learned positions, pre-norm blocks, a final {@code ln_f}, an output head tied to {@code wte},
 * and an MLP of width {@code n_inner} (null = 4·n_embd) with {@code activation_function}.
 * Fields that change the computation in ways tinker does not implement are refused with a clear error.
 *
 * @param mp        the architecture (tokenizer gpt2, torch-transformer blocks)
 * @param vocabSize rows of {@code wte}
 */
public record Gpt2Config(ModelParams mp, int vocabSize, int bosId, int eosId) {

    /** HF activation names tinker computes, → tinker's name. */
    private static final Map<String, String> ACTIVATIONS = Map.of("gelu_new", "gelu_new", "gelu_pytorch_tanh", "gelu_new",
            "gelu", "gelu", "relu", "relu");

    public static Gpt2Config read(Path file) {
        if (!Files.isRegularFile(file)) throw new ConfigError(file + ": no such file (expected a GPT-2 config.json)");
        JsonObject o;
        try {
            o = JsonParser.parseString(Files.readString(file)).getAsJsonObject();
        } catch (IOException | RuntimeException e) {
            throw new ConfigError(file + ": not a valid config.json (corrupt JSON)");
        }
        return parse(o, file.toString());
    }

    public static Gpt2Config parse(JsonObject o, String where) {
        String type = str(o, "model_type", "gpt2", where);
        if (!type.equals("gpt2")) throw new ConfigError(where + ": model_type '" + type + "' is not supported (expected gpt2)");
        int nLayer = integer(o, "n_layer", where), nHead = integer(o, "n_head", where), nEmbd = integer(o, "n_embd", where);
        int nPos = integer(o, "n_positions", where), vocab = integer(o, "vocab_size", where);
        if (nLayer <= 0 || nHead <= 0 || nEmbd <= 0 || nPos < 2 || vocab <= 0)
            throw new ConfigError(where + ": n_layer, n_head, n_embd, vocab_size must be positive and n_positions >= 2");
        if (nEmbd % nHead != 0) throw new ConfigError(where + ": n_embd=" + nEmbd + " is not a multiple of n_head=" + nHead);
        int ff = 4 * nEmbd;
        JsonElement inner = o.get("n_inner");
        if (inner != null && !inner.isJsonNull()) ff = integer(o, "n_inner", where);
        if (ff <= 0 || ff % nEmbd != 0)
            throw new ConfigError(where + ": n_inner=" + ff + " is not supported (tinker needs a positive multiple of n_embd=" + nEmbd + ")");
        String act = str(o, "activation_function", "gelu_new", where);
        if (!ACTIVATIONS.containsKey(act))
            throw new ConfigError(where + ": activation_function '" + act + "' is not supported (expected one of " + ACTIVATIONS.keySet() + ")");
        double eps = o.has("layer_norm_epsilon") ? number(o, "layer_norm_epsilon", where) : 1e-5;
        boolean tied = !o.has("tie_word_embeddings") || bool(o, "tie_word_embeddings", where);
        for (String f : List.of("scale_attn_by_inverse_layer_idx", "add_cross_attention"))
            if (o.has(f) && bool(o, f, where)) throw new ConfigError(where + ": " + f + "=true is not supported (expected false)");
        if (o.has("scale_attn_weights") && !bool(o, "scale_attn_weights", where))
            throw new ConfigError(where + ": scale_attn_weights=false is not supported (expected true)");
        ModelParams mp = ModelParams.DEFAULTS.with("n_layers", nLayer).with("n_heads", nHead).with("dim", nEmbd)
                .with("dim_ff_factor", ff / nEmbd).with("max_seq_len", nPos).with("tokenizer_source_name", "gpt2")
                .with("pos_encoding", "learned").with("tie_embed_deembed", tied).with("norm_first", true).with("final_norm", true)
                .with("activation", ACTIVATIONS.get(act)).with("layer_norm_eps", eps).with("norm", "layernorm");
        int bos = o.has("bos_token_id") && !o.get("bos_token_id").isJsonNull() ? integer(o, "bos_token_id", where) : vocab - 1;
        int eos = o.has("eos_token_id") && !o.get("eos_token_id").isJsonNull() ? integer(o, "eos_token_id", where) : vocab - 1;
        return new Gpt2Config(mp, vocab, bos, eos);
    }

    /** Whether a tinker architecture can be written as a GPT-2 checkpoint; null if so, else why not. */
    public static String whyNotGpt2(ModelParams mp) {
        if (!mp.norm_first()) return "norm_first=False (GPT-2 is pre-norm)";
        if (!mp.final_norm()) return "final_norm=False (GPT-2 has ln_f)";
        if (mp.pos_encoding() != PosEncoding.LEARNED) return "pos_encoding=" + mp.pos_encoding() + " (GPT-2 learns positions)";
        if (mp.individual_head_params()) return "individual_head_params=True (GPT-2 has one fused c_attn)";
        if (mp.norm() != Norm.LAYERNORM) return "norm=" + mp.norm() + " (GPT-2 uses LayerNorm)";
        if (mp.gated()) return "activation=" + mp.activation() + " (GPT-2's MLP is not gated)";
        if (mp.layer_architecture() != Architecture.TORCH_TRANSFORMER && mp.layer_architecture() != Architecture.CUSTOM_TRANSFORMER)
            return "layer_architecture=" + mp.layer_architecture() + " (GPT-2 is a plain transformer)";
        if (!mp.recipes().isBlank())
            return "recipes=\"" + mp.recipes() + "\" (hooks that change what the model computes; an HF GPT-2 would run without them)";
        return null;
    }

    /** The config.json of a tinker model of GPT-2 architecture (as transformers' GPT2Config writes it). */
    public static JsonObject toJson(ModelParams mp, int vocabSize, int bosId, int eosId) {
        String why = whyNotGpt2(mp);
        if (why != null) throw new ConfigError("cannot export as GPT-2: " + why);
        JsonObject o = new JsonObject();
        o.addProperty("activation_function", mp.activation().spelling());
        var arch = new com.google.gson.JsonArray();
        arch.add("GPT2LMHeadModel");
        o.add("architectures", arch);
        o.addProperty("attn_pdrop", 0.0);
        o.addProperty("bos_token_id", bosId);
        o.addProperty("embd_pdrop", 0.0);
        o.addProperty("eos_token_id", eosId);
        o.addProperty("initializer_range", 0.02);
        o.addProperty("layer_norm_epsilon", mp.layer_norm_eps());
        o.addProperty("model_type", "gpt2");
        o.addProperty("n_ctx", mp.max_seq_len());
        o.addProperty("n_embd", mp.dim());
        o.addProperty("n_head", mp.n_heads());
        o.addProperty("n_inner", mp.ffDim());
        o.addProperty("n_layer", mp.n_layers());
        o.addProperty("n_positions", mp.max_seq_len());
        o.addProperty("resid_pdrop", 0.0);
        o.addProperty("scale_attn_weights", true);
        o.addProperty("tie_word_embeddings", mp.tie_embed_deembed());
        o.addProperty("torch_dtype", "float32");
        o.addProperty("use_cache", true);
        o.addProperty("vocab_size", vocabSize);
        return o;
    }

    private static String str(JsonObject o, String k, String def, String where) {
        JsonElement e = o.get(k);
        if (e == null || e.isJsonNull()) return def;
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) throw new ConfigError(where + ": " + k + ": expected a string, got " + e);
        return e.getAsString();
    }

    private static int integer(JsonObject o, String k, String where) {
        JsonElement e = o.get(k);
        if (e == null || e.isJsonNull()) throw new ConfigError(where + ": missing " + k + " (expected an integer)");
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber() || e.getAsDouble() != Math.rint(e.getAsDouble()))
            throw new ConfigError(where + ": " + k + ": expected an integer, got " + e);
        return e.getAsInt();
    }

    private static double number(JsonObject o, String k, String where) {
        JsonElement e = o.get(k);
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) throw new ConfigError(where + ": " + k + ": expected a number, got " + e);
        return e.getAsDouble();
    }

    private static boolean bool(JsonObject o, String k, String where) {
        JsonElement e = o.get(k);
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isBoolean()) throw new ConfigError(where + ": " + k + ": expected true/false, got " + e);
        return e.getAsBoolean();
    }

    /** A GPT-2 checkpoint of this config: the GPT2LMHeadModel tensors, with the causal-mask buffers and lm_head. */
    public ExpectedTensors expectedTensors(String where) {
        long d = mp().dim(), ff = (long) mp().dim_ff_factor() * d, v = vocabSize(), pos = mp().max_seq_len();
        Map<String, long[]> s = new LinkedHashMap<>();
        s.put("wte.weight", new long[] {v, d});
        s.put("wpe.weight", new long[] {pos, d});
        for (int i = 0; i < mp().n_layers(); i++) {
            String h = "h." + i + ".";
            s.put(h + "ln_1.weight", new long[] {d});
            s.put(h + "ln_1.bias", new long[] {d});
            s.put(h + "attn.c_attn.weight", new long[] {d, 3 * d});
            s.put(h + "attn.c_attn.bias", new long[] {3 * d});
            s.put(h + "attn.c_proj.weight", new long[] {d, d});
            s.put(h + "attn.c_proj.bias", new long[] {d});
            s.put(h + "ln_2.weight", new long[] {d});
            s.put(h + "ln_2.bias", new long[] {d});
            s.put(h + "mlp.c_fc.weight", new long[] {d, ff});
            s.put(h + "mlp.c_fc.bias", new long[] {ff});
            s.put(h + "mlp.c_proj.weight", new long[] {ff, d});
            s.put(h + "mlp.c_proj.bias", new long[] {d});
            s.put(h + "attn.bias", new long[] {1, 1, pos, pos});
            s.put(h + "attn.masked_bias", new long[] {});
        }
        s.put("ln_f.weight", new long[] {d});
        s.put("ln_f.bias", new long[] {d});
        s.put("lm_head.weight", new long[] {v, d});
        return new ExpectedTensors(where, s);
    }
}
