package org.tinker.tint;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.nio.file.Path;
import java.util.Map;
import org.tinker.config.TintParams;
import org.tinker.engine.SafeTensors;

/** The two fixture cases copied from shared/fixtures/tint into test resources. */
final class TintFixtures {
    private TintFixtures() {}

    static final Path ROOT = Path.of("src/test/resources/fixtures/tint");

    /** The two constructions every TinT case runs on: dense Mat arithmetic (the reference) and DJL tensors on the CPU. */
    enum Backend {
        MAT, ENGINE;

        TintPass build(AuxModel aux, TintParams c) {
            return this == MAT ? new TintModel(aux, c)
                    : new TintEngine(aux, c, Device.cpu(), c.f32() ? TintEngine.Precision.FLOAT32 : TintEngine.Precision.FLOAT64);
        }

        /** One pass, the construction built and released around it. */
        TintModel.Output run(AuxModel aux, TintParams c, long[] ids, int nTrain, IclInput icl) {
            try (TintPass t = build(aux, c)) {
                return t.forward(ids, nTrain, icl);
            }
        }

        TintModel.Output run(AuxModel aux, TintParams c, long[] ids, int nTrain) {
            return run(aux, c, ids, nTrain, IclInput.NONE);
        }
    }

    static TintInput input(String name, NDManager m) {
        return TintInput.read(ROOT.resolve(name).resolve("input.json"), m);
    }

    static Map<String, NDArray> expected(String name, NDManager m) {
        return SafeTensors.read(ROOT.resolve(name).resolve("expected.safetensors"), m);
    }

    static Mat mat(NDArray a) {
        return AuxModel.mat(a, false);
    }

    /** ‖(a − base) − (b − base)‖ / ‖b − base‖ over rows [r0, r1). */
    static double relDelta(Mat a, Mat b, Mat base, int r0, int r1) {
        double num = 0, den = 0;
        for (int i = r0; i < r1; i++)
            for (int j = 0; j < a.cols; j++) {
                double da = a.get(i, j) - base.get(i, j), db = b.get(i, j) - base.get(i, j);
                num += (da - db) * (da - db);
                den += db * db;
            }
        return Math.sqrt(num / den);
    }

    static double maxAbsDiff(Mat a, Mat b) {
        double m = 0;
        for (int i = 0; i < a.a.length; i++) m = Math.max(m, Math.abs(a.a[i] - b.a[i]));
        return m;
    }
}
