package org.tinker.tint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.tinker.cli.TintCommandsAccess;

/** The TinT construction against the original code's outputs (fixtures) and against TinT-SGD. */
class TintConstructionTest {

    @ParameterizedTest
    @EnumSource(TintFixtures.Backend.class)
    void hard64MatchesFixture(TintFixtures.Backend backend) {
        try (NDManager m = NDManager.newBaseManager()) {
            TintInput in = TintFixtures.input("hard64", m);
            Map<String, NDArray> exp = TintFixtures.expected("hard64", m);
            long t0 = System.nanoTime();
            TintModel.Output out = backend.run(in.aux(), in.config(), in.ids(), in.nTrain());
            System.out.printf("%s hard64 TinT build + forward: %.2f s%n", backend, (System.nanoTime() - t0) / 1e9);
            Mat orig = TintFixtures.mat(exp.get("original_logits")), fin = TintFixtures.mat(exp.get("final_logits"));
            double origErr = TintFixtures.maxAbsDiff(out.originalLogits, orig);
            double rel = TintFixtures.relDelta(out.finalLogits, fin, orig, 0, fin.rows);
            double abs = TintFixtures.maxAbsDiff(out.finalLogits, fin);
            System.out.printf(backend + " hard64 construction: original max abs %.3g, final rel(Δ) %.3g, final max abs %.3g%n", origErr, rel, abs);
            assertTrue(origErr < 1e-10, "original " + origErr);
            assertTrue(rel < 1e-9, "final rel " + rel);
            assertTrue(abs < 1e-10, "final abs " + abs);
            com.google.gson.JsonObject ej;
            try {
                ej = com.google.gson.JsonParser.parseString(java.nio.file.Files.readString(TintFixtures.ROOT.resolve("hard64/expected.json"))).getAsJsonObject();
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            double nEval = in.ids().length - in.nTrain();
            double before = TintCommandsAccess.evalLoss(out.originalLogits, in.ids(), in.nTrain()) / nEval;
            double after = TintCommandsAccess.evalLoss(out.finalLogits, in.ids(), in.nTrain()) / nEval;
            System.out.printf(backend + " hard64 eval loss %.15f -> %.15f (fixture %.15f -> %.15f)%n", before, after,
                    ej.get("eval_loss_before").getAsDouble(), ej.get("eval_loss_after").getAsDouble());
            assertEquals(ej.get("eval_loss_before").getAsDouble(), before, 1e-10);
            assertEquals(ej.get("eval_loss_after").getAsDouble(), after, 1e-10);
            assertEquals(ej.get("repo_param_count").getAsLong(), TintModel.repoParamCount(97, 48, 2, 64, 64, 192, in.config()));
            Map<String, NDArray> mine = out.updated.toHf(m, DataType.FLOAT64, 0, false);
            Map<String, NDArray> base = in.aux().toHf(m, DataType.FLOAT64, 0, false);
            double worst = 0;
            for (Map.Entry<String, NDArray> e : mine.entrySet()) {
                Mat a = TintSgdTest.flat(e.getValue()), b = TintSgdTest.flat(exp.get(e.getKey())), o = TintSgdTest.flat(base.get(e.getKey()));
                if (TintFixtures.maxAbsDiff(b, o) == 0) assertEquals(0, TintFixtures.maxAbsDiff(a, o), e.getKey() + " frozen");
                else worst = Math.max(worst, TintFixtures.relDelta(a, b, o, 0, a.rows));
            }
            System.out.printf(backend + " hard64 construction: decoded weights max rel(Δw) %.3g%n", worst);
            assertTrue(worst < 1e-9, "weights " + worst);
        }
    }
}
