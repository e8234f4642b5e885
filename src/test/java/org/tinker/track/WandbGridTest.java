package org.tinker.track;

import static org.junit.jupiter.api.Assertions.*;

import com.google.gson.JsonObject;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tinker.config.ConfigFile;
import org.tinker.config.Grid;
import org.tinker.config.RunSpec;
import org.tinker.runs.Namer;
import org.tinker.runs.StatsListener;

/** The runs of one grid launch: one W&B group, names from Namer.runName, task/architecture tags, ablations marked. */
class WandbGridTest {
    static final String GRID = """
            [DataParams]
            dataset_name = "copy"
            [TrainParams]
            lr = [0.001, 0.003]
            [ModelParams]
            dim = 16
            layer_architecture = "custom-transformer"
            """;

    @Test
    void everyRunOfALaunchSharesAGroupAndIsNamedAndTagged(@TempDir Path dir) throws Exception {
        List<RunSpec> specs = Grid.expand(List.of(ConfigFile.parse("mygrid", GRID)), List.of(), null, true);
        assertTrue(specs.size() > 2, "grid points and their ablations: " + specs.size());
        try (WandbFake fake = new WandbFake()) {
            WandbListener l = new WandbListener(fake.settings(dir, WandbSettings.Mode.ONLINE), null, WandbProtocolTest.out());
            for (RunSpec spec : specs) { // the listener serves a launch's runs one after the other
                l.onStart(new StatsListener.RunStart(spec, dir.resolve("r" + spec.index()), false, -1, null));
                l.onStat("loss", 1.0, new StatsListener.Counters(0, 0, 0));
                l.onEnd(null);
            }
            assertEquals(specs.size(), fake.upserts.size());
            Set<String> groups = new HashSet<>();
            for (RunSpec spec : specs) {
                String id = fake.upserts.entrySet().stream().filter(e -> e.getValue().get("config").getAsString()
                        .contains("\"mp.dim\":{\"value\":" + spec.mp().dim() + "}") && e.getValue().get("config").getAsString()
                        .contains("\"tp.lr\":{\"value\":" + spec.tp().lr() + "}")).map(Map.Entry::getKey).filter(k -> matches(fake.upserts.get(k), spec))
                        .findFirst().orElseThrow();
                JsonObject v = fake.upserts.get(id);
                groups.add(v.get("groupName").getAsString());
                assertTrue(v.get("groupName").getAsString().matches("mygrid-\\d{8}_\\d{6}"), v.get("groupName").toString());
                String name = Namer.runName(spec);
                if (name == null) assertTrue(v.get("displayName").isJsonNull());
                else assertEquals(name, v.get("displayName").getAsString());
                assertEquals("train", v.get("jobType").getAsString());
                List<String> tags = v.getAsJsonArray("tags").asList().stream().map(e -> e.getAsString()).toList();
                assertTrue(tags.containsAll(List.of("copy", "custom-transformer")), tags.toString());
                if (spec.ablation() != null) assertTrue(tags.containsAll(List.of("ablation", "ablation:" + spec.ablation())), tags.toString());
                else assertFalse(tags.contains("ablation"), tags.toString());
                assertEquals(0, fake.exitcodes.get(id));
                assertEquals(1, fake.rows(id).size());
            }
            assertEquals(1, groups.size(), "one group per launch");
        }
    }

    @Test
    void theTasksOfOneSlurmSubmissionShareTheirLaunchsGroup(@TempDir Path dir) throws Exception {
        List<RunSpec> specs = Grid.expand(List.of(ConfigFile.parse("mygrid", GRID)), List.of(), null, false);
        try (WandbFake fake = new WandbFake()) {
            for (RunSpec spec : specs.subList(0, 2)) { // each task is its own process, so its own listener
                WandbListener l = new WandbListener(fake.settings(dir.resolve("t" + spec.index()), WandbSettings.Mode.ONLINE), null,
                        WandbProtocolTest.out()).withLaunch("2026-12-03--10-00-00");
                l.onStart(new StatsListener.RunStart(spec, dir.resolve("r" + spec.index()), false, -1, null));
                l.onEnd(null);
            }
            assertEquals(Set.of("mygrid-2026-12-03--10-00-00"),
                    new HashSet<>(fake.upserts.values().stream().map(v -> v.get("groupName").getAsString()).toList()));
        }
    }

    private static boolean matches(JsonObject v, RunSpec spec) {
        String tags = v.get("tags").toString();
        return spec.ablation() == null ? !tags.contains("ablation:") : tags.contains("ablation:" + spec.ablation() + "\"");
    }
}
