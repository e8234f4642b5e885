import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The yardstick for tinker's framework overhead: the benchmark models trained by a bare DJL loop (raw
 * JniUtils/NDArray ops, DJL's native Adam update, one NDManager scope per step), with none of tinker's
 * classes (no longer part of bench/compare.sh). Usage, after mvn package:
 *   javac -d target/bench-bare -cp "target/runner.jar:target/lib/*" bench/BareLoop.java
 *   java -Dai.djl.offline=true -cp "target/bench-bare:target/runner.jar:target/lib/*" BareLoop bench-char|bench-ptb [steps]
 */
public final class BareLoop {
    static PtNDArray pt(NDArray a) { return (PtNDArray) a; }

    public static void main(String[] args) {
        String config = args[0];
        int steps = args.length > 1 ? Integer.parseInt(args[1]) : 60;
        // vocab, layers, heads, dim, ff, T, batch
        int[] c = config.equals("bench-char") ? new int[] {69, 4, 4, 256, 1024, 256, 16} : new int[] {10003, 2, 4, 128, 512, 64, 32};
        int V = c[0], L = c[1], H = c[2], D = c[3], FF = c[4], T = c[5], B = c[6], hd = D / H;
        NDManager base = NDManager.newBaseManager();
        List<NDArray> params = new ArrayList<>();
        NDArray wte = p(base, params, 0.02f, V, D), wpe = p(base, params, 0.02f, T, D);
        NDArray[][] blk = new NDArray[L][];
        for (int l = 0; l < L; l++)
            blk[l] = new NDArray[] {ones(base, params, D), zeros(base, params, D), p(base, params, 0.02f, 3 * D, D), zeros(base, params, 3 * D),
                    p(base, params, 0.02f, D, D), zeros(base, params, D), ones(base, params, D), zeros(base, params, D),
                    p(base, params, 0.02f, FF, D), zeros(base, params, FF), p(base, params, 0.02f, D, FF), zeros(base, params, D)};
        NDArray lnfW = ones(base, params, D), lnfB = zeros(base, params, D), head = p(base, params, 0.02f, V, D);
        List<NDArray> m = new ArrayList<>(), v = new ArrayList<>();
        for (NDArray a : params) { m.add(base.zeros(a.getShape())); v.add(base.zeros(a.getShape())); }
        float[] maskData = new float[T * T];
        for (int i = 0; i < T; i++) for (int j = i + 1; j < T; j++) maskData[i * T + j] = Float.NEGATIVE_INFINITY;
        NDArray mask = base.create(maskData, new Shape(T, T));
        long[] ids = new long[B * (T + 1)];
        java.util.Random r = new java.util.Random(0);
        for (int i = 0; i < ids.length; i++) ids[i] = r.nextInt(V);
        double[] ends = new double[steps];
        for (int s = 0; s < steps; s++) {
            try (NDManager step = base.newSubManager()) {
                NDArray all = step.create(ids, new Shape(B, T + 1));
                NDArray x = all.get(":, :-1"), y = all.get(":, 1:");
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    NDArray h = JniUtils.embedding(pt(x), pt(wte), false).add(wpe);
                    for (NDArray[] w : blk) {
                        NDArray a = JniUtils.layerNorm(pt(h), new Shape(D), pt(w[0]), pt(w[1]), 1e-5);
                        NDArray qkv = JniUtils.linear(pt(a), pt(w[2]), pt(w[3])).reshape(B, T, 3, H, hd).transpose(2, 0, 3, 1, 4);
                        NDArray sc = JniUtils.matmul(pt(qkv.get(0).mul(1.0 / Math.sqrt(hd))), pt(qkv.get(1).swapAxes(2, 3))).addi(mask);
                        NDArray z = JniUtils.matmul(JniUtils.softmax(pt(sc), -1, sc.getDataType()), pt(qkv.get(2)))
                                .transpose(0, 2, 1, 3).reshape(B, T, D);
                        h = h.add(JniUtils.linear(pt(z), pt(w[4]), pt(w[5])));
                        NDArray f = JniUtils.layerNorm(pt(h), new Shape(D), pt(w[6]), pt(w[7]), 1e-5);
                        h = h.add(JniUtils.linear(JniUtils.gelu(JniUtils.linear(pt(f), pt(w[8]), pt(w[9]))), pt(w[10]), pt(w[11])));
                    }
                    NDArray logits = JniUtils.linear(JniUtils.layerNorm(pt(h), new Shape(D), pt(lnfW), pt(lnfB), 1e-5), pt(head), null);
                    NDArray loss = JniUtils.logSoftmax(pt(logits), -1, logits.getDataType()).gather(y.expandDims(2), 2).neg().mean();
                    gc.backward(loss);
                }
                // clip by global norm 0.5, then Adam
                NDList sq = new NDList();
                List<NDArray> grads = new ArrayList<>();
                for (NDArray a : params) { NDArray g = a.getGradient(); g.attach(step); grads.add(g); sq.add(g.square().sum()); }
                double norm = Math.sqrt(ai.djl.ndarray.NDArrays.stack(sq).sum().getFloat());
                if (norm > 0.5) for (NDArray g : grads) g.muli(0.5 / (norm + 1e-6));
                double bc1 = 1 - Math.pow(0.9, s + 1), bc2 = 1 - Math.pow(0.999, s + 1);
                for (int i = 0; i < params.size(); i++)
                    ((ai.djl.pytorch.engine.PtNDArrayEx) params.get(i).getNDArrayInternal()).adamUpdate(
                            new NDList(params.get(i), grads.get(i), m.get(i), v.get(i)), new NDList(params.get(i)),
                            1e-3f, (float) (Math.sqrt(bc2) / bc1), 0f, 1f, -1f, 0.9f, 0.999f, 1e-8f, false, true);
                for (NDArray a : params) JniUtils.zeroGrad(pt(a));
            }
            ends[s] = System.nanoTime() / 1e9;
        }
        int warm = Math.max(3, steps / 10), per = Math.max(1, (steps - 1 - warm) / 5);
        double[] rates = new double[5];
        for (int w = 0; w < 5; w++) rates[w] = per * (double) B * T / (ends[warm + (w + 1) * per] - ends[warm + w * per]);
        Arrays.sort(rates);
        System.out.printf("{\"impl\": \"bare-djl\", \"config\": \"%s\", \"threads\": %d, \"median_tokens_per_sec\": %.1f, \"min\": %.1f, \"max\": %.1f}%n",
                config, JniUtils.getNumThreads(), rates[2], rates[0], rates[4]);
    }

    static NDArray p(NDManager m, List<NDArray> ps, float std, int... shape) {
        NDArray a = m.randomNormal(0, std, new Shape(Arrays.stream(shape).asLongStream().toArray()), ai.djl.ndarray.types.DataType.FLOAT32);
        a.setRequiresGradient(true);
        ps.add(a);
        return a;
    }

    static NDArray ones(NDManager m, List<NDArray> ps, int n) { NDArray a = m.ones(new Shape(n)); a.setRequiresGradient(true); ps.add(a); return a; }

    static NDArray zeros(NDManager m, List<NDArray> ps, int n) { NDArray a = m.zeros(new Shape(n)); a.setRequiresGradient(true); ps.add(a); return a; }
}
