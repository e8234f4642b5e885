package org.tinker.runs;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.tinker.config.PyLiteral;
import org.tinker.config.RunSpec;

/**
 * Where a saved run came from: the launch ({@code runner --config=NAME ...} started at one time, or one SLURM
 * submission) and its point in that grid. Kept as {@code origin.json} in the run folder, written when the folder is
 * created; {@code runner compare} and {@code runner report} pick a grid's runs by it. Runs saved before it existed
 * have none: {@link #read} gives null and they are picked by their config folder.
 *
 * @param launch the launch's id: the time it started, as a timestamp ({@code 2026-12-03--09-10-00})
 * @param config the config name given to {@code runner --config} (the run's own config may be a {@code NAME-*.txt})
 * @param point 1-based position in the grid
 * @param points number of points in the grid
 * @param runName {@link Namer#runName}, or null for a single run
 * @param varying the grid axes (full keys, {@code tp.lr}) and this point's values as the config shows them
 * @param ablation the ablation applied, or null
 */
public record RunOrigin(String launch, String config, int point, int points, String runName, LinkedHashMap<String, String> varying,
                        String ablation) {
    public static final String FILE = "origin.json";

    /** One launch: its id and the config name it was given. */
    public record Launch(String id, String config) {}

    public static RunOrigin of(RunSpec spec, Launch launch) {
        LinkedHashMap<String, String> v = new LinkedHashMap<>();
        spec.varying().forEach((k, val) -> v.put(k, PyLiteral.show(val)));
        return new RunOrigin(launch.id(), launch.config(), spec.index(), spec.total(), Namer.runName(spec), v, spec.ablation());
    }

    /** Writes {@code origin.json} into the run folder (never through a symbolic link). */
    public void write(Path runDir) throws IOException {
        JsonObject o = new JsonObject();
        o.addProperty("launch", launch);
        o.addProperty("config", config);
        o.addProperty("point", point);
        o.addProperty("points", points);
        if (runName != null) o.addProperty("run_name", runName);
        JsonObject v = new JsonObject();
        varying.forEach(v::addProperty);
        o.add("varying", v);
        if (ablation != null) o.addProperty("ablation", ablation);
        try (OutputStream os = RunStore.openRunFile(runDir.resolve(FILE), true)) {
            os.write((new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create().toJson(o) + "\n").getBytes(StandardCharsets.UTF_8));
        }
    }

    /** The run's origin, or null when it has no readable {@code origin.json} (a run saved before it existed). */
    public static RunOrigin read(Path runDir) {
        Path f = runDir.resolve(FILE);
        if (!Files.isRegularFile(f)) return null;
        try {
            JsonObject o = JsonParser.parseString(Files.readString(f)).getAsJsonObject();
            LinkedHashMap<String, String> v = new LinkedHashMap<>();
            if (o.has("varying") && o.get("varying").isJsonObject())
                for (Map.Entry<String, JsonElement> e : o.getAsJsonObject("varying").entrySet()) v.put(e.getKey(), e.getValue().getAsString());
            return new RunOrigin(o.get("launch").getAsString(), o.get("config").getAsString(), o.get("point").getAsInt(),
                    o.get("points").getAsInt(), o.has("run_name") ? o.get("run_name").getAsString() : null, v,
                    o.has("ablation") ? o.get("ablation").getAsString() : null);
        } catch (IOException | RuntimeException e) {
            return null; // hand-edited or cut short: the run is still listed, picked by its folder
        }
    }
}
