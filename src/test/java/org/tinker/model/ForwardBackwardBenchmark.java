package org.tinker.model;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.tinker.config.ModelParams;

/**
 * Forward+backward timing of a 4-layer, 256-wide model at B=16, T=256, both architectures.
 * Off by default; run with {@code mvn -o test -Dtest=ForwardBackwardBenchmark -Dtinker.bench=true}.
 */
@EnabledIfSystemProperty(named = "tinker.bench", matches = "true")
class ForwardBackwardBenchmark {

    @Test
    void forwardBackward() {
        try (NDManager base = NDManager.newBaseManager()) {
            for (String arch : System.getProperty("tinker.bench.archs", "torch-transformer,custom-transformer").split(",")) {
                ModelParams mp = ModelParams.DEFAULTS.with("n_layers", 4).with("dim_ff_factor", 4)
                        .with("max_seq_len", 256).with("tokenizer_source_name", "char")
                        .with("layer_architecture", arch);
                try (LM lm = new LM(mp, 100, base, 1)) {
                    lm.setDropout(0.1);
                    lm.setTraining(true);
                    int reps = 5;
                    long total = 0;
                    for (int i = 0; i < reps + 2; i++) {
                        long t0 = System.nanoTime();
                        try (NDManager step = base.newSubManager();
                             GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                            NDArray ids = Tiny.randomIds(step, i, 16, 257);
                            gc.backward(lm.loss(ids, step.ones(new Shape(16, 256))).loss());
                        }
                        lm.zeroGradients();
                        if (i >= 2) total += System.nanoTime() - t0;
                    }
                    System.out.printf("BENCH %s: %.0f ms per forward+backward (4x256, ff=1024, B=16, T=256, V=100)%n",
                            arch, total / 1e6 / reps);
                }
            }
        }
    }
}
