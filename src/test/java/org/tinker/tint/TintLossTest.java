package org.tinker.tint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.tinker.cli.Main;
import org.tinker.cli.TintCommands;
import org.tinker.config.TintParams;
import org.tinker.engine.SafeTensors;
import picocli.CommandLine;

/**
 * The loss at the top of the simulated backward pass (docs/models/tint.md, "The construction" step 2a): use_quad (½‖E h‖² − (E h)_y) and the
 * original's third option (δh = mean_v E_v − E_y) besides the prediction loss; construction against the reference
 * for GPT-2 and OPT aux models, the gradient formula against finite differences, the flags in JSON and on the CLI.
 */
class TintLossTest {
    @TempDir static Path tmp;
    static TintInput hard;
    static AuxModel opt;
    static long[] optIds;

    @BeforeAll
    static void load() {
        try (NDManager m = NDManager.newBaseManager()) {
            hard = TintFixtures.input("hard64", m);
        }
        opt = TintOptTest.load(TintOptTest.writeFolder(tmp.resolve("opt"), TintOptTest.randomOpt(7, TintOptTest.TINY), "model.decoder.",
                TintOptTest.optConfig(TintOptTest.TINY)));
        Random r = new Random(3);
        optIds = new long[24];
        for (int t = 0; t < optIds.length; t++) optIds[t] = r.nextInt(TintOptTest.V);
    }

    static TintParams withLoss(TintParams base, boolean prediction, boolean quad) {
        return base.with("use_prediction_loss", prediction).with("use_quad", quad);
    }

    /** Construction vs reference (final logits rel(Δ), decoded weights max rel(Δw)) for 1 and 2 steps; returns the worst. */
    static double[] constructionVsReference(TintFixtures.Backend backend, AuxModel aux, long[] ids, int nTrain, TintParams base, String what) {
        Mat orig = aux.forward(ids).logits;
        double worstRel = 0, worstW = 0;
        for (int steps : new int[] {1, 2}) {
            TintParams c = base.with("n_forward_backward", steps);
            TintModel.Output out = backend.run(aux, c, ids, nTrain);
            AuxModel ref = TintSgd.train(aux, ids, nTrain, c.inner_lr(), steps, TintSgd.Switches.tint(c, aux));
            Mat fin = ref.forward(ids).logits;
            double rel = TintFixtures.relDelta(out.finalLogits, fin, orig, 0, fin.rows);
            double w = TintOptTest.maxRelWeights(out.updated, ref, aux);
            System.out.printf(backend + " %s, %s, inner_lr %.0e, %d step(s): construction vs reference final rel(Δ) %.3g, weights max rel(Δw) %.3g; max |Δlogit| %.3g%n",
                    what, c.loss(), c.inner_lr(), steps, rel, w, TintFixtures.maxAbsDiff(fin, orig));
            assertTrue(rel < 1e-9, what + " final rel " + rel);
            assertTrue(w < 1e-9, what + " weights " + w);
            worstRel = Math.max(worstRel, rel);
            worstW = Math.max(worstW, w);
        }
        return new double[] {worstRel, worstW};
    }

    /**
     * The fixtures' logits are large (up to 12.6), so the quadratic loss's gradient is too: with the fixture's
     * inner_lr 1e-4 one step moves the logits by up to 12 (GPT-2) / 4.4 (OPT); 1e-6 by 0.24 / 0.05, the prediction loss's scale.
     */
    static TintParams quad(TintParams base, double lr) {
        return withLoss(base, false, true).with("inner_lr", lr);
    }

    @ParameterizedTest
    @EnumSource(TintFixtures.Backend.class)
    void quadConstructionMatchesReferenceGpt2(TintFixtures.Backend backend) {
        for (double lr : new double[] {1e-4, 1e-6})
            constructionVsReference(backend, hard.aux(), hard.ids(), hard.nTrain(), quad(hard.config(), lr), "GPT-2 aux (hard64)");
    }

    @ParameterizedTest
    @EnumSource(TintFixtures.Backend.class)
    void quadConstructionMatchesReferenceOpt(TintFixtures.Backend backend) {
        for (double lr : new double[] {1e-4, 1e-6}) constructionVsReference(backend, opt, optIds, 12, quad(TintOptTest.config(), lr), "OPT aux");
    }

    /** The original's third branch (both flags false), on both families, one config each. */
    @ParameterizedTest
    @EnumSource(TintFixtures.Backend.class)
    void meanOptionConstructionMatchesReference(TintFixtures.Backend backend) {
        constructionVsReference(backend, hard.aux(), hard.ids(), hard.nTrain(), withLoss(hard.config(), false, false), "GPT-2 aux (hard64)");
        constructionVsReference(backend, opt, optIds, 12, withLoss(TintOptTest.config(), false, false), "OPT aux");
    }

    /** The flags are read as the original's if / elif: prediction first, then quad, else mean. */
    @ParameterizedTest
    @EnumSource(TintFixtures.Backend.class)
    void flagsSelectTheLossAsTheOriginal(TintFixtures.Backend backend) {
        assertEquals(TintParams.Loss.PREDICTION, withLoss(hard.config(), true, false).loss());
        assertEquals(TintParams.Loss.PREDICTION, withLoss(hard.config(), true, true).loss(), "prediction loss wins over use_quad");
        assertEquals(TintParams.Loss.QUAD, withLoss(hard.config(), false, true).loss());
        assertEquals(TintParams.Loss.MEAN, withLoss(hard.config(), false, false).loss());
        JsonObject o = new JsonObject();
        assertEquals(TintParams.Loss.PREDICTION, TintSettings.fromJson(o.toString(), "t").loss(), "defaults: the prediction loss");
        o.addProperty("use_quad", true);
        assertEquals(TintParams.Loss.PREDICTION, TintSettings.fromJson(o.toString(), "t").loss());
        o.addProperty("use_prediction_loss", false);
        assertEquals(TintParams.Loss.QUAD, TintSettings.fromJson(o.toString(), "t").loss());
        // both true: bit-identical to the prediction loss
        TintModel.Output a = backend.run(hard.aux(), withLoss(hard.config(), true, true), hard.ids(), hard.nTrain());
        TintModel.Output b = backend.run(hard.aux(), hard.config(), hard.ids(), hard.nTrain());
        assertArrayEquals(b.finalLogits.a, a.finalLogits.a);
    }

    @ParameterizedTest
    @EnumSource(TintFixtures.Backend.class)
    void quadChangesTheResult(TintFixtures.Backend backend) {
        Mat orig = hard.aux().forward(hard.ids()).logits;
        TintModel.Output pred = backend.run(hard.aux(), hard.config(), hard.ids(), hard.nTrain());
        TintModel.Output quad = backend.run(hard.aux(), withLoss(hard.config(), false, true), hard.ids(), hard.nTrain());
        TintModel.Output mean = backend.run(hard.aux(), withLoss(hard.config(), false, false), hard.ids(), hard.nTrain());
        double qp = TintFixtures.relDelta(quad.finalLogits, pred.finalLogits, orig, 0, orig.rows);
        double mp = TintFixtures.relDelta(mean.finalLogits, pred.finalLogits, orig, 0, orig.rows);
        double qm = TintFixtures.relDelta(quad.finalLogits, mean.finalLogits, orig, 0, orig.rows);
        System.out.printf("hard64 one step: change of the logits, rel(Δ) quad vs prediction %.3g, mean vs prediction %.3g, quad vs mean %.3g%n", qp, mp, qm);
        assertTrue(qp > 0.1 && mp > 0.1 && qm > 0.1, qp + " " + mp + " " + qm);
    }

    /** ½‖E h‖² − (E h)_y for one position, written out here (not through LossGradient). */
    static double quadLoss(Mat E, double[] h, int y) {
        double s = 0;
        for (int v = 0; v < E.rows; v++) {
            double ev = 0;
            for (int j = 0; j < E.cols; j++) ev += E.get(v, j) * h[j];
            s += 0.5 * ev * ev - (v == y ? ev : 0);
        }
        return s;
    }

    @Test
    void quadGradientIsTheDerivativeOfTheQuadLoss() {
        Mat E = hard.aux().wte;
        long[] ids = hard.ids();
        int T = ids.length, D = E.cols, nTrain = hard.nTrain();
        Random r = new Random(11);
        Mat h = new Mat(T, D, false);
        for (int i = 0; i < h.a.length; i++) h.a[i] = r.nextGaussian();
        Mat dh = LossGradient.hidden(h.mmT(E), E, ids, nTrain, TintParams.Loss.QUAD, false);
        int t = 7, y = (int) ids[t + 1];
        // the loss is quadratic in h, so a central difference is exact up to rounding
        double step = 1e-3, worst = 0, scale = 0;
        for (int j = 0; j < D; j++) {
            double[] hp = new double[D], hm = new double[D];
            for (int k = 0; k < D; k++) hp[k] = hm[k] = h.get(t, k);
            hp[j] += step;
            hm[j] -= step;
            double num = (quadLoss(E, hp, y) - quadLoss(E, hm, y)) / (2 * step);
            worst = Math.max(worst, Math.abs(num - dh.get(t, j)));
            scale = Math.max(scale, Math.abs(num));
        }
        System.out.printf("use_quad gradient vs central differences of ½‖E h‖² − (E h)_y at t=%d: max abs %.3g (max |grad| %.3g, rel %.3g)%n",
                t, worst, scale, worst / scale);
        assertTrue(worst / scale < 1e-8, "rel " + worst / scale);
        // only the train targets t ≤ n_train−2 carry a gradient
        for (int u = nTrain - 1; u < T; u++)
            for (int j = 0; j < D; j++) assertEquals(0.0, dh.get(u, j), "row " + u);
        // the mean option: mean_v E_v − E_y, whatever h is
        Mat dm = LossGradient.hidden(h.mmT(E), E, ids, nTrain, TintParams.Loss.MEAN, false);
        double mw = 0;
        for (int j = 0; j < D; j++) {
            double mean = 0;
            for (int v = 0; v < E.rows; v++) mean += E.get(v, j);
            mw = Math.max(mw, Math.abs(dm.get(t, j) - (mean / E.rows - E.get(y, j))));
        }
        assertTrue(mw < 1e-12, "mean option " + mw);
    }

    /** use_quad through input.json and `tint forward`, and through `tint create` options into tint.json. */
    @Test
    void quadFromJsonAndCli() throws IOException {
        Path src = TintFixtures.ROOT.resolve("hard64").toAbsolutePath();
        JsonObject in = JsonParser.parseString(Files.readString(src.resolve("input.json"))).getAsJsonObject();
        in.addProperty("use_prediction_loss", false);
        in.addProperty("use_quad", true);
        JsonObject am = new JsonObject();
        am.addProperty("config", src.resolve("config.json").toString());
        am.addProperty("weights", src.resolve("model.safetensors").toString());
        in.add("aux_model", am);
        Path dir = Files.createDirectories(tmp.resolve("quad-case"));
        Files.writeString(dir.resolve("input.json"), in.toString());
        Path out = tmp.resolve("quad.safetensors");
        assertEquals(0, Main.run("tint", "forward", "--input", dir.resolve("input.json").toString(), "--out", out.toString()));
        TintModel.Output o = TintFixtures.Backend.ENGINE.run(hard.aux(), withLoss(hard.config(), false, true), hard.ids(), hard.nTrain()); // the CLI's default
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> got = SafeTensors.read(out, m);
            assertArrayEquals(o.finalLogits.a, TintSgdTest.flat(got.get("final_logits")).a);
        }
        Path save = tmp.resolve("tint-quad");
        assertEquals(0, Main.run("tint", "create", "--pretrained", "src/test/resources/tiny-gpt2", "--use-prediction-loss", "false", "--use-quad", "true",
                "--save", save.toString()));
        TintParams c = TintStore.load(save).cfg;
        assertEquals(TintParams.Loss.QUAD, c.loss());
        // the tint commands say that --pretrained takes OPT folders too
        CommandLine cl = new CommandLine(new TintCommands());
        for (String sub : new String[] {"create", "perplexity"}) {
            String help = String.join(" ", cl.getSubcommands().get(sub).getCommandSpec().findOption("--pretrained").description());
            assertTrue(help.contains("OPT"), sub + ": " + help);
        }
    }
}
