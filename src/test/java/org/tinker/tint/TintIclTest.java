package org.tinker.tint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.tinker.config.ConfigError;
import org.tinker.config.TintParams;

/**
 * icl_mask / single-FT ICL (docs/models/tint.md, "Train part, eval part and single-pass ICL"): the construction against TinT-SGD with the mask and reset positions, a
 * check that the mask really isolates the demonstrations, and "one segment" = no mask, bit for bit. hard64 aux model
 * (GPT-2, float64, hard gates): T = 40 tokens, demonstrations [0,12) and [12,24) (the train part), the rest a third segment.
 */
class TintIclTest {
    static TintInput hard;
    static AuxModel opt;
    @TempDir static Path tmp;
    static final int N_TRAIN = 24;
    static final int[] SEGMENTS = new int[40], RESET = new int[40];

    @BeforeAll
    static void load() {
        try (NDManager m = NDManager.newBaseManager()) {
            hard = TintFixtures.input("hard64", m);
        }
        opt = TintOptTest.load(TintOptTest.writeFolder(tmp.resolve("opt"), TintOptTest.randomOpt(7, TintOptTest.TINY), "model.decoder.", TintOptTest.optConfig(TintOptTest.TINY)));
        for (int t = 0; t < 40; t++) {
            SEGMENTS[t] = t < 12 ? 0 : t < 24 ? 1 : 2;
            RESET[t] = t < 12 ? t : t < 24 ? t - 12 : t - 24; // each demonstration starts again at position 0
        }
    }

    static TintModel.Output run(TintFixtures.Backend backend, long[] ids, IclInput icl) {
        return backend.run(hard.aux(), hard.config(), ids, N_TRAIN, icl);
    }

    @ParameterizedTest
    @EnumSource(TintFixtures.Backend.class)
    void constructionMatchesReferenceWithMaskAndResetPositions(TintFixtures.Backend backend) {
        IclInput icl = IclInput.segments(SEGMENTS, RESET);
        AuxModel aux = hard.aux();
        Mat base = aux.forward(hard.ids(), icl).logits;
        for (int steps : new int[] {1, 2}) {
            TintParams c = hard.config().with("n_forward_backward", steps);
            TintModel.Output out = backend.run(aux, c, hard.ids(), N_TRAIN, icl);
            AuxModel ref = TintSgd.train(aux, hard.ids(), icl, N_TRAIN, c.inner_lr(), steps, TintSgd.Switches.tint(c, aux));
            Mat fin = ref.forward(hard.ids(), icl).logits;
            double orig = TintFixtures.maxAbsDiff(out.originalLogits, base);
            double rel = TintFixtures.relDelta(out.finalLogits, fin, base, 0, fin.rows);
            double w = TintOptTest.maxRelWeights(out.updated, ref, aux);
            System.out.printf(backend + " icl_segments + reset positions, %d step(s): first forward vs masked aux max abs %.3g; construction vs reference"
                    + " final rel(Δ) %.3g, weights max rel(Δw) %.3g%n", steps, orig, rel, w);
            assertTrue(orig < 1e-10, "original " + orig);
            assertTrue(rel < 1e-9, "final rel " + rel);
            assertTrue(w < 1e-9, "weights " + w);
        }
        // the mask changes the result: not the unmasked computation
        assertTrue(TintFixtures.maxAbsDiff(base, aux.forward(hard.ids()).logits) > 1e-3);
    }

    @ParameterizedTest
    @EnumSource(TintFixtures.Backend.class)
    void optAuxWithMaskMatchesReference(TintFixtures.Backend backend) {
        AuxModel aux = opt;
        long[] ids = new long[24]; // demonstrations [0,8), [8,16), query [16,24)
        Random r = new Random(5);
        for (int t = 0; t < ids.length; t++) ids[t] = r.nextInt(aux.V);
        int[] seg = new int[24], pos = new int[24];
        for (int t = 0; t < 24; t++) {
            seg[t] = t / 8;
            pos[t] = t % 8;
        }
        IclInput icl = IclInput.segments(seg, pos);
        TintParams c = TintOptTest.config();
        TintModel.Output out = backend.run(aux, c, ids, 16, icl);
        AuxModel ref = TintSgd.train(aux, ids, icl, 16, c.inner_lr(), 1, TintSgd.Switches.tint(c, aux));
        double rel = TintFixtures.relDelta(out.finalLogits, ref.forward(ids, icl).logits, out.originalLogits, 0, ids.length);
        System.out.printf(backend + " OPT aux with icl_segments + reset positions: construction vs reference rel(Δ) %.3g%n", rel);
        assertTrue(rel < 1e-9, "rel " + rel);
    }

    /** Every decoded weight of an aux model, in one row. */
    static Mat flatWeights(AuxModel a) {
        List<Mat> parts = new ArrayList<>();
        for (AuxModel.Layer y : a.layers)
            for (Mat m : new Mat[] {y.ln1W, y.ln1B, y.wq, y.bq, y.wk, y.bk, y.wv, y.bv, y.wo, y.bo, y.ln2W, y.ln2B, y.w1, y.b1, y.w2, y.b2}) parts.add(m);
        parts.add(a.lnfW);
        parts.add(a.lnfB);
        int n = 0;
        for (Mat m : parts) n += m.a.length;
        double[] d = new double[n];
        int at = 0;
        for (Mat m : parts) {
            System.arraycopy(m.a, 0, d, at, m.a.length);
            at += m.a.length;
        }
        return new Mat(1, d.length, d, false);
    }

    /**
     * With each demonstration attending only to itself, every per-position term of TinT's one-step update depends on
     * one demonstration only (its forward, its loss gradient, Aᵀ within the block), so the update is a sum
     * f1(demo 1) + f2(demo 2): changing demo 1 moves it by the same amount whatever demo 2 is. The mixed difference
     * U(a,b) − U(a',b) − U(a,b') + U(a',b') must vanish (to rounding) with the mask, and does not without it. Demo 2's
     * first token is kept, since it is demo 1's last target. Also: with the mask, demo 2's first-pass logits do not
     * depend on demo 1 at all (bit for bit).
     */
    @ParameterizedTest
    @EnumSource(TintFixtures.Backend.class)
    void maskIsolatesDemonstrations(TintFixtures.Backend backend) {
        long[] ab = hard.ids().clone(), a2b = ab.clone(), ab2 = ab.clone(), a2b2;
        Random r = new Random(11);
        for (int t = 0; t < 12; t++) a2b[t] = r.nextInt(hard.aux().V);
        for (int t = 13; t < 24; t++) ab2[t] = r.nextInt(hard.aux().V);
        a2b2 = ab2.clone();
        System.arraycopy(a2b, 0, a2b2, 0, 12);
        double[] mixed = new double[2];
        for (int masked = 0; masked < 2; masked++) {
            IclInput icl = masked == 1 ? IclInput.segments(SEGMENTS, null) : IclInput.NONE;
            TintModel.Output oab = run(backend, ab, icl), oa2b = run(backend, a2b, icl), oab2 = run(backend, ab2, icl), oa2b2 = run(backend, a2b2, icl);
            Mat uab = flatWeights(oab.updated), ua2b = flatWeights(oa2b.updated), uab2 = flatWeights(oab2.updated), ua2b2 = flatWeights(oa2b2.updated);
            Mat mix = uab.sub(ua2b).sub(uab2).add(ua2b2);
            mixed[masked] = mix.norm() / uab.sub(ua2b).norm();
            if (masked == 1)
                for (int t = 12; t < 40; t++)
                    for (int v = 0; v < hard.aux().V; v++)
                        assertEquals(oab.originalLogits.get(t, v), oa2b.originalLogits.get(t, v), 0.0, "demo 2 / query logits at " + t + " see demo 1");
        }
        System.out.printf(backend + " one-step update, mixed difference over two demonstrations (relative): with icl_segments %.3g, without %.3g%n", mixed[1], mixed[0]);
        assertTrue(mixed[1] < 1e-9, "with the mask " + mixed[1]);
        assertTrue(mixed[0] > 1e-3, "without the mask " + mixed[0]);
    }

    @ParameterizedTest
    @EnumSource(TintFixtures.Backend.class)
    void oneSegmentIsNoMask(TintFixtures.Backend backend) {
        int[] one = new int[40];
        TintModel.Output a = run(backend, hard.ids(), IclInput.NONE), b = run(backend, hard.ids(), IclInput.segments(one, null));
        assertArrayEquals(a.originalLogits.a, b.originalLogits.a);
        assertArrayEquals(a.finalLogits.a, b.finalLogits.a, "all-one-segment = no icl_mask, bit for bit");
    }

    @ParameterizedTest
    @EnumSource(TintFixtures.Backend.class)
    void badMasksAreRefused(TintFixtures.Backend backend) {
        boolean[][] m = new boolean[40][40];
        for (int t = 0; t < 40; t++) m[t][t] = t != 5;
        ConfigError e = assertThrows(ConfigError.class, () -> run(backend, hard.ids(), IclInput.of(m, null)));
        assertTrue(e.getMessage().contains("icl_mask: entry [5][5]"), e.getMessage());
        e = assertThrows(ConfigError.class, () -> run(backend, hard.ids(), IclInput.segments(new int[39], null)));
        assertTrue(e.getMessage().contains("39 rows for 40 tokens"), e.getMessage());
        int[] far = new int[40];
        far[3] = 64;
        e = assertThrows(ConfigError.class, () -> run(backend, hard.ids(), IclInput.of(null, far)));
        assertTrue(e.getMessage().contains("position_ids: entry 3 is 64"), e.getMessage());
    }

    /** The original's gradient_mask (label-only loss): only the marked tokens' predictions enter the inner loss. */
    @ParameterizedTest
    @EnumSource(TintFixtures.Backend.class)
    void labelOnlyLossMatchesReference(TintFixtures.Backend backend) {
        boolean[] labels = new boolean[40];
        labels[11] = labels[23] = true; // each demonstration's last token plays the label word
        IclInput icl = IclInput.segments(SEGMENTS, RESET).withLossTokens(labels);
        AuxModel aux = hard.aux();
        TintParams c = hard.config();
        TintModel.Output out = backend.run(aux, c, hard.ids(), N_TRAIN, icl);
        AuxModel ref = TintSgd.train(aux, hard.ids(), icl, N_TRAIN, c.inner_lr(), 1, TintSgd.Switches.tint(c, aux));
        double rel = TintFixtures.relDelta(out.finalLogits, ref.forward(hard.ids(), icl).logits, out.originalLogits, 0, 40);
        TintModel.Output all = backend.run(aux, c, hard.ids(), N_TRAIN, IclInput.segments(SEGMENTS, RESET));
        double diff = TintFixtures.maxAbsDiff(out.finalLogits, all.finalLogits);
        System.out.printf(backend + " gradient_mask (2 label tokens): construction vs reference rel(Δ) %.3g; differs from the full loss by %.3g%n", rel, diff);
        assertTrue(rel < 1e-9, "rel " + rel);
        assertTrue(diff > 1e-6, "the mask changes the update");
    }
}
