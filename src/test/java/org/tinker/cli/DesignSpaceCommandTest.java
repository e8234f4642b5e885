package org.tinker.cli;

import static org.junit.jupiter.api.Assertions.*;

import ai.djl.ndarray.NDManager;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tinker.config.ConfigFile;
import org.tinker.config.Grid;
import org.tinker.config.RunSpec;
import org.tinker.model.LM;
import org.tinker.model.flexi.DesignSpace;
import org.tinker.model.flexi.FlexiSpec;
import org.tinker.train.TestRuns;

/** A design-space YAML expands into a config whose model_dict grid holds every model of the space. */
class DesignSpaceCommandTest {
    static final String SPACE = """
            datasets: [CoLA, SST-2]
            architecture:
              encoder_layers: [2]
              hidden_size: [16]
              num_heads: [2]
              operation_types: [sa, l, c]
              operation_parameters:
                sa: [sdp]
                l: [dct]
                c: [5]
              number_of_feed-forward_stacks: [1, 2]
              feed-forward_hidden: [16]
            """;

    @Test
    void expandsIntoAGridOfValidModelDicts(@TempDir Path dir) throws Exception {
        Path yaml = dir.resolve("space.yaml"), base = dir.resolve("base.txt"), out = dir.resolve("space.txt");
        Files.writeString(yaml, SPACE);
        Files.writeString(base, TestRuns.PTB_TINY);
        assertEquals(0, Main.run("design-space", "--file", yaml.toString(), "--base", base.toString(), "--out", out.toString()));
        List<RunSpec> runs = Grid.expand(List.of(ConfigFile.parse(out.toString(), Files.readString(out))), List.of(), null, false);
        assertEquals(6, runs.size(), "1 width x 1 head count x 3 operations x 2 FF stacks, one stack of 2 layers");
        var seen = new HashSet<String>();
        try (NDManager m = NDManager.newBaseManager()) {
            for (RunSpec r : runs) {
                assertEquals("flexi", r.mp().layer_architecture().spelling());
                assertEquals("ptb", r.dp().dataset_name(), "the base config's other sections are kept");
                FlexiSpec f = FlexiSpec.of(r.mp());
                assertEquals(2, f.layers());
                assertEquals(f.ops().get(0), f.ops().get(1), "layers of one stack are identical");
                assertTrue(seen.add(r.mp().model_dict().text()));
                try (LM lm = new LM(r.mp(), 11, m, 0)) {
                    assertTrue(lm.numParameters() > 0);
                }
            }
        }
        assertTrue(seen.contains("{'l': 2, 'o': ['c', 'c'], 'h': [16, 16], 'n': [2, 2], 'f': [[16, 16], [16, 16]], 'p': [5, 5]}"), seen.toString());
    }

    @Test
    void samplesLargeSpacesAndReportsMistakes(@TempDir Path dir) throws Exception {
        DesignSpace big = DesignSpace.parse(SPACE.replace("encoder_layers: [2]", "encoder_layers: [2, 4, 6]")
                .replace("hidden_size: [16]", "hidden_size: [16, 32]"), "space.yaml");
        assertEquals(12 + 144 + 1728, big.size(2));
        List<String> a = big.modelDicts(2, 7, 3), b = big.modelDicts(2, 7, 3);
        assertEquals(a, b, "seeded");
        assertEquals(7, new HashSet<>(a).size(), "without replacement");
        Path yaml = dir.resolve("bad.yaml");
        Files.writeString(yaml, SPACE.replace("    c: [5]\n", ""));
        assertEquals(2, Main.run("design-space", "--file", yaml.toString(), "--out", dir.resolve("x.txt").toString()));
    }
}
