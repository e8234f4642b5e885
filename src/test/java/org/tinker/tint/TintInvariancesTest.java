package org.tinker.tint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.tinker.config.ConfigError;
import org.tinker.config.TintParams;

/** docs/models/tint.md, "Checking an implementation numerically": invariances, float32 fixture, parameter counts, the dimension rules, the RMSNorm extension. */
class TintInvariancesTest {
    static TintInput hard;

    @BeforeAll
    static void load() {
        try (NDManager m = NDManager.newBaseManager()) {
            hard = TintFixtures.input("hard64", m);
        }
    }

    static TintModel.Output run(TintFixtures.Backend backend, TintParams c) {
        return backend.run(hard.aux(), c, hard.ids(), hard.nTrain());
    }

    static Mat refLogits(AuxModel aux, TintParams c) {
        AuxModel upd = TintSgd.train(aux, hard.ids(), hard.nTrain(), c.inner_lr(), c.n_forward_backward(), TintSgd.Switches.tint(c, aux));
        return upd.forward(hard.ids()).logits;
    }

    @ParameterizedTest
    @EnumSource(TintFixtures.Backend.class)
    void default32MatchesFixture(TintFixtures.Backend backend) {
        try (NDManager m = NDManager.newBaseManager()) {
            TintInput in = TintFixtures.input("default32", m);
            Map<String, NDArray> exp = TintFixtures.expected("default32", m);
            TintModel.Output out = backend.run(in.aux(), in.config(), in.ids(), in.nTrain());
            Mat orig = TintFixtures.mat(exp.get("original_logits")), fin = TintFixtures.mat(exp.get("final_logits"));
            double o = TintFixtures.maxAbsDiff(out.originalLogits, orig);
            double rel = TintFixtures.relDelta(out.finalLogits.sub(out.originalLogits).toF32(false), fin.sub(orig),
                    new Mat(fin.rows, fin.cols, false), 0, fin.rows);
            double abs = TintFixtures.maxAbsDiff(out.finalLogits, fin);
            System.out.printf(backend + " default32 construction: original max abs %.3g, change of final logits rel %.3g, final max abs %.3g%n", o, rel, abs);
            assertTrue(o < 1e-4, "original " + o);
            assertTrue(rel < 5e-3, "rel " + rel);
            assertTrue(abs < 2e-3, "abs " + abs);
        }
    }

    @ParameterizedTest
    @EnumSource(TintFixtures.Backend.class)
    void restrictPrefixesAndReuseDoNotChangeOutputs(TintFixtures.Backend backend) {
        TintParams c = hard.config().with("n_forward_backward", 2);
        TintModel.Output a = run(backend, c);
        TintParams d = c.with("restrict_prefixes", false).with("reuse_backward_blocks", false).with("reuse_forward_blocks", false);
        TintModel.Output b = run(backend, d);
        assertArrayEquals(a.finalLogits.a, b.finalLogits.a, "bit-identical final logits");
        assertArrayEquals(a.originalLogits.a, b.originalLogits.a);
    }

    @ParameterizedTest
    @EnumSource(TintFixtures.Backend.class)
    void zeroLearningRateLeavesLogits(TintFixtures.Backend backend) {
        TintParams c = hard.config().with("inner_lr", 0);
        TintModel.Output o = run(backend, c);
        assertArrayEquals(o.originalLogits.a, o.finalLogits.a);
    }

    @ParameterizedTest
    @EnumSource(TintFixtures.Backend.class)
    void twoStepsEqualTwoReferenceSteps(TintFixtures.Backend backend) {
        TintParams c = hard.config().with("n_forward_backward", 2);
        TintModel.Output o = run(backend, c);
        Mat ref = refLogits(hard.aux(), c);
        double rel = TintFixtures.relDelta(o.finalLogits, ref, o.originalLogits, 0, ref.rows);
        System.out.printf(backend + " 2 steps: construction vs reference rel(Δ) %.3g%n", rel);
        assertTrue(rel < 1e-9, "rel " + rel);
    }

    @ParameterizedTest
    @EnumSource(TintFixtures.Backend.class)
    void onlyTopLayersChange(TintFixtures.Backend backend) {
        TintParams c = hard.config().with("n_simulation_layers", 1);
        TintModel.Output o = run(backend, c);
        AuxModel.Layer before = hard.aux().layers.get(0), after = o.updated.layers.get(0);
        for (Mat[] pair : new Mat[][] {{before.wv, after.wv}, {before.w1, after.w1}, {before.w2, after.w2}, {before.b2, after.b2}, {before.ln1B, after.ln1B}})
            assertArrayEquals(pair[0].a, pair[1].a, "layer 0 frozen with n_simulation_layers=1");
        assertTrue(TintFixtures.maxAbsDiff(hard.aux().layers.get(1).wv, o.updated.layers.get(1).wv) > 0);
        Mat ref = refLogits(hard.aux(), c);
        double rel = TintFixtures.relDelta(o.finalLogits, ref, o.originalLogits, 0, ref.rows);
        System.out.printf(backend + " n_sim=1: construction vs reference rel(Δ) %.3g%n", rel);
        assertTrue(rel < 1e-9);
    }

    @ParameterizedTest
    @EnumSource(TintFixtures.Backend.class)
    void rmsNormExtensionMatchesReference(TintFixtures.Backend backend) {
        AuxModel aux = hard.aux().copy();
        AuxModel rms = new AuxModel(aux.D, aux.H, aux.L, aux.V, aux.T, aux.F, aux.eps, aux.act, "rmsnorm", false);
        rms.wte = aux.wte; rms.wpe = aux.wpe; rms.lnfW = aux.lnfW; rms.lnfB = aux.lnfB;
        rms.layers.addAll(aux.layers);
        TintModel.Output o = backend.run(rms, hard.config(), hard.ids(), hard.nTrain());
        assertTrue(TintFixtures.maxAbsDiff(o.originalLogits, rms.forward(hard.ids()).logits) < 1e-10);
        Mat ref = refLogits(rms, hard.config());
        double rel = TintFixtures.relDelta(o.finalLogits, ref, o.originalLogits, 0, ref.rows);
        System.out.printf(backend + " RMSNorm aux: construction vs reference rel(Δ) %.3g%n", rel);
        assertTrue(rel < 1e-9, "rel " + rel);
    }

    @Test
    void parameterCounts() {
        TintParams c = hard.config();
        assertEquals(1_518_814, TintModel.repoParamCount(97, 48, 2, 64, 64, 192, c));
        assertEquals(1_127_040, TintModel.repoParamCount(97, 48, 2, 64, 64, 192, c.with("n_simulation_layers", 1)));
        c = c.with("n_forward_backward", 2).with("reuse_forward_blocks", false).with("reuse_backward_blocks", false);
        assertEquals(3_343_210, TintModel.repoParamCount(97, 48, 2, 64, 64, 192, c));
        TintParams g = new TintSettings.Widths(256, 3072, 12).applyTo(TintParams.DEFAULTS);
        assertEquals(1_476_796_914L, TintModel.repoParamCount(50257, 768, 12, 1024, 1024, 3072, g));
        assertEquals(174_650_508L, TintModel.repoParamCount(50257, 768, 1, 1024, 1024, 3072, g.with("n_simulation_layers", 1)));
        long own = new TintModel(hard.aux(), hard.config()).ownParamCount();
        System.out.println("hard64 own parameter count " + own);
        assertTrue(own > 0);
    }

    @Test
    void dimensionRulesExplainAndPropose() {
        TintParams c = hard.config().with("num_prefixes", 5);
        ConfigError e = assertThrows(ConfigError.class, () -> TintSettings.validate(c, hard.aux(), 40));
        assertTrue(e.getMessage().contains("num_prefixes=5 must divide") && e.getMessage().contains("Valid choices"), e.getMessage());
        TintParams d = hard.config().with("hidden_size", 96);
        e = assertThrows(ConfigError.class, () -> TintSettings.validate(d, hard.aux(), 40));
        assertTrue(e.getMessage().contains("4·D=192"), e.getMessage());
        // a range no aux can meet is refused by the settings' own checks
        e = assertThrows(ConfigError.class, () -> TintSettings.validate(hard.config().with("n_forward_backward", 0), hard.aux(), 40));
        assertTrue(e.getMessage().contains("n_forward_backward=0 in [TintParams]: expected a positive number of steps"), e.getMessage());
        // every proposal is valid
        assertFalse(TintSettings.suggest(48, 4).isEmpty());
        for (TintSettings.Widths w : TintSettings.suggest(48, 4)) TintSettings.validate(w.applyTo(hard.config()), hard.aux(), 40);
    }

    @Test
    void exactReferenceMatchesNumericalGradient() {
        AuxModel aux = hard.aux();
        TintSgd.Switches ex = TintSgd.Switches.exact(aux);
        AuxModel g = TintSgd.grad(aux, hard.ids(), hard.nTrain(), ex);
        double h = 1e-5, worst = 0;
        int[][] picks = {{0, 3}, {1, 17}, {1, 40}};
        for (int[] p : picks) {
            for (int which = 0; which < 4; which++) {
                AuxModel a = aux.copy(), b = aux.copy();
                Mat ma = pick(a.layers.get(p[0]), which), mb = pick(b.layers.get(p[0]), which), mg = pick(g.layers.get(p[0]), which);
                int idx = p[1] % ma.a.length;
                ma.a[idx] += h;
                mb.a[idx] -= h;
                double num = (trainLoss(a) - trainLoss(b)) / (2 * h);
                worst = Math.max(worst, Math.abs(num - mg.a[idx]) / Math.max(1e-8, Math.abs(num)));
            }
        }
        System.out.printf("exact reference vs central differences: max rel %.3g%n", worst);
        assertTrue(worst < 1e-6, "rel " + worst);
    }

    static Mat pick(AuxModel.Layer y, int which) {
        return switch (which) {
            case 0 -> y.wq;
            case 1 -> y.ln1W;
            case 2 -> y.w1;
            default -> y.wk;
        };
    }

    static double trainLoss(AuxModel a) {
        Mat lg = a.forward(hard.ids()).logits;
        double s = 0;
        for (int t = 0; t <= hard.nTrain() - 2; t++) {
            double m = Double.NEGATIVE_INFINITY, z = 0;
            for (int v = 0; v < lg.cols; v++) m = Math.max(m, lg.get(t, v));
            for (int v = 0; v < lg.cols; v++) z += Math.exp(lg.get(t, v) - m);
            s += m + Math.log(z) - lg.get(t, (int) hard.ids()[t + 1]);
        }
        return s;
    }
}
