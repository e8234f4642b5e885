package org.tinker.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Gradients, SGD and the loss. */
class TrainingTest extends WithBaseManager {
    private static double lossAndBackward(LM lm, NDArray ids, NDArray mask) {
        try (NDManager step = base.newSubManager();
             GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            NDArray stepIds = ids.duplicate();
            stepIds.attach(step);
            LossResult r = lm.loss(stepIds, mask.duplicate());
            gc.backward(r.loss());
            return Tiny.scalar(r.loss());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"torch-transformer", "custom-transformer"})
    void gradientsReachEveryParameterAndSgdLowersTheLoss(String arch) {
        try (LM lm = new LM(Tiny.params(arch).with("activation", "gelu"), Tiny.V, base, 2);
             NDManager data = base.newSubManager()) {
            lm.setDropout(0.1);
            lm.setTraining(true);
            NDArray ids = Tiny.randomIds(data, 1, 4, 9);
            NDArray mask = data.ones(new Shape(4, 8));

            double first = lossAndBackward(lm, ids, mask);
            for (Map.Entry<String, NDArray> e : lm.parameters().entrySet()) {
                try (NDArray g = e.getValue().getGradient()) {
                    assertEquals(e.getValue().getShape(), g.getShape());
                    assertTrue(Tiny.scalar(g.isInfinite().logicalOr(g.isNaN()).sum()) == 0, e.getKey() + " grad not finite");
                    assertTrue(Tiny.scalar(g.abs().sum()) > 0, e.getKey() + " has an all-zero gradient");
                }
            }

            lm.setTraining(false); // deterministic loss for the descent check
            double before = Double.NaN;
            double last = Double.NaN;
            for (int it = 0; it < 6; it++) {
                lm.zeroGradients();
                last = lossAndBackward(lm, ids, mask);
                if (it == 0) before = last;
                for (NDArray p : lm.parameters().values()) {
                    try (NDArray g = p.getGradient(); NDArray step = g.mul(0.1)) {
                        p.subi(step);
                    }
                }
            }
            assertTrue(Double.isFinite(first));
            assertTrue(last < before - 1e-3, "SGD should lower the loss: " + before + " → " + last);
        }
    }

    @Test
    void gradientsAccumulateUntilZeroed() {
        try (LM lm = new LM(Tiny.params("torch-transformer"), Tiny.V, base, 2);
             NDManager data = base.newSubManager()) {
            NDArray ids = Tiny.randomIds(data, 1, 2, 6);
            NDArray mask = data.ones(new Shape(2, 5));
            NDArray w = lm.parameters().get(LM.WTE);
            lossAndBackward(lm, ids, mask);
            double once = gradNorm(w);
            lossAndBackward(lm, ids, mask);
            assertEquals(2 * once, gradNorm(w), 1e-4 * once);
            lm.zeroGradients();
            assertEquals(0.0, gradNorm(w));
        }
    }

    private static double gradNorm(NDArray p) {
        try (NDArray g = p.getGradient()) {
            return Tiny.scalar(g.abs().sum());
        }
    }

    @Test
    void lossIsTheTokenWeightedMeanOverMaskedTargets() {
        try (LM lm = new LM(Tiny.params("custom-transformer"), Tiny.V, base, 12);
             NDManager step = base.newSubManager()) {
            int b = 3;
            int t = 7;
            long[] ids = Tiny.randomIds(step, 4, b, t + 1).toLongArray();
            float[] maskValues = new float[b * t];
            for (int i = 0; i < maskValues.length; i++) maskValues[i] = (i % 3 == 0 || i > 15) ? 1 : 0;
            NDArray mask = step.create(maskValues, new Shape(b, t));
            LossResult r = lm.loss(step.create(ids, new Shape(b, t + 1)), mask);
            assertEquals(0, r.loss().getShape().dimension(), "scalar loss");

            // By hand: log-softmax of the logits for the inputs, picked at the targets, averaged over mask=1.
            NDArray inputs = step.create(ids, new Shape(b, t + 1)).get(":, :-1");
            double[] logits = lm.forward(inputs).logits().toType(DataType.FLOAT64, false).toDoubleArray();
            double sum = 0;
            long count = 0;
            long correct = 0;
            for (int i = 0; i < b; i++) {
                for (int j = 0; j < t; j++) {
                    if (maskValues[i * t + j] == 0) continue;
                    int off = (i * t + j) * Tiny.V;
                    double max = Double.NEGATIVE_INFINITY;
                    int arg = 0;
                    for (int v = 0; v < Tiny.V; v++) if (logits[off + v] > max) { max = logits[off + v]; arg = v; }
                    double z = 0;
                    for (int v = 0; v < Tiny.V; v++) z += Math.exp(logits[off + v] - max);
                    int target = (int) ids[i * (t + 1) + j + 1];
                    sum -= logits[off + target] - max - Math.log(z);
                    count++;
                    if (arg == target) correct++;
                }
            }
            assertEquals(count, r.tokens());
            assertEquals(correct, r.correct());
            assertEquals(sum / count, Tiny.scalar(r.loss()), 1e-5);

            // The last target of each row is not also an input, so it isolates the mask: row 1's last target has
            // mask 0 (must not matter), row 0's has mask 1 (must matter).
            assertEquals(0f, maskValues[1 * t + t - 1]);
            assertEquals(1f, maskValues[0 * t + t - 1]);
            long[] changedMasked = ids.clone();
            changedMasked[1 * (t + 1) + t] = (ids[1 * (t + 1) + t] + 1) % Tiny.V;
            long[] changedCounted = ids.clone();
            changedCounted[0 * (t + 1) + t] = (ids[0 * (t + 1) + t] + 1) % Tiny.V;
            double base0 = Tiny.scalar(r.loss());
            double masked = Tiny.scalar(lm.loss(step.create(changedMasked, new Shape(b, t + 1)), mask).loss());
            double counted = Tiny.scalar(lm.loss(step.create(changedCounted, new Shape(b, t + 1)), mask).loss());
            assertEquals(base0, masked, 0.0);
            assertNotEquals(base0, counted, 1e-6);

            LossResult none = lm.loss(step.create(ids, new Shape(b, t + 1)), step.zeros(new Shape(b, t)));
            assertEquals(0, none.tokens());
            assertEquals(0.0, Tiny.scalar(none.loss()));
        }
    }
}
