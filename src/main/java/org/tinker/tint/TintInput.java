package org.tinker.tint;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.tinker.config.ConfigError;
import org.tinker.config.TintParams;
import org.tinker.engine.SafeTensors;
import org.tinker.engine.TorchPickle;
import org.tinker.gpt2.Gpt2Pretrained;

/**
 * A TinT case in the fixture input format (fixtures/tint/README.md): {@code input.json} with the input ids, the
 * train length, every TinT setting, optionally the original's {@code icl_mask} (or {@code icl_segments}) and
 * {@code position_ids} ({@link IclInput}), and {@code aux_model.config / weights}: HF GPT-2 or OPT files beside it.
 */
public record TintInput(AuxModel aux, long[] ids, int nTrain, TintParams config, IclInput icl) {

    public static TintInput read(Path inputJson, NDManager manager) {
        String where = inputJson.toString();
        if (!Files.isRegularFile(inputJson)) throw new ConfigError(where + ": no such file (expected a TinT input.json)");
        JsonObject o;
        String text;
        try {
            text = Files.readString(inputJson);
            o = JsonParser.parseString(text).getAsJsonObject();
        } catch (IOException | RuntimeException e) {
            throw new ConfigError(where + ": not a JSON object (" + e.getMessage() + ")");
        }
        Path dir = inputJson.toAbsolutePath().getParent();
        String cfgName = "config.json", wName = null, family = null;
        if (o.has("aux_model")) {
            JsonObject am = o.getAsJsonObject("aux_model");
            if (am.has("config")) cfgName = am.get("config").getAsString();
            if (am.has("weights")) wName = am.get("weights").getAsString();
            if (am.has("family")) family = am.get("family").getAsString();
        }
        TintParams c = TintSettings.fromJson(text, where);
        if (!o.has("input_ids") || !o.get("input_ids").isJsonArray()) throw new ConfigError(where + ": input_ids: expected a list of token ids");
        JsonArray arr = o.getAsJsonArray("input_ids");
        long[] ids = new long[arr.size()];
        for (int i = 0; i < ids.length; i++) ids[i] = arr.get(i).getAsLong();
        if (!o.has("n_train")) throw new ConfigError(where + ": n_train: missing (the train part is positions [0, n_train))");
        int nTrain = o.get("n_train").getAsInt();
        if (nTrain < 2 || nTrain > ids.length) throw new ConfigError(where + ": n_train=" + nTrain + ": expected 2.." + ids.length);
        String norm = o.has("norm") ? o.get("norm").getAsString() : "layernorm";
        Path weights = wName != null ? dir.resolve(wName) : weightsIn(dir);
        AuxModel aux = loadAux(dir.resolve(cfgName), weights, manager, c.f32(), norm, family, where);
        for (long id : ids) if (id < 0 || id >= aux.V) throw new ConfigError(where + ": input_ids: token " + id + " outside the vocabulary 0.." + (aux.V - 1));
        TintSettings.validate(c, aux, ids.length);
        IclInput icl = IclInput.fromJson(o, where);
        try {
            icl.check(ids.length, aux.T);
        } catch (ConfigError e) {
            throw new ConfigError(where + ": " + e.getMessage());
        }
        return new TintInput(aux, ids, nTrain, c, icl);
    }

    /** model.safetensors, else pytorch_model.bin, in a checkpoint folder (model.safetensors when neither exists, for the error). */
    static Path weightsIn(Path dir) {
        Path st = dir.resolve(Gpt2Pretrained.SAFETENSORS), bin = dir.resolve(Gpt2Pretrained.PICKLE);
        return !Files.isRegularFile(st) && Files.isRegularFile(bin) ? bin : st;
    }

    /** An HF checkpoint folder (config.json + model.safetensors or pytorch_model.bin) of a GPT-2 or OPT as an aux model. */
    public static AuxModel loadAux(Path dir, NDManager manager, boolean f32, String norm) {
        return loadAux(dir.resolve(Gpt2Pretrained.CONFIG), weightsIn(dir), manager, f32, norm, null, dir.toString());
    }

    /** An HF GPT-2 or OPT config.json + weights (safetensors, or a torch .bin) as an aux model. */
    public static AuxModel loadAux(Path configJson, Path weights, NDManager manager, boolean f32, String norm) {
        return loadAux(configJson, weights, manager, f32, norm, null, configJson.toString());
    }

    /**
     * {@code family}: the input's aux_model.family, or null to take config.json's model_type (GPT-2 when it has none,
     * as the fixtures' older configs).
     */
    static AuxModel loadAux(Path configJson, Path weights, NDManager manager, boolean f32, String norm, String family, String where) {
        JsonObject cfg = readConfig(configJson);
        String type = cfg.has("model_type") ? cfg.get("model_type").getAsString() : null;
        if (family != null && type != null && !family.equals(type))
            throw new ConfigError(where + ": aux_model.family=" + family + " but " + configJson + " has model_type=" + type);
        AuxModel.Family fam = AuxModel.Family.of(family != null ? family : type != null ? type : "gpt2", family != null ? where + ": aux_model.family" : configJson.toString());
        int nHead;
        double eps;
        String act;
        if (fam == AuxModel.Family.OPT) {
            checkOpt(cfg, configJson);
            nHead = integer(cfg, "num_attention_heads", configJson);
            eps = 1e-5; // HF OPT's LayerNorms are nn.LayerNorm with the default ε (no config key)
            act = cfg.has("activation_function") ? cfg.get("activation_function").getAsString() : "relu";
        } else {
            nHead = integer(cfg, "n_head", configJson);
            eps = cfg.has("layer_norm_epsilon") ? cfg.get("layer_norm_epsilon").getAsDouble() : 1e-5;
            act = cfg.has("activation_function") ? cfg.get("activation_function").getAsString() : "gelu_new";
        }
        if (!Files.isRegularFile(weights)) throw new ConfigError(weights + ": no such file (expected the aux model's weights, model.safetensors or pytorch_model.bin)");
        try (NDManager sub = manager.newSubManager()) {
            Map<String, NDArray> hf = weights.toString().endsWith(".bin") ? TorchPickle.read(weights, sub) : SafeTensors.read(weights, sub);
            return AuxModel.fromHf(hf, fam, nHead, eps, act, norm, f32, weights.toString());
        }
    }

    /**
     * The OPT variants the construction does not simulate, refused by the config key that selects them: post-LN blocks
     * (opt-350m), an embedding projection (word_embed_proj_dim ≠ hidden_size), no final norm, no biases, no LayerNorm
     * affine, an untied head.
     */
    static void checkOpt(JsonObject cfg, Path file) {
        if (cfg.has("do_layer_norm_before") && !cfg.get("do_layer_norm_before").getAsBoolean())
            throw new ConfigError(file + ": do_layer_norm_before=false (post-LN OPT such as opt-350m) is not supported; TinT simulates pre-LN blocks (expected true)");
        int hidden = integer(cfg, "hidden_size", file);
        JsonElement proj = cfg.get("word_embed_proj_dim");
        if (proj != null && !proj.isJsonNull() && proj.getAsInt() != hidden)
            throw new ConfigError(file + ": word_embed_proj_dim=" + proj.getAsInt() + " differs from hidden_size=" + hidden + " (project_in/out) and is not supported (expected equal)");
        if (cfg.has("_remove_final_layer_norm") && cfg.get("_remove_final_layer_norm").getAsBoolean())
            throw new ConfigError(file + ": _remove_final_layer_norm=true is not supported (TinT needs the final layer norm; expected false)");
        if (cfg.has("enable_bias") && !cfg.get("enable_bias").getAsBoolean())
            throw new ConfigError(file + ": enable_bias=false is not supported (expected true: the construction stores every bias)");
        if (cfg.has("layer_norm_elementwise_affine") && !cfg.get("layer_norm_elementwise_affine").getAsBoolean())
            throw new ConfigError(file + ": layer_norm_elementwise_affine=false is not supported (expected true)");
        if (cfg.has("tie_word_embeddings") && !cfg.get("tie_word_embeddings").getAsBoolean())
            throw new ConfigError(file + ": tie_word_embeddings=false is not supported (TinT's loss gradient uses the head tied to embed_tokens; expected true)");
    }

    public static JsonObject readConfig(Path configJson) {
        try {
            return JsonParser.parseString(Files.readString(configJson)).getAsJsonObject();
        } catch (IOException | RuntimeException e) {
            throw new ConfigError(configJson + ": cannot read the aux model's config (" + e.getMessage() + ")");
        }
    }

    /** Whether a checkpoint folder's config.json declares an OPT model. */
    public static boolean isOpt(Path dir) {
        JsonObject cfg = readConfig(dir.resolve(Gpt2Pretrained.CONFIG));
        return cfg.has("model_type") && cfg.get("model_type").getAsString().equals(AuxModel.Family.OPT.modelType);
    }

    static int integer(JsonObject cfg, String key, Path file) {
        if (!cfg.has(key)) throw new ConfigError(file + ": " + key + ": missing (expected an integer)");
        try {
            return cfg.get(key).getAsInt();
        } catch (RuntimeException e) {
            throw new ConfigError(file + ": " + key + ": expected an integer");
        }
    }
}
