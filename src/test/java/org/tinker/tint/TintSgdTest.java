package org.tinker.tint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The explicit TinT-SGD reference against the original code's outputs (fixtures hard64, default32). */
class TintSgdTest {

    @Test
    void hard64ReferenceMatchesFixture() {
        try (NDManager m = NDManager.newBaseManager()) {
            TintInput in = TintFixtures.input("hard64", m);
            Map<String, NDArray> exp = TintFixtures.expected("hard64", m);
            AuxModel aux = in.aux();
            Mat base = aux.forward(in.ids()).logits;
            Mat auxLogits = TintFixtures.mat(exp.get("aux_logits"));
            assertTrue(TintFixtures.maxAbsDiff(base, auxLogits) < 1e-12, "aux forward");
            AuxModel upd = TintSgd.train(aux, in.ids(), in.nTrain(), in.config().inner_lr(), 1, TintSgd.Switches.tint(in.config(), aux));
            Mat fin = upd.forward(in.ids()).logits;
            Mat refFin = TintFixtures.mat(exp.get("reference_final_logits"));
            Mat tintFin = TintFixtures.mat(exp.get("final_logits"));
            double relRef = TintFixtures.relDelta(fin, refFin, base, 0, fin.rows);
            double relTint = TintFixtures.relDelta(fin, tintFin, base, 0, fin.rows);
            System.out.printf("hard64 reference: rel(Δ) vs fixture reference %.3g, vs TinT final %.3g, max abs vs TinT %.3g%n",
                    relRef, relTint, TintFixtures.maxAbsDiff(fin, tintFin));
            assertTrue(relRef < 1e-10, "vs reference_final_logits " + relRef);
            assertTrue(relTint < 1e-9, "vs final_logits " + relTint);
            // decoded weights
            Map<String, NDArray> mine = upd.toHf(m, DataType.FLOAT64, 0, false);
            Map<String, NDArray> orig = aux.toHf(m, DataType.FLOAT64, 0, false);
            double worst = 0;
            for (Map.Entry<String, NDArray> e : mine.entrySet()) {
                Mat a = flat(e.getValue()), b = flat(exp.get(e.getKey())), o = flat(orig.get(e.getKey()));
                double d = TintFixtures.maxAbsDiff(b, o);
                if (d == 0) assertEquals(0, TintFixtures.maxAbsDiff(a, o), e.getKey() + " frozen");
                else worst = Math.max(worst, TintFixtures.relDelta(a, b, o, 0, a.rows));
            }
            System.out.printf("hard64 reference: decoded weights max rel(Δw) %.3g%n", worst);
            assertTrue(worst < 1e-9, "weights " + worst);
        }
    }

    static Mat flat(NDArray a) {
        double[] d = a.toType(DataType.FLOAT64, false).toDoubleArray();
        return new Mat(1, d.length, d, false);
    }

    @Test
    void default32ReferenceWithinTolerance() {
        try (NDManager m = NDManager.newBaseManager()) {
            TintInput in = TintFixtures.input("default32", m);
            Map<String, NDArray> exp = TintFixtures.expected("default32", m);
            AuxModel aux = in.aux();
            Mat base = aux.forward(in.ids()).logits;
            AuxModel upd = TintSgd.train(aux, in.ids(), in.nTrain(), in.config().inner_lr(), 1, TintSgd.Switches.tint(in.config(), aux));
            Mat fin = upd.forward(in.ids()).logits;
            Mat tintFin = TintFixtures.mat(exp.get("final_logits"));
            Mat tintOrig = TintFixtures.mat(exp.get("original_logits"));
            double rel = TintFixtures.relDelta(fin.sub(base).toF32(false), tintFin.sub(tintOrig), new Mat(fin.rows, fin.cols, false), 0, fin.rows);
            System.out.printf("default32 reference (float32): rel(Δ) vs TinT final %.3g, max abs %.3g%n", rel, TintFixtures.maxAbsDiff(fin, tintFin));
            assertTrue(rel < 5e-3, "rel " + rel);
            assertTrue(TintFixtures.maxAbsDiff(fin, tintFin) < 2e-3);
        }
    }
}
