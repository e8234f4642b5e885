import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.Random;
import org.tinker.config.ModelParams;
import org.tinker.model.LM;

/**
 * Forward+backward time of the model alone (no trainer, no data): 4 layers, width 256, ff 1024, B=16, T=256, V=100,
 * dropout 0.1, median of 5 steps after 2 warm-up steps, for each layer_architecture given (default both names).
 *   java -cp "target/runner.jar:target/lib/*" bench/ForwardBackward.java [torch-transformer,custom-transformer]
 */
public final class ForwardBackward {
    public static void main(String[] args) {
        String archs = args.length > 0 ? args[0] : "torch-transformer,custom-transformer";
        try (NDManager base = NDManager.newBaseManager()) {
            for (String arch : archs.split(",")) {
                ModelParams mp = ModelParams.DEFAULTS.with("n_layers", 4).with("dim", 256).with("dim_ff_factor", 4)
                        .with("max_seq_len", 256).with("tokenizer_source_name", "char").with("layer_architecture", arch);
                try (LM lm = new LM(mp, 100, base, 1)) {
                    lm.setDropout(0.1);
                    lm.setTraining(true);
                    Random r = new Random(0);
                    double[] ms = new double[7];
                    for (int i = 0; i < ms.length; i++) {
                        long t0 = System.nanoTime();
                        try (NDManager step = base.newSubManager();
                             GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                            long[] ids = new long[16 * 257];
                            for (int j = 0; j < ids.length; j++) ids[j] = r.nextInt(100);
                            NDArray x = step.create(ids, new Shape(16, 257));
                            gc.backward(lm.loss(x, step.ones(new Shape(16, 256))).loss());
                        }
                        lm.zeroGradients();
                        ms[i] = (System.nanoTime() - t0) / 1e6;
                    }
                    double[] timed = java.util.Arrays.copyOfRange(ms, 2, ms.length);
                    java.util.Arrays.sort(timed);
                    System.out.printf("%s: %.0f ms per forward+backward (median of 5; 4x256, ff=1024, B=16, T=256, V=100)%n",
                            arch, timed[timed.length / 2]);
                }
            }
        }
    }
}
