package org.tinker.explore;

import static org.junit.jupiter.api.Assertions.*;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tinker.cli.Main;
import org.tinker.config.ConfigError;
import org.tinker.data.DataModule;
import org.tinker.model.Evaluation;
import org.tinker.model.ForwardOptions;
import org.tinker.model.Generation;
import org.tinker.model.LM;
import org.tinker.train.Experiment;
import org.tinker.train.TestRuns;
import org.tinker.train.Trainer;

/** The explorer on a real small run: word-level PTB, trained for a few seconds with intermediate checkpoints. */
class ExploreTest {
    static final Path ROOT = Path.of(".");
    @TempDir static Path saved;
    @TempDir static Path out;
    static String ts;
    static Runs runs;
    static LoadedRun run;
    static Explore explore; // pictures go under out

    @BeforeAll
    static void train() {
        var spec = TestRuns.spec(TestRuns.set(TestRuns.PTB_TINY,
                "epochs", "2", "checkpoint_every", "800", "n_layers", "2"));
        Trainer.Result r = Experiment.run(spec, Experiment.Setup.quiet(ROOT, saved, true));
        ts = r.finalCheckpoint().getParent().getFileName().toString();
        runs = new Runs(saved, ROOT, Device.cpu());
        run = runs.get(ts);
        explore = new Explore(runs, out);
    }

    @AfterAll
    static void close() {
        run.close();
    }

    static BufferedImage png(Path p) throws Exception {
        assertTrue(Files.isRegularFile(p), p + " written");
        return ImageIO.read(p.toFile());
    }

    @Test
    void checkpointsAreListedAndEachLoads() {
        List<String> cks = runs.checkpoints(ts);
        assertTrue(cks.size() >= 3, cks.toString());
        assertEquals("final", cks.get(cks.size() - 1));
        try (LoadedRun first = runs.get(ts, cks.get(0), false)) {
            assertNotEquals(run.lm().parameters().get(LM.WTE).toFloatArray()[0], first.lm().parameters().get(LM.WTE).toFloatArray()[0]);
        }
        assertThrows(ConfigError.class, () -> runs.get(ts, "12", false));
    }

    @Test
    void forwardOnStringIdsAndTensorsAgrees() {
        Explorer ex = run.explorer();
        try (var a = ex.forward("the company said");
             var b = ex.forward(ex.encode("the company said"), ForwardOptions.DEFAULT);
             NDManager m = NDManager.newBaseManager();
             var c = ex.forward(m.create(Arrays.stream(ex.encode("the company said")).asLongStream().toArray()), ForwardOptions.DEFAULT);
             var d = ex.forward(List.of("the company said", "it"), ForwardOptions.DEFAULT.withAttns(true).withEmbeddings(true))) {
            assertArrayEquals(a.logits().toFloatArray(), b.logits().toFloatArray());
            assertArrayEquals(a.logits().toFloatArray(), c.logits().toFloatArray());
            assertEquals(new Shape(2, 4, ex.lm().vocabSize()), d.logits().getShape());
            assertEquals(new Shape(2, 2, 2, 4, 4), d.attns().getShape());
            assertEquals(new Shape(2, 3, 4, 32), d.embeddings().getShape());
            assertArrayEquals(new float[] {1, 1, 0, 0}, d.mask()[1]);
            assertTrue(a.logits().get(0).sub(d.logits().get(0)).abs().max().getFloat() < 1e-5);
        }
    }

    @Test
    void cachedAndUncachedGreedyTextAgreeOnTheTrainedRun() {
        Explorer ex = run.explorer();
        var s = Explorer.Sampling.defaults().maxLen(32).temperature(0);
        Explorer.Generated a = ex.generate("the", s), b = ex.generate("the", s.cache(false));
        assertEquals(b.text(), a.text());
        assertEquals(ex.sample("the", 32, 0, null, null), a.text());
        assertArrayEquals(ex.generate("the", s.beams(1)).ids(), a.ids());
        ConfigError e = assertThrows(ConfigError.class, () -> ex.sample("the", 10, 1, 3, 0.9));
        assertTrue(e.getMessage().contains("mutually exclusive"));
    }

    @Test
    void perplexityIsTokenWeightedAndUniformModelGivesVocabularySize() {
        Explorer ex = run.explorer();
        double valLoss = Evaluation.evaluate(run.lm(), run.data(), DataModule.Split.VALID, 8)[0];
        Explorer.Perplexities p = ex.perplexities(run.data(), DataModule.Split.VALID, 5, true, true);
        assertEquals(valLoss, p.mean(), 1e-4, "token-weighted, whatever the batch size");
        assertEquals(p.mean(), ex.perplexities(run.data(), DataModule.Split.VALID, 16, true, false).mean(), 1e-5);
        assertEquals(run.data().size(DataModule.Split.VALID), p.perToken().length);
        assertTrue(Arrays.stream(p.perToken()).flatMapToDouble(Arrays::stream).anyMatch(v -> v == -1), "dummy at pads");
        assertEquals(Math.exp(valLoss), ex.perplexities(run.data(), DataModule.Split.VALID, 8, false, false).mean(), 1e-2);

        // a model whose output is uniform: zero head → every logit 0 → perplexity = V exactly
        try (NDManager m = NDManager.newBaseManager(); LM uniform = new LM(run.modelParams(), run.tokenizer().vocabSize(), m, 1)) {
            uniform.parameters().get(LM.LM_HEAD).muli(0);
            Explorer.Perplexities u = Explorer.of(uniform, run.tokenizer()).perplexities(List.of("the company said", "it rose"), 2, false, true);
            assertEquals(run.tokenizer().vocabSize(), u.mean(), 1e-2);
            assertEquals(u.max(), u.min(), 1e-2);
            assertEquals(4 + 3, u.totalTokens(), "targets: text tokens + eos");
        }
    }

    @Test
    void logitLensAtTheLastLayerEqualsTheModelsLogitsAndPlots() throws Exception {
        Explorer ex = run.explorer();
        String text = "the company said it would";
        LogitLens.Result probs = LogitLens.compute(ex, text, 0, -1, LogitLens.Mode.PROBS, true, null, 1);
        assertEquals(List.of("input", "h.0.attn", "h.0", "h.1.attn", "h.1"), probs.rows());
        LogitLens.Result ranks = LogitLens.compute(ex, text, 0, -1, LogitLens.Mode.RANKS, false, null, 1);
        LogitLens.Result kl = LogitLens.compute(ex, text, 0, -1, LogitLens.Mode.KL, false, null, 1);
        LogitLens.Result logits = LogitLens.compute(ex, text, 0, -1, LogitLens.Mode.LOGITS, false, null, 1);
        int last = ranks.rows().size() - 1;
        try (var o = ex.forward(text)) {
            float[] l = o.logits().toFloatArray();
            int v = ex.lm().vocabSize();
            for (int pos = 0; pos < ranks.tokens().size(); pos++) {
                assertEquals(1.0, ranks.values()[last][pos], "the last layer's top token is the model's");
                assertEquals(0.0, kl.values()[last][pos], 1e-5);
                float[] row = Arrays.copyOfRange(l, pos * v, (pos + 1) * v);
                assertEquals(row[Generation.argmax(row)], logits.values()[last][pos], 1e-4);
                assertEquals(ex.tokenizer().tokenLabel(Generation.argmax(row)), logits.top()[last][pos]);
            }
        }
        Path p = explore.plotLogitLens(ex, text, 0, -1, "probs", true, null, 1);
        BufferedImage img = png(p);
        assertTrue(img.getWidth() > 6 * Plots.MIN_CELL && img.getHeight() > 5 * Plots.MIN_CELL, img.getWidth() + "x" + img.getHeight());
        // a decoder that includes the last block: its row for the last block is then that block applied twice
        assertEquals(4, LogitLens.compute(ex, text, 1, 5, LogitLens.Mode.PROBS, false, List.of("h.1", "ln_f", "lm_head"), 1).tokens().size());
        assertThrows(ConfigError.class, () -> LogitLens.mode("prob"));
    }

    @Test
    void partialForwardStopsEarlyAndMatches() {
        Explorer ex = run.explorer();
        try (var a = ex.partialForward(List.of("blocks.0.resid_post", "blocks.0.attn.out"), "the company");
             var full = ex.forward("the company", ForwardOptions.DEFAULT.withEmbeddings(true))) {
            assertEquals(1, a.blocksRun(), "block 1 never ran");
            NDArray want = full.embeddings().get(":, 1");
            assertTrue(a.get("blocks.0.resid_post").sub(want).abs().max().getFloat() < 1e-5);
        }
        assertThrows(ConfigError.class, () -> ex.partialForward(List.of("blocks.9.resid_post"), "the"));
    }

    @Test
    void attentionAndMetricPicturesAreWritten() throws Exception {
        List<Path> files = explore.showAttentions(run, "the company said", null, null);
        assertEquals(4, files.size());
        assertEquals(out.resolve("attentions/ptb/" + ts + "/heads-at-chkpt/final/L1-H0.png"), files.get(2));
        BufferedImage img = png(files.get(0));
        assertTrue(img.getWidth() >= 4 * Plots.MIN_CELL + Plots.BAR_W && img.getHeight() >= 160, img.getWidth() + "x" + img.getHeight());
        List<Path> progress = explore.showHeadProgress(ts, "the company said", 0, 1);
        assertEquals(runs.checkpoints(ts).size(), progress.size());
        Path m = explore.plotMetrics(List.of(ts), List.of("stat/val_loss:main", "stat/train_loss:main"), null, "losses");
        assertEquals(out.resolve("metrics/losses.png"), m);
        BufferedImage chart = png(m);
        assertEquals(900, chart.getWidth());
        assertEquals(560, chart.getHeight());
        assertThrows(ConfigError.class, () -> explore.plotMetrics(List.of(ts), List.of("stat/nope"), null, null));
    }

    record Outcome(int code, String out, String err) {}

    static synchronized Outcome cli(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream(), e = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            int code = Main.run(args);
            return new Outcome(code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    @Test
    void subcommandsWriteWhereTheySayAndFailOnOneLine() {
        String sm = "--saved-models=" + saved, od = "--out-dir=" + out, t = "--timestamp=" + ts;
        Outcome s = cli("sample", t, sm, "--prefix=the", "--temperature=0", "--max-len=20");
        assertEquals(0, s.code(), s.err());
        assertTrue(s.out().contains("tokens/s"), s.out());
        Outcome ns = cli("sample", t, sm, "--prefix=the", "--temperature=0", "--max-len=20", "--no-cache");
        assertEquals(s.out().lines().findFirst(), ns.out().lines().findFirst(), "same text without the cache");
        assertEquals(0, cli("sample", t, sm, "--prefix=the", "--beams=3", "--max-len=12").code());
        Outcome p = cli("perplexity", t, sm, "--split=valid");
        assertEquals(0, p.code(), p.err());
        assertTrue(p.out().startsWith("perplexity of " + ts), p.out());
        assertTrue(cli("checkpoints", t, sm).out().contains("final"));
        Outcome a = cli("attentions", t, sm, od, "--text=the company", "--layers=1", "--heads=0");
        assertEquals(0, a.code(), a.err());
        assertTrue(a.out().contains("wrote 1 heatmaps to " + out.resolve("attentions")), a.out());
        Outcome l = cli("logit-lens", t, sm, od, "--text=the company said", "--mode=kl", "--subblocks");
        assertEquals(0, l.code(), l.err());
        assertTrue(l.out().contains("lens"), l.out());
        Outcome pm = cli("plot-metrics", t + "," + ts, sm, od, "--metric=stat/val_loss:main");
        assertEquals(0, pm.code(), pm.err());
        assertTrue(pm.out().contains(out.resolve("metrics").toString()), pm.out());

        for (String[] bad : new String[][] {
                {"sample", "--timestamp=2020-01-01--00-00-00", sm},
                {"sample", t, sm, "--top-k=3", "--nucleus=0.5"},
                {"sample", t, sm, "--temperature=-1"},
                {"attentions", t, sm, "--text=the", "--layers=7"},
                {"logit-lens", t, sm, "--text=the", "--mode=nope"},
                {"perplexity", t, sm, "--split=dev"},
                {"plot-metrics", "--timestamp=" + ts, sm, "--metric=nope"},
                {"checkpoints", "--timestamp=nope", sm}}) {
            Outcome o = cli(bad);
            assertEquals(2, o.code(), String.join(" ", bad) + ": " + o.err());
            assertEquals(1, o.err().strip().lines().count(), o.err());
            assertTrue(o.err().startsWith("error: "), o.err());
        }
        assertEquals(0, cli("logit-lens", "--help").code());
    }
}
