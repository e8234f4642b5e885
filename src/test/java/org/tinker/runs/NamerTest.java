package org.tinker.runs;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tinker.config.ConfigFile;
import org.tinker.config.Grid;
import org.tinker.config.RunSpec;

/** Grid points are named by what varies; the name is one plain folder name, whatever the values. */
class NamerTest {
    static List<RunSpec> grid(String text, boolean ablate) {
        return Grid.expand(List.of(ConfigFile.parse("g", text)), List.of(), null, ablate, 1000);
    }

    @Test
    void aGridPointIsNamedByItsValuesWithShortKeys() {
        List<RunSpec> g = grid("[TrainParams]\nlr = [0.001, 0.003]\n[ModelParams]\ndim = [32, 64]\n", false);
        assertEquals("lr=0.001_dim=32", Namer.runName(g.get(0)));
        assertEquals("lr=0.003_dim=64", Namer.runName(g.get(3)));
        assertEquals("g/copy/lr=0.001_dim=32/2026-12-03--10-00-00".replace("copy", g.get(0).dp().dataset_name()),
                Namer.saveFolderName(g.get(0), "2026-12-03--10-00-00"));
    }

    @Test
    void aSingleRunHasNoNameAndKeepsItsFolder() {
        RunSpec one = grid("[TrainParams]\nlr = 0.001\n", false).get(0);
        assertNull(Namer.runName(one));
        assertEquals("g/" + one.dp().dataset_name() + "/2026-12-03--10-00-00", Namer.saveFolderName(one, "2026-12-03--10-00-00"));
    }

    @Test
    void anAblationIsNamedByItsAblation() {
        List<RunSpec> g = grid("[TrainParams]\nlr = 0.001\n", true);
        assertNull(Namer.runName(g.get(0)), "the base run of a single config");
        for (RunSpec r : g.subList(1, g.size())) assertEquals("ablation-" + r.ablation(), Namer.runName(r));
        List<RunSpec> both = grid("[TrainParams]\nlr = [0.001, 0.003]\n", true);
        assertEquals("lr=0.001_ablation-" + both.get(1).ablation(), Namer.runName(both.get(1)));
    }

    @Test
    void oddValuesBecomeOnePlainFolderNameAndLongOnesStayApart() {
        List<RunSpec> g = grid("[ModelParams]\nrecipes = [\"scale_attention_scores(4.0)\", \"relu_after_layer(0); scale_attention_scores(2)\"]\n"
                + "from_os_pretrained = [\"../x y\", \"/abs/gpt2\"]\n", false);
        for (RunSpec r : g) {
            String n = Namer.runName(r);
            assertEquals(n, Namer.requirePlainName("run name", n));
            assertTrue(n.matches("[A-Za-z0-9._=+,-]+"), n);
        }
        assertEquals("from_os_pretrained=..-x-y_recipes=scale_attention_scores-4.0", Namer.runName(g.get(0)));
        assertEquals("from_os_pretrained=-abs-gpt2_recipes=relu_after_layer-0-scale_attention_scores-2", Namer.runName(g.get(3)));

        String longer = "[ModelParams]\nfrom_os_pretrained = [\"" + "a".repeat(100) + "1\", \"" + "a".repeat(100) + "2\"]\n";
        List<RunSpec> l = grid(longer, false);
        String a = Namer.runName(l.get(0)), b = Namer.runName(l.get(1));
        assertEquals(Namer.MAX_RUN_NAME, a.length());
        assertNotEquals(a, b, "cut names end in a hash of the whole");
        assertTrue(a.startsWith("from_os_pretrained=aaaa"), a);
    }
}
