package org.tinker.explore;

import static org.junit.jupiter.api.Assertions.*;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tinker.config.ConfigError;
import org.tinker.config.ModelParams.Architecture;
import org.tinker.model.ForwardOptions;
import org.tinker.model.LM;
import org.tinker.train.Experiment;
import org.tinker.train.TestRuns;

/**
 * The explorer and its commands on trained hierarchical and flexi runs (word-level PTB, a few seconds each):
 * attentions, logit lens, partial forward, sample without a cache, perplexity, logits.
 */
class BodyExploreTest {
    static final String HIERARCHICAL = """
            layer_architecture = "hierarchical"
            hierarchies = (1, 2)
            window_sizes = (8, None)
            hierarchy_dims = (32, 16)
            hierarchy_heads = (2, 1)
            """;
    static final String FLEXI = """
            layer_architecture = "flexi"
            model_dict = "{'l': 3, 'o': ['sa', 'c', 'sa'], 'h': [32, 32, 32], 'n': [2, 2, 2], 'f': [[64], [32], [64]], 'p': ['sdp', 5, 'wma']}"
            """;
    @TempDir static Path saved;
    @TempDir static Path out;

    /** An explorer of this test's runs that writes its pictures under out. */
    static Explore explore() {
        return new Explore(new Runs(saved, Path.of("."), Device.cpu()), out);
    }
    static Runs runs;
    static LoadedRun hier, flexi;

    static LoadedRun train(String model) {
        var spec = TestRuns.spec(TestRuns.set(TestRuns.PTB_TINY, "epochs", "1", "n_layers", "2") + model);
        Path ck = Experiment.run(spec, Experiment.Setup.quiet(Path.of("."), saved, true)).finalCheckpoint();
        return runs.get(ck.getParent().getFileName().toString());
    }

    @BeforeAll
    static void trainBoth() {
        runs = new Runs(saved, Path.of("."), Device.cpu());
        hier = train(HIERARCHICAL);
        flexi = train(FLEXI);
    }

    @AfterAll
    static void close() {
        hier.close();
        flexi.close();
    }

    @Test
    void attentionMapsOfEveryLayerThatHasThem() throws Exception {
        assertEquals(4, explore().showAttentions(hier, "the company said", null, null).size(), "2 layers × 2 token-level heads");
        List<Path> f = explore().showAttentions(flexi, "the company said", null, List.of(1));
        assertEquals(List.of("L0-H1.png", "L2-H1.png"), f.stream().map(p -> p.getFileName().toString()).toList(), "the 'sa' layers, by model layer");
        ConfigError e = assertThrows(ConfigError.class, () -> explore().showAttentions(flexi, "the", List.of(1), null));
        assertEquals("layer 1: the model has attention patterns at layers [0, 2]", e.getMessage());
    }

    @Test
    void logitLensEndsAtTheModelsOwnPrediction() {
        for (LoadedRun run : List.of(hier, flexi)) {
            Explorer ex = run.explorer();
            LogitLens.Result ranks = LogitLens.compute(ex, "the company said it would", 0, -1, LogitLens.Mode.RANKS, false, null, 1);
            LogitLens.Result kl = LogitLens.compute(ex, "the company said it would", 0, -1, LogitLens.Mode.KL, false, null, 1);
            int n = run.lm().params().layer_architecture() == Architecture.FLEXI ? 3 : 2;
            assertEquals(n + 1, ranks.rows().size(), ranks.rows().toString());
            for (int pos = 0; pos < ranks.tokens().size(); pos++) {
                assertEquals(1.0, ranks.values()[n][pos], "the last layer's top token is the model's");
                assertEquals(0.0, kl.values()[n][pos], 1e-5);
            }
            assertThrows(ConfigError.class, () -> LogitLens.compute(ex, "the", 0, -1, LogitLens.Mode.KL, true, null, 1), "no sub-blocks");
            try (var pf = ex.partialForward(List.of("h.1", "logits"), "the company");
                 var full = ex.forward("the company", ForwardOptions.DEFAULT.withEmbeddings(true))) {
                assertTrue(pf.get("h.1").sub(full.embeddings().get(":, 2")).abs().max().getFloat() < 1e-6);
                assertTrue(pf.get("logits").sub(full.logits()).abs().max().getFloat() < 1e-6);
            }
        }
        // a flexi model whose stream changes width (and whose 'sa' layers differ in heads) says so in one line
        String dict = "{'l': 2, 'o': ['sa', 'sa'], 'h': [32, 16], 'n': [2, 4], 'f': [[32], [16]], 'p': ['sdp', 'sdp']}";
        try (NDManager m = NDManager.newBaseManager(); LM lm = new LM(flexi.modelParams().with("model_dict", dict), flexi.tokenizer().vocabSize(), m, 1)) {
            Explorer ex = Explorer.of(lm, flexi.tokenizer());
            ConfigError e = assertThrows(ConfigError.class, () -> LogitLens.compute(ex, "the", 0, -1, LogitLens.Mode.KL, false, null, 1));
            assertTrue(e.getMessage().startsWith("logit lens: flexi: the residual stream changes width (h=[32, 16])"), e.getMessage());
            e = assertThrows(ConfigError.class, () -> explore().showAttentions(ex, "the", null, null, "x"));
            assertTrue(e.getMessage().contains("[2, 4] heads"), e.getMessage());
        }
    }

    @Test
    void commandsRunOnBodiesAndNeverClaimACache() throws Exception {
        String sm = "--saved-models=" + saved, od = "--out-dir=" + out;
        for (LoadedRun run : List.of(hier, flexi)) {
            String t = "--timestamp=" + run.run().timestamp(), arch = run.lm().params().layer_architecture().spelling();
            ExploreTest.Outcome s = ExploreTest.cli("sample", t, sm, "--prefix=the", "--temperature=0", "--max-len=12");
            assertEquals(0, s.code(), s.err());
            assertTrue(s.out().contains("no cache: layer_architecture=" + arch + " has none") && !s.out().contains("KV"), s.out());
            ExploreTest.Outcome a = ExploreTest.cli("attentions", t, sm, od, "--text=the company", "--layers=0");
            assertEquals(0, a.code(), a.err());
            assertTrue(a.out().startsWith("wrote 2 heatmaps"), a.out());
            ExploreTest.Outcome l = ExploreTest.cli("logit-lens", t, sm, od, "--text=the company said");
            assertEquals(0, l.code(), l.err());
            ExploreTest.Outcome p = ExploreTest.cli("perplexity", t, sm, "--split=valid");
            assertEquals(0, p.code(), p.err());
            Path logits = out.resolve(arch + ".safetensors");
            ExploreTest.Outcome g = ExploreTest.cli("logits", t, sm, "--ids=1,2,3", "--out=" + logits);
            assertEquals(0, g.code(), g.err());
            assertTrue(g.out().contains("and " + (arch.equals("flexi") ? 4 : 3) + " hidden states"), g.out());
            ExploreTest.Outcome bad = ExploreTest.cli("logit-lens", t, sm, od, "--text=the", "--subblocks");
            assertEquals(2, bad.code(), bad.err());
            assertEquals(1, bad.err().strip().lines().count(), bad.err());
            assertTrue(bad.err().startsWith("error: logit lens --subblocks: layer_architecture=" + arch), bad.err());
        }
        assertTrue(Files.isDirectory(out.resolve("attentions/ptb/" + hier.run().timestamp())));
    }
}
