package org.tinker.model;

import static org.junit.jupiter.api.Assertions.*;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tinker.config.ModelParams;

/**
 * Issue: the modern config's sporadic NaN. DJL's {@code x.mul(2.0)} / {@code x.div(2.0)} wrap the number in a
 * temporary tensor over a direct ByteBuffer and close it at once; autograd keeps that tensor for the backward pass, so
 * once the garbage collector frees the buffer the backward pass reads freed memory (whatever was written there since).
 * Here the freed memory is taken back and filled with NaN between forward and backward, as a busy JVM does by chance:
 * the soft-capped model's gradients must not change.
 */
class SoftcapBackwardTest extends WithBaseManager {
    private static final ModelParams CAPPED = Tiny.params("torch-transformer").with("norm_first", true).with("logit_softcap", 1.5);

    @Test
    void softCapGradientsSurviveTheGarbageCollectorBetweenForwardAndBackward() throws Exception {
        try (LM lm = new LM(CAPPED, Tiny.V, base, 4); NDManager m = base.newSubManager()) {
            lm.parameters().get(LM.LM_HEAD).muli(30f); // logits beyond the cap: the cap's derivative matters
            NDArray ids = Tiny.randomIds(m, 3, 2, 8);
            NDArray mask = m.ones(new Shape(2, 7));
            float[] expected = headGradient(lm, ids, mask, false);
            for (float g : expected) assertTrue(Float.isFinite(g));
            assertTrue(Math.abs(expected[0]) + Math.abs(expected[1]) > 0, "the head learns");
            for (int attempt = 0; attempt < 3; attempt++)
                assertArrayEquals(expected, headGradient(lm, ids, mask, true), 1e-6f,
                        "lm_head gradient after a GC between forward and backward (attempt " + attempt + ")");
        }
    }

    /** d loss / d lm_head; with {@code churn}, a full GC and NaN-filled direct buffers between forward and backward. */
    private static float[] headGradient(LM lm, NDArray ids, NDArray mask, boolean churn) throws InterruptedException {
        NDArray head = lm.parameters().get(LM.LM_HEAD);
        try (NDManager step = ids.getManager().newSubManager()) {
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray loss = lm.loss(ids, mask).loss();
                List<ByteBuffer> held = new ArrayList<>();
                if (churn) {
                    System.gc();
                    Thread.sleep(200); // the reference handler frees unreachable direct buffers
                    for (int i = 0; i < 20_000; i++) { // small mallocs take back freed small chunks
                        ByteBuffer b = ByteBuffer.allocateDirect(4).order(ByteOrder.nativeOrder());
                        b.putFloat(0, Float.NaN);
                        held.add(b);
                    }
                }
                gc.backward(loss);
                NDArray grad = head.getGradient();
                grad.attach(step);
                float[] g = grad.toFloatArray();
                held.clear();
                return g;
            } finally {
                for (NDArray p : lm.parameters().values()) JniUtils.zeroGrad((PtNDArray) p);
            }
        }
    }
}
