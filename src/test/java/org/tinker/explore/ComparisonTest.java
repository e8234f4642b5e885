package org.tinker.explore;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tinker.runs.RunOrigin;
import org.tinker.runs.RunStore;
import org.tinker.runs.TrainStats;

/** How `runner compare` folds the seeds of an ablation grid (`runner --ablate` with random_seed = [0, 1]). */
class ComparisonTest {

    /** A finished-looking run of the ablation grid: its seed, its ablation (null = the baseline) and its val losses. */
    private static Comparison.RunResult run(int seed, String ablation, double... valLosses) {
        LinkedHashMap<String, String> varying = new LinkedHashMap<>();
        varying.put(Comparison.SEED, Integer.toString(seed));
        String name = "random_seed=" + seed + (ablation == null ? "" : "_ablation=" + ablation);
        RunOrigin origin = new RunOrigin("2026-12-04--02-42-53", "ablate", seed, 4, name, varying, ablation);
        StringBuilder json = new StringBuilder("{\"" + Comparison.VAL + "\": [");
        for (int i = 0; i < valLosses.length; i++) json.append(i == 0 ? "" : ",").append("[").append(i + 1).append(", 0, 0, ").append(valLosses[i]).append("]");
        TrainStats stats = TrainStats.fromJson(json.append("]}").toString());
        RunStore.Run r = new RunStore.Run("2026-12-04--02-4" + seed + "-0" + (ablation == null ? 0 : 1), "ablate", "tinyshakespeare", name,
                Path.of("saved-models/none/" + name));
        return new Comparison.RunResult(r, origin, new LinkedHashMap<>(varying), stats, 1000, 60);
    }

    @Test
    void theBaselineFoldsItsSeedsLikeEveryAblation() {
        Comparison.Table t = Comparison.table("ablate", List.of(
                run(0, null, 2.0, 1.60), run(0, "adamw", 2.1, 1.73),
                run(1, null, 2.0, 1.62), run(1, "adamw", 2.2, 1.75)));
        assertEquals(2, t.rows().size(), "one row per variant: " + t.rows().stream().map(Comparison.Row::label).toList());
        Comparison.Row base = t.rows().get(0), adamw = t.rows().get(1);
        assertEquals("baseline (2 seeds)", base.label());
        assertEquals("ablation=adamw (2 seeds)", adamw.label());
        assertEquals("0,1", base.params().get("seeds"));
        assertEquals("-", base.params().get("ablation"));
        assertEquals(1.61, base.metric("final_val_loss").mean(), 1e-12);
        assertEquals(Math.sqrt(2) * 0.01, base.metric("final_val_loss").spread(), 1e-12, "sample standard deviation of 1.60 and 1.62");
        assertEquals(1.74, adamw.metric("best_val_loss").mean(), 1e-12);
        assertEquals(0.13, adamw.metric("vs_best").mean(), 1e-12, "against the best row, the baseline");
    }
}
