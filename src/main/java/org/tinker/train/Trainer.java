package org.tinker.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.tinker.config.ConfigError;
import org.tinker.config.Params;
import org.tinker.config.PyLiteral;
import org.tinker.config.RunSpec;
import org.tinker.config.TrainParams;
import org.tinker.data.Batch;
import org.tinker.data.DataModule;
import org.tinker.data.Tokenizers;
import org.tinker.engine.Kernels;
import org.tinker.engine.Ops;
import org.tinker.model.Evaluation;
import org.tinker.model.ForwardOptions;
import org.tinker.model.LM;
import org.tinker.model.LossResult;
import org.tinker.runs.Checkpoint;
import org.tinker.runs.StatsListener;
import org.tinker.runs.TrainStats;
import org.tinker.runs.TrainerState;

/**
 * Trains an LM on a DataModule: Adam(W), warm-up then a schedule, clipping by global norm, gradient
 * accumulation, validation every {@code val_check_epoch_frac}, a sample after each validation, checkpoints.
 * Every statistic goes through {@link #log} to the listeners (train_stats, W&B, progress bar).
 *
 * <p>Deterministic on CPU: data order comes from (seed, epoch), dropout from (seed, batch index); both are
 * recomputed rather than carried, so a run resumed from a checkpoint continues exactly as the original.
 */
public final class Trainer {
    /** How a run is wired to the outside world. */
    public record Options(Path runDir, boolean save, List<StatsListener> listeners, PrintStream out, boolean progressBar) {}

    /** What a finished run reports. */
    public record Result(double finalValLoss, double testLoss, long optSteps, long trainTokens, double tokensPerSecond,
                         Path finalCheckpoint) {}

    private final RunSpec spec;
    private final TrainParams tp;
    private final LM lm;
    private final DataModule data;
    private final Options opts;
    private final TrainStats stats = new TrainStats();
    private final List<StatsListener> listeners = new ArrayList<>();
    private final List<TrainingCallback> callbacks = new ArrayList<>();
    private final LrSchedule schedule;
    private final Optimizer optimizer;
    private final LinkedHashMap<String, NDArray> params;
    private TrainerState state = new TrainerState();
    private final long startCpuNanos = cpuNanos();
    private double trainSeconds;
    /** When this process started training (System.nanoTime), for wall_time across resumes; 0 = not yet. */
    private long trainStartNanos;
    private long tokensThisProcess;
    private long batchesThisProcess;
    /** Stop after this many training batches in this process (for tests that simulate a crash); -1 = never. */
    private long interruptAfterBatches = -1;
    private boolean finalEvaluation = true;
    private DataParallel dataParallel;
    private StopRequest stop;

    public Trainer(RunSpec spec, LM lm, DataModule data, Options opts) {
        this.spec = spec;
        this.tp = spec.tp();
        this.lm = lm;
        this.data = data;
        this.opts = opts;
        this.params = lm.trainableParameters(); // with LoRA: only the adapters
        this.schedule = new LrSchedule(tp);
        this.optimizer = tp.optimizer() == TrainParams.Optimizer.MUON
                ? new Muon(params, tp.muon_lr(), tp.muon_momentum(), tp.lr(), tp.adam_beta1(), tp.adam_beta2(), tp.weight_decay(),
                        tp.weight_decay_matrices_only(), tp.precision() == TrainParams.Precision.BF16)
                : new AdamW(params, tp.adam_beta1(), tp.adam_beta2(), 1e-8, tp.weight_decay(), tp.weight_decay_matrices_only());
        listeners.add(stats);
        listeners.addAll(opts.listeners());
        state.seed = tp.random_seed();
        lm.setDropout(new LM.Dropout(tp.embd_dropout(), tp.attnDropout(), tp.residDropout()));
        lm.setLabelSmoothing(tp.label_smoothing());
        lm.setPrecision(tp.precision());
        // the config's training-loop recipes are part of the run, as its model recipes are part of the model: every
        // trainer of this spec runs them (a CLI run, a grid point, a resumed run, a benchmark, the Java API)
        callbacks.addAll(TrainingRecipes.of(tp.callbacks()));
        log("n_train_samples", 0);
        log("n_train_batches", 0);
        log("n_opt_steps", 0);
    }

    public TrainStats stats() {
        return stats;
    }

    public TrainerState state() {
        return state;
    }

    /**
     * Adds a training-loop extension (see {@link TrainingCallback}); callbacks run in the order added, after those the
     * spec's {@code callbacks} names.
     */
    public Trainer addCallback(TrainingCallback callback) {
        callbacks.add(callback);
        return this;
    }

    /** Trains data-parallel over the devices of {@code dp} (whose replica 0 is this trainer's LM); null = one device. */
    public Trainer dataParallel(DataParallel dp) {
        this.dataParallel = dp;
        return this;
    }

    /**
     * No validation and test after the last step, for benchmarks that time training alone (on GPT-2 small's shape on
     * 2 cores, WikiText-2's validation and test splits take longer than a 60-step benchmark).
     */
    public Trainer withoutFinalEvaluation() {
        this.finalEvaluation = false;
        return this;
    }

    /** Simulates a crash after n training batches in this process (tests of resume). */
    public void interruptAfter(long batches) {
        this.interruptAfterBatches = batches;
    }

    /** Stops at the next optimizer-step boundary with a checkpoint of that step once {@code stop} is requested. */
    public Trainer stopOn(StopRequest stop) {
        this.stop = stop;
        return this;
    }

    /**
     * Thrown at the step boundary after a {@link StopRequest}: the checkpoint of that step ({@link #checkpoint}) is
     * written; {@code runner resume} continues from it. No stack trace: the signal's hook says how to resume.
     */
    public static final class Stopped extends RuntimeException {
        private final Path checkpoint;
        private final long optSteps;

        Stopped(Path checkpoint, long optSteps) {
            super("stopped after " + optSteps + " optimizer steps; checkpoint " + checkpoint, null, false, false);
            this.checkpoint = checkpoint;
            this.optSteps = optSteps;
        }

        public Path checkpoint() {
            return checkpoint;
        }

        public long optSteps() {
            return optSteps;
        }
    }

    /** Thrown by {@link #interruptAfter}. */
    public static final class Interrupted extends RuntimeException {
        Interrupted(String m) {
            super(m);
        }
    }

    /**
     * The loss or the weights stopped being finite (a learning rate too high, no clipping, a callback that broke the
     * weights): nothing after this point is worth saving. One line, no stack trace; the CLI exits 1. The checkpoints
     * already written stay as they are (each was checked finite before it was written) and the run is not marked
     * finished, so {@code runner list} shows it unfinished and {@code runner verify} can still check them.
     */
    public static final class Diverged extends RuntimeException {
        Diverged(String m) {
            super(m, null, false, false);
        }
    }

    private Diverged diverged(String what) {
        String last = state.checkpoint == null ? "no checkpoint was written" : "its last checkpoint (" + state.checkpoint + ") is kept";
        return new Diverged((opts.save() ? opts.runDir() + ": " : "") + what + " after " + state.nOptSteps + " optimizer steps ("
                + state.nTrainSamples + " samples): training stopped, the run is not finished and " + last
                + "; try a lower tp.lr or tp.gradient_clip_val > 0");
    }

    /** A checkpoint could not be written (an IOException: disk full, read-only file system). One line; the CLI exits 1. */
    public static final class SaveFailed extends RuntimeException {
        SaveFailed(String m) {
            super(m, null, false, false);
        }
    }

    /** An IOException in words: its class says what happened (NoSuchFile, AccessDenied...) when its message is a path. */
    static String ioReason(IOException e) {
        String what = e.getClass().getSimpleName().replaceAll("Exception$", "").replaceAll("([a-z])([A-Z])", "$1 $2").toLowerCase();
        String m = e.getMessage() == null ? "" : e.getMessage();
        if (e instanceof java.nio.file.FileSystemException f && f.getReason() != null) m = f.getFile() + ": " + f.getReason();
        else if (e instanceof java.nio.file.FileSystemException f) m = f.getFile() + ": " + what;
        return m.lines().findFirst().orElse(what);
    }

    /** Throws {@link Diverged} when a trainable weight is NaN or infinite: a checkpoint must never hold such weights. */
    private void requireFiniteWeights() {
        try (NDManager tmp = lm.manager().newSubManager()) {
            for (Map.Entry<String, NDArray> e : params.entrySet()) {
                NDArray p = e.getValue();
                NDArray bad = p.isNaN().logicalOr(p.isInfinite()).any();
                bad.attach(tmp);
                if (bad.getBoolean()) throw diverged("weight " + e.getKey() + " is not finite");
            }
        }
    }

    /** The one way statistics leave the trainer. */
    public void log(String name, double value) {
        StatsListener.Counters at = counters();
        state.statCounter++;
        for (StatsListener l : listeners) l.onStat(name, value, at);
    }

    private StatsListener.Counters counters() {
        return new StatsListener.Counters(state.statSyncer, state.nTrainSamples, state.statCounter);
    }

    public Result train() {
        Throwable error = null;
        try {
            return trainLoop();
        } catch (RuntimeException | Error e) {
            error = e;
            throw e;
        } finally {
            for (StatsListener l : listeners) l.onEnd(error);
        }
    }

    private Result trainLoop() {
        int nb = data.batchOrder(DataModule.Split.TRAIN, tp.batch_size(), false, 0).length;
        if (nb == 0) throw new ConfigError("dataset " + spec.dp().dataset_name() + ": the training split is empty");
        int valEvery = tp.val_check_epoch_frac() instanceof Integer i ? i
                : Math.max(1, (int) Math.round(tp.val_check_epoch_frac().doubleValue() * nb));
        long plannedSteps = (long) tp.epochs() * ((nb + tp.accumulate_grad_batches() - 1) / tp.accumulate_grad_batches());
        if (tp.max_steps() > 0) plannedSteps = Math.min(plannedSteps, tp.max_steps());
        ProgressBar bar = opts.progressBar() ? new ProgressBar(opts.out(), plannedSteps) : null;
        long t0 = System.nanoTime();
        trainStartNanos = t0;
        boolean budgetDone = tp.max_steps() > 0 && state.nOptSteps >= tp.max_steps();
        NDManager base = lm.manager();
        Gradients grads = null; // this optimizer step's, summed over its micro-batches
        outer:
        for (; state.epoch < tp.epochs() && !budgetDone; state.epoch++) {
            int[][] order = data.batchOrder(DataModule.Split.TRAIN, tp.batch_size(), true, epochSeed(state.epoch));
            for (; state.batchInEpoch < order.length; ) {
                int b = state.batchInEpoch;
                Batch batch = data.batch(DataModule.Split.TRAIN, order[b]);
                double loss, acc;
                long tokens;
                java.util.Map<String, Double> extra;
                lm.setTraining(true);
                JniUtils.setSeed(state.seed * 1_000_003L + state.statSyncer);
                TrainingCallback.Step at = new TrainingCallback.Step(this, lm, state.statSyncer, state.nOptSteps,
                        state.nTrainSamples, new Random(state.seed * 1_000_003L + state.statSyncer));
                try (NDManager step = base.newSubManager()) {
                    NDArray ids = Evaluation.idsOf(step, batch), mask = Evaluation.maskOf(step, batch);
                    NDArray x = ids.get(":, :-1"), y = ids.get(":, 1:"); // [B,T] inputs and targets
                    ForwardOptions fo = ForwardOptions.DEFAULT;
                    for (TrainingCallback cb : callbacks) x = cb.inputs(x, at);
                    for (TrainingCallback cb : callbacks) fo = cb.forwardOptions(x, at, fo);
                    if (dataParallel != null) { // the batch split over devices (DataParallel), gradients summed into lm
                        DataParallel.Result r = dataParallel.forwardBackward(x, y, mask, fo, 1.0 / tp.accumulate_grad_batches());
                        loss = r.loss();
                        extra = java.util.Map.of(); // auxiliary losses are not gathered across shards
                        tokens = r.tokens();
                        acc = r.tokens() == 0 ? 0 : (double) r.correct() / r.tokens();
                    } else try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                        LossResult r;
                        NDArray objective;
                        // The forward's intermediates live in a scope of their own (they land in x's manager), closed
                        // before the backward: autograd holds what the backward needs and frees each saved tensor
                        // as the backward passes it, as PyTorch frees an intermediate at its last reference, instead
                        // of everything staying until the step's scope closes (GPT-2 small: see docs/performance.md).
                        try (NDManager forward = step.newSubManager()) {
                            x.attach(forward);
                            r = lm.loss(x, y, mask, fo);
                            objective = tp.accumulate_grad_batches() > 1 ? Ops.div(r.loss(), tp.accumulate_grad_batches()) : r.loss();
                            r.loss().attach(step);
                            objective.attach(step);
                        }
                        if (grads == null) grads = new Gradients(lm, Kernels.available());
                        grads.backward(gc, objective);
                        loss = Ops.scalar(r.loss());
                        extra = r.extra();
                        tokens = r.tokens();
                        acc = r.tokens() == 0 ? 0 : (double) r.correct() / r.tokens();
                    }
                }
                // checked before anything of this batch is counted or logged: the state stays that of the last good step
                if (!Double.isFinite(loss)) throw diverged("training loss is " + PyLiteral.repr(loss));
                state.batchInEpoch++;
                state.statSyncer++;
                state.nTrainSamples += batch.size();
                state.nTrainBatches++;
                state.nTrainTokens += tokens;
                tokensThisProcess += tokens;
                state.epochLossSum += loss;
                state.epochAccSum += acc;
                state.epochBatches++;
                boolean epochEnd = state.batchInEpoch == order.length;
                boolean stepNow = state.nTrainBatches % tp.accumulate_grad_batches() == 0 || epochEnd;
                long samplesBefore = state.nTrainSamples - batch.size();
                double lr = schedule.lrAt(state.nOptSteps);
                if (stepNow) {
                    java.util.Set<String> frozen = new java.util.HashSet<>();
                    for (TrainingCallback cb : callbacks) frozen.addAll(cb.frozen(at));
                    // data parallelism: the replicas' gradients are summed into the parameters' .grad
                    if (grads == null) grads = new Gradients(lm, false);
                    Map<String, NDArray> g = grads.of(frozen);
                    clipGradients(g.values());
                    optimizer.step(lr, g);
                    grads.close();
                    grads = null;
                    if (dataParallel != null) dataParallel.broadcast();
                    schedule.observe(loss, state.nOptSteps);
                    state.nOptSteps++;
                    TrainingCallback.Step after = new TrainingCallback.Step(this, lm, state.statSyncer, state.nOptSteps,
                            state.nTrainSamples, at.random());
                    for (TrainingCallback cb : callbacks) cb.afterOptimizerStep(after);
                    if (state.nOptSteps % tp.hyperparams_log_freq() == 0) {
                        log("n_active_params", params.values().stream().mapToLong(a -> a.getShape().size()).sum());
                        log("process_time", processTime());
                    }
                }
                log("stat/train_batch_loss:main", loss);
                log("stat/train_batch_acc:main", acc);
                for (java.util.Map.Entry<String, Double> e : extra.entrySet()) log("stat/train_batch_" + e.getKey() + ":main", e.getValue());
                log("avg_lr", lr);
                log("n_train_samples", state.nTrainSamples);
                log("n_train_batches", state.nTrainBatches);
                log("n_opt_steps", state.nOptSteps);
                log("n_train_tokens", state.nTrainTokens);
                trainSeconds = (System.nanoTime() - t0) / 1e9;
                if (bar != null) bar.update(state.nOptSteps, loss, lr, tokensThisProcess / Math.max(trainSeconds, 1e-9));
                budgetDone = tp.max_steps() > 0 && state.nOptSteps >= tp.max_steps();
                boolean validated = false;
                if (stepNow && ((b + 1) % valEvery == 0 || epochEnd)) {
                    validate(bar);
                    validated = true;
                }
                if (epochEnd) {
                    log("process_time", processTime());
                    log("stat/train_loss:main", state.epochLossSum / state.epochBatches);
                    log("stat/train_acc:main", state.epochAccSum / state.epochBatches);
                    state.epochLossSum = state.epochAccSum = 0;
                    state.epochBatches = 0;
                    state.epoch++;
                    state.batchInEpoch = 0;
                }
                boolean savedThisStep = false;
                if (stepNow && opts.save() && !budgetDone) {
                    int every = tp.checkpoint_every();
                    boolean crossed = every > 0 && samplesBefore / every < state.nTrainSamples / every;
                    if ((every == -1 && validated) || crossed || (every != 0 && epochEnd)) {
                        saveCheckpoint(String.valueOf(state.nTrainSamples), false);
                        savedThisStep = true;
                    }
                }
                // a signal (SIGTERM, Ctrl-C): a checkpoint of this step, whatever checkpoint_every says, then stop; only
                // at an optimizer-step boundary, where no accumulated gradient would be lost
                if (stepNow && stop != null && stop.requested() && opts.save()) {
                    String name = String.valueOf(state.nTrainSamples);
                    Path dir = savedThisStep ? opts.runDir().resolve(name) : saveCheckpoint(name, false);
                    if (bar != null) bar.finish();
                    throw new Stopped(dir, state.nOptSteps);
                }
                if (++batchesThisProcess == interruptAfterBatches)
                    throw new Interrupted("interrupted after batch " + state.statSyncer);
                if (epochEnd) {
                    state.epoch--; // the for-loop increments it
                    continue outer;
                }
                if (budgetDone) break outer;
            }
            state.batchInEpoch = 0;
        }
        if (bar != null) bar.finish();
        // an explicit final validation, so the last val loss is always recorded
        if (finalEvaluation && state.lastValidatedAt != state.nTrainSamples) validate(null);
        double testLoss = Double.NaN;
        if (finalEvaluation && data.size(DataModule.Split.TEST) > 0) {
            testLoss = evaluate(DataModule.Split.TEST)[0];
            log("stat/test_loss:main", testLoss);
        }
        double tps = tokensThisProcess / Math.max(trainSeconds, 1e-9);
        // what `runner compare` shows of the run's speed: training tokens per second of this process, seconds in train() of
        // all processes (validation and checkpoints included)
        log("train_tokens_per_s", tps);
        log("wall_time", wallTime());
        state.finished = true;
        Path fin = opts.save() ? saveCheckpoint(Checkpoint.FINAL, true) : null;
        return new Result(state.lastValLoss, testLoss, state.nOptSteps, state.nTrainTokens, tps, fin);
    }

    private long stepsAtLastFullGc;

    /**
     * A full collection before validating, at most every 100 optimizer steps. The Java heap holds little (tensors are
     * native; 16 MB live on bench-ptb), but each young collection promotes the objects of the step in flight, and that
     * garbage piles up in the old generation, touching new pages, until a full collection. One per validation (about
     * 30 ms) keeps RSS flat: bench-ptb, 1,500 steps, drift +8.8% without, −2.2% with it and {@code -Xmn32m} (./runner).
     */
    private void collectPromotedGarbage() {
        if (state.nOptSteps - stepsAtLastFullGc < 100) return;
        stepsAtLastFullGc = state.nOptSteps;
        System.gc();
    }

    private long epochSeed(int epoch) {
        return state.seed * 7919L + epoch;
    }

    private void validate(ProgressBar bar) {
        collectPromotedGarbage();
        double[] r = evaluate(DataModule.Split.VALID);
        // an empty validation split gives NaN without divergence (warned about when the data is loaded)
        if (data.size(DataModule.Split.VALID) > 0 && !Double.isFinite(r[0]))
            throw diverged("validation loss is " + PyLiteral.repr(r[0]));
        state.lastValidatedAt = state.nTrainSamples;
        state.lastValLoss = r[0];
        log("process_time", processTime());
        log("stat/val_loss:main", r[0]);
        log("stat/val_acc:main", r[1]);
        String sample = sampleText();
        String line = String.format("val_loss %.4f (ppl %.2f) after %d samples | sample: %s", r[0], Math.exp(r[0]),
                state.nTrainSamples, sample.replace("\n", "⏎"));
        if (bar != null) bar.message(line);
        else opts.out().println(line);
    }

    /** Token-weighted mean loss and accuracy over a split of this run's data: {loss, acc}. */
    public double[] evaluate(DataModule.Split split) {
        return Evaluation.evaluate(lm, data, split, tp.batch_size());
    }

    /**
     * Token-weighted mean loss and accuracy of an LM over a split: {loss, acc}. The reference averaged
     * per-batch means, which over-weights short last batches; this weights every target token equally.
     */
    private String sampleText() {
        if (tp.max_sample_tokens() == 0) return "";
        boolean was = lm.isTraining();
        lm.setTraining(false);
        var tok = data.tokenizer();
        int[] ids = lm.sample(tok.encodePrompt(""), tp.max_sample_tokens(), tp.sample_temperature(), null, null, tok.eosId(),
                new Random(state.seed * 31 + state.nTrainSamples));
        lm.setTraining(was);
        return tok.decode(ids, true);
    }

    /** Scales all gradients so their global L2 norm is at most gradient_clip_val (as torch's clip_grad_norm_). */
    private void clipGradients(java.util.Collection<NDArray> gradients) {
        if (tp.gradient_clip_val() <= 0 || gradients.isEmpty()) return;
        List<NDArray> grads = new ArrayList<>(gradients);
        try (NDManager tmp = lm.manager().newSubManager()) {
            NDList sq = new NDList();
            if (Kernels.available() && grads.stream().allMatch(g -> g.getDevice().equals(grads.get(0).getDevice()))) {
                Kernels.clipGradNorm(grads, tp.gradient_clip_val()); // two fused multi-tensor kernels, same arithmetic
                return;
            }
            for (NDArray g : grads) sq.add(g.square().sum());
            double norm = Math.sqrt(ai.djl.ndarray.NDArrays.stack(sq).sum().toType(ai.djl.ndarray.types.DataType.FLOAT64, false).getDouble());
            double coef = tp.gradient_clip_val() / (norm + 1e-6);
            if (coef < 1) for (NDArray g : grads) g.muli(coef);
        }
    }

    private double processTime() {
        return state.processTimeBefore + (cpuNanos() - startCpuNanos) / 1e9;
    }

    private double wallTime() {
        return state.wallTimeBefore + (trainStartNanos == 0 ? 0 : (System.nanoTime() - trainStartNanos) / 1e9);
    }

    private static long cpuNanos() {
        return ProcessHandle.current().info().totalCpuDuration().map(java.time.Duration::toNanos).orElse(System.nanoTime());
    }

    // ------------------------------------------------------------------ checkpoints

    /** Saves a checkpoint folder under the run folder; returns its path. */
    public Path saveCheckpoint(String name, boolean fin) {
        requireFiniteWeights(); // the optimizer step after the last finite loss may have broken them
        Path dir = opts.runDir().resolve(name);
        state.checkpoint = name;
        // validation and checkpoints both follow an optimizer step, so a validation at these samples saw these weights
        state.checkpointValLoss = state.lastValidatedAt == state.nTrainSamples && Double.isFinite(state.lastValLoss)
                ? state.lastValLoss : null;
        state.schedule = schedule.state();
        double cpuBefore = state.processTimeBefore, wallBefore = state.wallTimeBefore;
        state.processTimeBefore = processTime(); // what a resumed process starts counting from
        state.wallTimeBefore = wallTime();
        
        try {
            Checkpoint.writeAtomically(dir, tmp -> {
                Checkpoint.writeString(tmp.resolve("model_params.json"), Params.toJson(spec.mp()));
                Checkpoint.writeString(tmp.resolve("data_params.json"), Params.toJson(spec.dp()));
                Checkpoint.writeString(tmp.resolve("train_params.json"), Params.toJson(spec.tp()));
                Checkpoint.writeString(tmp.resolve(Checkpoint.STATS_FILE), Checkpoint.toJson(stats.toJson()));
                Tokenizers.save(data.tokenizer(), tmp.resolve(Checkpoint.TOKENIZER_FILE));
                Checkpoint.writeTensors(tmp.resolve(Checkpoint.MODEL_FILE), lm.stateTensors());
                NDList moments = optimizer.stateTensors();
                try {
                    Map<String, NDArray> byName = new LinkedHashMap<>();
                    for (NDArray a : moments) byName.put(a.getName(), a);
                    Checkpoint.writeTensors(tmp.resolve(Checkpoint.OPTIMIZER_FILE), byName);
                } finally {
                    moments.close();
                }
                Checkpoint.writeString(tmp.resolve(Checkpoint.STATE_FILE), Checkpoint.toJson(state));
                Path log = opts.runDir().resolve("log.txt");
                if (java.nio.file.Files.isRegularFile(log)) java.nio.file.Files.copy(log, tmp.resolve("log.txt")); // the log so far
                Path wandb = opts.runDir().resolve("wandb.json"); // the W&B run id, for resume
                if (java.nio.file.Files.isRegularFile(wandb)) java.nio.file.Files.copy(wandb, tmp.resolve("wandb.json"));
            });
        } catch (IOException e) {
            // disk full, read-only, a path that cannot be a folder: the temporary folder is gone, earlier checkpoints untouched
            throw new SaveFailed(dir + ": cannot save the checkpoint (" + ioReason(e) + "); the checkpoints saved before are kept");
        } finally {
            state.processTimeBefore = cpuBefore;
            state.wallTimeBefore = wallBefore;
        }
        StatsListener.Counters at = counters();
        for (StatsListener l : listeners) l.onCheckpoint(dir, at);
        return dir;
    }

    /** Continues from a checkpoint written by {@link #saveCheckpoint}: weights, moments, stats, counters. */
    public void restore(Path checkpointDir) {
        Path stateFile = checkpointDir.resolve(Checkpoint.STATE_FILE);
        TrainerState read = TrainerState.read(stateFile);
        // the data position must lie inside this run's data: a state past the last batch would "finish" the run untrained
        int nb = data.batchOrder(DataModule.Split.TRAIN, tp.batch_size(), false, 0).length;
        if (read.batchInEpoch > nb)
            throw new ConfigError(stateFile + ": batchInEpoch = " + read.batchInEpoch + " but an epoch of this run has "
                    + nb + " batches (expected 0 to " + nb + "); the state does not belong to this run");
        if (read.epoch > tp.epochs())
            throw new ConfigError(stateFile + ": epoch = " + read.epoch + " but the run trains " + tp.epochs()
                    + " epochs (expected 0 to " + tp.epochs() + ")");
        if (read.nTrainBatches > (long) nb * (read.epoch + 1))
            throw new ConfigError(stateFile + ": nTrainBatches = " + read.nTrainBatches + " is more than " + (read.epoch + 1)
                    + " epochs of " + nb + " batches (expected at most " + (long) nb * (read.epoch + 1) + ")");
        state = read;
        if (state.schedule != null) {
            try {
                schedule.restore(state.schedule);
            } catch (RuntimeException e) {
                throw new ConfigError(stateFile + ": field schedule " + java.util.Arrays.toString(state.schedule)
                        + " does not fit lr_scheduler_type " + tp.lr_scheduler_type() + " (" + ConfigError.firstLine(e) + ")");
            }
        }
        try (NDManager tmp = lm.manager().newSubManager()) {
            lm.loadParameters(Checkpoint.readTensors(checkpointDir.resolve(Checkpoint.MODEL_FILE), tmp));
            optimizer.restore(Checkpoint.readTensors(checkpointDir.resolve(Checkpoint.OPTIMIZER_FILE), tmp), state.nOptSteps);
        }
        TrainStats saved = Checkpoint.readStats(checkpointDir.resolve(Checkpoint.STATS_FILE));
        stats.replaceWith(saved);
        state.finished = false;
    }
}
