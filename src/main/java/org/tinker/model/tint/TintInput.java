package org.tinker.model.tint;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.tinker.config.ConfigError;
import org.tinker.model.gpt2.SafeTensors;

/**
 * A TinT case in the fixture input format (fixtures/tint/README.md): {@code input.json} with the input ids, the
 * train length, every TinT setting and {@code aux_model.config / weights} (HF GPT-2 files beside it).
 */
public record TintInput(AuxModel aux, long[] ids, int nTrain, TintConfig config) {

    public static TintInput read(Path inputJson, NDManager manager) {
        String where = inputJson.toString();
        if (!Files.isRegularFile(inputJson)) throw new ConfigError(where + ": no such file (expected a TinT input.json)");
        JsonObject o;
        try {
            o = JsonParser.parseString(Files.readString(inputJson)).getAsJsonObject();
        } catch (IOException | RuntimeException e) {
            throw new ConfigError(where + ": not a JSON object (" + e.getMessage() + ")");
        }
        Path dir = inputJson.toAbsolutePath().getParent();
        String cfgName = "config.json", wName = "model.safetensors";
        if (o.has("aux_model")) {
            JsonObject am = o.getAsJsonObject("aux_model");
            if (am.has("config")) cfgName = am.get("config").getAsString();
            if (am.has("weights")) wName = am.get("weights").getAsString();
            if (am.has("family") && !am.get("family").getAsString().equals("gpt2"))
                throw new ConfigError(where + ": aux_model.family=" + am.get("family").getAsString() + ": only gpt2 is supported");
        }
        TintConfig c = TintConfig.fromJson(o, where);
        if (!o.has("input_ids") || !o.get("input_ids").isJsonArray()) throw new ConfigError(where + ": input_ids: expected a list of token ids");
        JsonArray arr = o.getAsJsonArray("input_ids");
        long[] ids = new long[arr.size()];
        for (int i = 0; i < ids.length; i++) ids[i] = arr.get(i).getAsLong();
        if (!o.has("n_train")) throw new ConfigError(where + ": n_train: missing (the train part is positions [0, n_train))");
        int nTrain = o.get("n_train").getAsInt();
        if (nTrain < 2 || nTrain > ids.length) throw new ConfigError(where + ": n_train=" + nTrain + ": expected 2.." + ids.length);
        String norm = o.has("norm") ? o.get("norm").getAsString() : "layernorm";
        AuxModel aux = loadAux(dir.resolve(cfgName), dir.resolve(wName), manager, c.f32, norm);
        for (long id : ids) if (id < 0 || id >= aux.V) throw new ConfigError(where + ": input_ids: token " + id + " outside the vocabulary 0.." + (aux.V - 1));
        c.validate(aux, ids.length);
        return new TintInput(aux, ids, nTrain, c);
    }

    /** An HF GPT-2 config.json + safetensors pair as an aux model. */
    public static AuxModel loadAux(Path configJson, Path weights, NDManager manager, boolean f32, String norm) {
        JsonObject cfg;
        try {
            cfg = JsonParser.parseString(Files.readString(configJson)).getAsJsonObject();
        } catch (IOException | RuntimeException e) {
            throw new ConfigError(configJson + ": cannot read the aux model's config (" + e.getMessage() + ")");
        }
        if (!cfg.has("n_head")) throw new ConfigError(configJson + ": n_head: missing (expected an HF GPT-2 config)");
        int nHead = cfg.get("n_head").getAsInt();
        double eps = cfg.has("layer_norm_epsilon") ? cfg.get("layer_norm_epsilon").getAsDouble() : 1e-5;
        String act = cfg.has("activation_function") ? cfg.get("activation_function").getAsString() : "gelu_new";
        try (NDManager sub = manager.newSubManager()) {
            Map<String, NDArray> hf = SafeTensors.read(weights, sub);
            return AuxModel.fromHf(hf, nHead, eps, act, norm, f32, weights.toString());
        }
    }
}
