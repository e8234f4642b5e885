package org.tinker.tint;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.tinker.config.TintParams;

/**
 * ln_update_bias_only=false (docs/models/tint.md, "Approximations relative to exact backprop"): the construction against TinT-SGD with the {@code lnFullMatrix} switch on
 * the hard64 aux model (float64, hard gates), and η = 0 leaves the logits unchanged.
 */
class TintLnFullMatrixTest {

    static TintParams fullLn(TintInput in, double lr, int steps) {
        return in.config().with("ln_update_bias_only", false).with("inner_lr", lr).with("n_forward_backward", steps);
    }

    static double maxRelMat(Mat a, Mat b, Mat base) {
        double num = TintFixtures.maxAbsDiff(a, b), den = TintFixtures.maxAbsDiff(b, base);
        return num / den;
    }

    @ParameterizedTest
    @EnumSource(TintFixtures.Backend.class)
    void constructionMatchesReference(TintFixtures.Backend backend) {
        try (NDManager m = NDManager.newBaseManager()) {
            TintInput in = TintFixtures.input("hard64", m);
            AuxModel aux = in.aux();
            Mat base = aux.forward(in.ids()).logits;
            for (int steps : new int[] {1, 2}) {
                TintParams c = fullLn(in, in.config().inner_lr(), steps);
                TintModel.Output out = backend.run(aux, c, in.ids(), in.nTrain());
                AuxModel ref = TintSgd.train(aux, in.ids(), in.nTrain(), c.inner_lr(), steps, TintSgd.Switches.tint(c, aux));
                Mat fin = ref.forward(in.ids()).logits;
                double rel = TintFixtures.relDelta(out.finalLogits, fin, base, 0, fin.rows);
                double abs = TintFixtures.maxAbsDiff(out.finalLogits, fin);
                // the LN weights really became full matrices, and they match the reference's
                double wRel = 0, offDiag = 0;
                for (int l = 0; l < aux.L; l++) {
                    AuxModel.Layer a = out.updated.layers.get(l), b = ref.layers.get(l), o = aux.layers.get(l);
                    assertTrue(a.ln1M != null && a.ln2M != null && b.ln1M != null && b.ln2M != null, "layer " + l + " LN matrices");
                    wRel = Math.max(wRel, maxRelMat(a.ln1M, b.ln1M, AuxModel.diag(o.ln1W)));
                    wRel = Math.max(wRel, maxRelMat(a.ln2M, b.ln2M, AuxModel.diag(o.ln2W)));
                    for (int i = 0; i < aux.D; i++)
                        for (int j = 0; j < aux.D; j++) if (i != j) offDiag = Math.max(offDiag, Math.abs(b.ln1M.get(i, j)));
                }
                wRel = Math.max(wRel, maxRelMat(out.updated.lnfM, ref.lnfM, AuxModel.diag(aux.lnfW)));
                System.out.printf(backend + " hard64 ln_update_bias_only=false, %d step(s): construction vs reference final rel(Δ) %.3g, max abs %.3g;"
                        + " LN matrices max rel(ΔM) %.3g; max |off-diagonal| %.3g%n", steps, rel, abs, wRel, offDiag);
                assertTrue(offDiag > 0, "off-diagonal LN entries");
                assertTrue(rel < 1e-9, "final rel " + rel);
                assertTrue(abs < 1e-10, "final abs " + abs);
                assertTrue(wRel < 1e-9, "LN matrices " + wRel);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(TintFixtures.Backend.class)
    void zeroLearningRateLeavesLogitsUnchanged(TintFixtures.Backend backend) {
        try (NDManager m = NDManager.newBaseManager()) {
            TintInput in = TintFixtures.input("hard64", m);
            TintParams c = fullLn(in, 0, 1);
            TintModel.Output out = backend.run(in.aux(), c, in.ids(), in.nTrain());
            Mat base = in.aux().forward(in.ids()).logits;
            double d = TintFixtures.maxAbsDiff(out.finalLogits, out.originalLogits), d0 = TintFixtures.maxAbsDiff(out.originalLogits, base);
            System.out.printf(backend + " hard64 ln_update_bias_only=false, inner_lr=0: max |final − original| %.3g, max |original − aux| %.3g%n", d, d0);
            assertTrue(d < 1e-12, "final vs original " + d);
            assertTrue(d0 < 1e-10, "original vs aux " + d0);
        }
    }
}
