package org.tinker.train;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.tinker.engine.Ops;
import org.tinker.model.ForwardOptions;
import org.tinker.model.LM;
import org.tinker.model.LossResult;

/**
 * Data-parallel training of one LM over several devices of one machine ({@code --gpu-id=0,1} or {@code all}).
 * Replica 0 is the trainer's own LM on the first device; each other device holds a copy of it in its own
 * NDManager. A training batch is cut into contiguous row shards, one per replica; each replica computes its
 * shard's loss and gradients, and the gradients are summed into replica 0 with weights that make the result
 * the gradient of the token-weighted mean loss over the whole batch (shard k's mean loss is weighted by
 * tokens_k / tokens, not 1/K: shards hold different numbers of target tokens). The optimizer steps replica 0
 * only; {@link #broadcast()} then copies its weights to the others. So training on K devices gives the same
 * weights as training on one with the same global batch, up to float rounding (tested on CPU replicas).
 *
 * <p>Replicas on GPUs run their shards concurrently, one thread each; replicas on the CPU (tests) run one
 * after another, which keeps dropout deterministic (the CPU generator is shared). Dropout masks differ from
 * single-device training in any case: each shard draws its own.
 */
public final class DataParallel implements AutoCloseable {
    private final LM master;
    private final List<Device> devices;
    private final List<LM> replicas = new ArrayList<>(); // replicas.get(0) == master
    private final List<NDManager> managers = new ArrayList<>(); // of replicas 1..K-1
    private final ExecutorService pool;

    /** Gradient-weighted statistics of one data-parallel batch, as {@link LossResult} reports them for one device. */
    public record Result(double loss, long tokens, long correct) {}

    /**
     * @param master the trainer's LM; it must live on {@code devices.get(0)}
     * @param devices two or more devices (CPU devices may repeat: each replica gets its own manager)
     */
    public DataParallel(LM master, List<Device> devices) {
        this(master, devices, devices.stream().anyMatch(Device::isGpu));
    }

    /** @param concurrent run the replicas' shards in parallel threads (the GPU way; tests use it on CPU replicas too) */
    DataParallel(LM master, List<Device> devices, boolean concurrent) {
        if (devices.size() < 2) throw new IllegalArgumentException("data-parallel needs at least 2 devices, got " + devices);
        this.master = master;
        this.devices = List.copyOf(devices);
        replicas.add(master);
        LinkedHashMap<String, NDArray> weights = master.parameters();
        for (int k = 1; k < devices.size(); k++) {
            NDManager m = NDManager.newBaseManager(devices.get(k));
            managers.add(m);
            LM r = new LM(master.params(), master.vocabSize(), m, 0, master.dtype());
            try (NDManager tmp = m.newSubManager()) {
                Map<String, NDArray> onDevice = new LinkedHashMap<>();
                weights.forEach((name, w) -> {
                    NDArray c = w.toDevice(r.manager().getDevice(), true);
                    c.attach(tmp);
                    onDevice.put(name, c);
                });
                r.loadParameters(onDevice);
            }
            r.setDropout(master.dropout());
            r.setLabelSmoothing(master.labelSmoothing());
            r.setPrecision(master.precision());
            replicas.add(r);
        }
        this.pool = concurrent ? Executors.newFixedThreadPool(devices.size(), t -> {
            Thread th = new Thread(t, "data-parallel");
            th.setDaemon(true);
            return th;
        }) : null;
    }

    public List<Device> devices() {
        return devices;
    }

    public int size() {
        return replicas.size();
    }

    /**
     * Forward and backward of one batch ([B,T] inputs {@code x}, targets {@code y}, loss mask), split in row
     * shards over the replicas. Adds {@code scale} × d(token-weighted mean loss of the batch)/dθ to replica
     * 0's gradients (scale = 1/accumulate_grad_batches in the trainer) and leaves the other replicas'
     * gradients at zero. Returns the batch's token-weighted mean loss, target tokens and correct argmaxes.
     */
    public Result forwardBackward(NDArray x, NDArray y, NDArray mask, ForwardOptions fo, double scale) {
        int rows = (int) x.getShape().get(0);
        int k = Math.min(replicas.size(), rows);
        long totalTokens = Math.round(mask.sum().toType(DataType.FLOAT64, false).getDouble());
        double denom = Math.max(totalTokens, 1);
        List<java.util.concurrent.Callable<double[]>> work = new ArrayList<>();
        for (int s = 0; s < k; s++) {
            int from = (int) ((long) rows * s / k), to = (int) ((long) rows * (s + 1) / k);
            LM r = replicas.get(s);
            work.add(() -> shard(r, x, y, mask, from, to, fo, scale / denom));
        }
        List<double[]> parts = new ArrayList<>();
        if (pool == null) {
            for (var w : work) {
                try {
                    parts.add(w.call());
                } catch (RuntimeException e) {
                    throw e;
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }
        } else {
            List<Future<double[]>> fs = new ArrayList<>();
            for (var w : work) fs.add(pool.submit(w));
            for (Future<double[]> f : fs) {
                try {
                    parts.add(f.get());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted during a data-parallel step", e);
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof RuntimeException re) throw re;
                    throw new IllegalStateException(e.getCause());
                }
            }
        }
        double lossSum = 0;
        long tokens = 0, correct = 0;
        for (double[] p : parts) {
            lossSum += p[0] * p[1];
            tokens += (long) p[1];
            correct += (long) p[2];
        }
        reduceGradients(k);
        return new Result(tokens == 0 ? 0 : lossSum / tokens, tokens, correct);
    }

    /** One replica's shard: backward of (its mean loss × its tokens × weight); returns {mean loss, tokens, correct}. */
    private double[] shard(LM r, NDArray x, NDArray y, NDArray mask, int from, int to, ForwardOptions fo, double weightPerToken) {
        r.setTraining(master.isTraining());
        Device d = r.manager().getDevice();
        try (NDManager step = r.manager().newSubManager()) {
            String rowsIdx = from + ":" + to;
            NDArray xs = slice(x, rowsIdx, d, step), ys = slice(y, rowsIdx, d, step), ms = slice(mask, rowsIdx, d, step);
            // Not DJL's GradientCollector: only one may be open at a time in the whole JVM, while replicas on
            // GPUs run in parallel threads. Autograd's grad mode is thread-local in libtorch, so set it here.
            boolean wasGrad = JniUtils.isGradMode();
            JniUtils.setGradMode(true);
            try {
                LossResult lr = r.loss(xs, ys, ms, fo);
                NDArray objective = Ops.mul(lr.loss(), lr.tokens() * weightPerToken);
                NDArray seed = objective.onesLike();
                JniUtils.backward((PtNDArray) objective, (PtNDArray) seed, false, false);
                return new double[] {Ops.scalar(lr.loss()), lr.tokens(), lr.correct()};
            } finally {
                JniUtils.setGradMode(wasGrad);
            }
        }
    }

    private static NDArray slice(NDArray a, String rows, Device d, NDManager into) {
        NDArray s = a.get(rows);
        NDArray out = s.getDevice().equals(d) ? s : s.toDevice(d, true);
        out.attach(into);
        if (out != s) s.close();
        return out;
    }

    /** Adds replicas 1..k-1's gradients into replica 0's, then zeroes theirs. */
    private void reduceGradients(int k) {
        LinkedHashMap<String, NDArray> mine = master.parameters();
        Device d0 = master.manager().getDevice();
        try (NDManager tmp = master.manager().newSubManager()) {
            for (int s = 1; s < k; s++) {
                LinkedHashMap<String, NDArray> theirs = replicas.get(s).parameters();
                for (Map.Entry<String, NDArray> e : mine.entrySet()) {
                    NDArray g0 = e.getValue().getGradient();
                    g0.attach(tmp);
                    NDArray gs = theirs.get(e.getKey()).getGradient();
                    gs.attach(tmp);
                    NDArray moved = gs.getDevice().equals(d0) ? gs : gs.toDevice(d0, true);
                    moved.attach(tmp);
                    g0.addi(moved);
                }
                replicas.get(s).zeroGradients();
            }
        }
    }

    /** Copies replica 0's weights to every other replica (call after each optimizer step). */
    public void broadcast() {
        LinkedHashMap<String, NDArray> mine = master.parameters();
        for (int s = 1; s < replicas.size(); s++) {
            LM r = replicas.get(s);
            Device d = r.manager().getDevice();
            LinkedHashMap<String, NDArray> theirs = r.parameters();
            try (NDManager tmp = r.manager().newSubManager()) {
                for (Map.Entry<String, NDArray> e : mine.entrySet()) {
                    NDArray src = e.getValue().toDevice(d, true);
                    src.attach(tmp);
                    theirs.get(e.getKey()).set(new NDIndex("..."), src);
                }
            }
            r.zeroGradients();
        }
    }

    /** Replica {@code k} (0 = the trainer's own LM), for tests. */
    public LM replica(int k) {
        return replicas.get(k);
    }

    @Override
    public void close() {
        if (pool != null) pool.shutdownNow();
        for (int s = 1; s < replicas.size(); s++) replicas.get(s).close();
        for (NDManager m : managers) m.close();
    }
}
