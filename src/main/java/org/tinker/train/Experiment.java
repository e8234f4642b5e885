package org.tinker.train;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import org.tinker.config.ConfigError;
import org.tinker.config.DataParams;
import org.tinker.config.ModelParams;
import org.tinker.config.PyLiteral;
import org.tinker.config.RunSpec;
import org.tinker.config.TrainParams;
import org.tinker.data.DataModule;
import org.tinker.data.LoadedTask;
import org.tinker.data.Tasks;
import org.tinker.data.Tokenizer;
import org.tinker.data.Tokenizers;
import org.tinker.gpt2.Gpt2Config;
import org.tinker.gpt2.Gpt2Pretrained;
import org.tinker.model.LM;
import org.tinker.model.flexi.WeightTransfer;
import org.tinker.runs.Checkpoint;
import org.tinker.runs.Namer;
import org.tinker.runs.RunOrigin;
import org.tinker.runs.RunStore;
import org.tinker.runs.StatsListener;
import org.tinker.runs.TrainerState;

/**
 * One run from its spec to its final checkpoint: task → tokenizer → DataModule → LM → Trainer. The CLI
 * calls this for every grid point; tests call it directly.
 */
public final class Experiment {
    private Experiment() {}

    /**
     * Where and how runs happen.
     *
     * @param projectRoot folder holding data-path.txt
     * @param savedModels saved-models/ folder
     * @param save write checkpoints (--save)
     * @param device cpu() or gpu(n)
     * @param out where progress, samples and the config go (also tee'd to log.txt when saving)
     * @param listeners extra statistics listeners (W&B)
     * @param progressBar draw a progress bar
     * @param devices the devices to train on: [device], or several for data-parallel training ({@link DataParallel})
     * @param launch the launch a saved run belongs to (written in its {@link RunOrigin#FILE}), or null for none
     */
    public record Setup(Path projectRoot, Path savedModels, boolean save, Device device, PrintStream out,
                        List<StatsListener> listeners, boolean progressBar, List<Device> devices, RunOrigin.Launch launch) {
        public Setup(Path projectRoot, Path savedModels, boolean save, Device device, PrintStream out, List<StatsListener> listeners,
                     boolean progressBar) {
            this(projectRoot, savedModels, save, device, out, listeners, progressBar, List.of(device), null);
        }

        public Setup(Path projectRoot, Path savedModels, boolean save, Device device, PrintStream out, List<StatsListener> listeners,
                     boolean progressBar, List<Device> devices) {
            this(projectRoot, savedModels, save, device, out, listeners, progressBar, devices, null);
        }

        public static Setup quiet(Path projectRoot, Path savedModels, boolean save) {
            return new Setup(projectRoot, savedModels, save, Device.cpu(), new PrintStream(OutputStream.nullOutputStream()),
                    List.of(), false);
        }
    }

    /** Everything a run trains with. Closing it frees the model's tensors. */
    public record Prepared(RunSpec spec, LoadedTask task, Tokenizer tokenizer, DataModule data, LM lm, NDManager manager)
            implements AutoCloseable {
        @Override
        public void close() {
            lm.close();
            manager.close();
        }
    }

    /**
     * Loads the task, builds the tokenizer from all its samples (as the reference does) and the model. With
     * {@code from_os_pretrained}, the architecture comes from the checkpoint's config.json (overriding the config's
     * fields, as the reference did), the tokenizer is the full GPT-2 one and the weights are the checkpoint's; the
     * returned spec carries the architecture actually used. With {@code lora_rank > 0}, LoRA adapters are attached.
     */
    public static Prepared prepare(RunSpec spec, Setup setup, Tokenizer tokenizerOrNull) {
        LoadedTask task = Tasks.load(spec.dp(), setup.projectRoot());
        Path pretrained = null;
        Gpt2Config gpt2 = null;
        if (!spec.mp().from_os_pretrained().isBlank()) {
            var env = Gpt2Pretrained.Env.system();
            pretrained = Gpt2Pretrained.resolve(spec.mp().from_os_pretrained(), new Gpt2Pretrained.Env(env.hfHubCache(), env.hfHome(),
                    env.tinkerModels(), env.home(), setup.projectRoot()));
            gpt2 = Gpt2Pretrained.config(pretrained);
            spec = new RunSpec(spec.configName(), spec.index(), spec.total(), spec.dp(), spec.tp(),
                    Gpt2Pretrained.fineTuneParams(spec.mp(), gpt2), spec.varying(), spec.ablation());
            if (tokenizerOrNull == null) {
                tokenizerOrNull = Gpt2Pretrained.tokenizer(pretrained, gpt2.vocabSize());
                if (tokenizerOrNull == null)
                    throw new ConfigError(pretrained + ": vocab_size " + gpt2.vocabSize() + " has no tokenizer (expected tokenizer.json or vocab.json + merges.txt, or GPT-2's 50257 tokens)");
            }
        }
        Tokenizer tok = tokenizerOrNull != null ? tokenizerOrNull
                : Tokenizers.build(spec.mp().tokenizer_source_name(), spec.mp().custom_tokenizer_ntokens(), DataModule.allTexts(task.splits()));
        DataParams dp = spec.dp().withSynthetic(task.synthetic());
        DataModule data = new DataModule(tok, task.splits(), dp, spec.mp().max_seq_len(), task.synthetic());
        // the widest training batch holds longest - 1 inputs; what cannot fit is refused before any weight is allocated
        ModelBudget.check(spec, tok.vocabSize(), Math.max(1, data.longest(DataModule.Split.TRAIN) - 1));
        NDManager manager = NDManager.newBaseManager(setup.device());
        LM lm = new LM(spec.mp(), tok.vocabSize(), manager, spec.tp().random_seed());
        try {
            if (pretrained != null) Gpt2Pretrained.loadWeights(lm, pretrained, gpt2);
            if (spec.tp().lora_rank() > 0) lm.attachLora(spec.tp().lora_rank(), spec.tp().lora_std(), spec.tp().random_seed());
        } catch (RuntimeException e) {
            lm.close();
            manager.close();
            throw e;
        }
        return new Prepared(spec, task, tok, data, lm, manager);
    }

    /**
     * Trains one grid point; with setup.save() the run is saved under a fresh timestamp. Every name in the run's path is
     * checked before anything is written, the run folder is created only once the task and model are ready, and a run
     * that fails before its first training batch leaves no folder behind.
     */
    public static Trainer.Result run(RunSpec spec, Setup setup) {
        RunSpec effective = spec;
        if (!setup.save() && spec.tp().checkpoint_every() != 0) effective = withCheckpointEvery(spec, 0); // as the reference
        ModelBudget.check(spec, 0, 1); // before the run folder: without data yet, a lower bound that already refuses dim = 1e9
        if (setup.save()) {
            RunStore.requireRunsFolder(setup.savedModels());
            Namer.requirePlainNames(effective); // a task '../../x' would otherwise be a folder outside saved-models
        }
        try (Prepared p = prepare(effective, setup, null)) {
            effective = p.spec(); // from_os_pretrained: the checkpoint's architecture
            String ts = setup.save() ? Namer.claimTimestamp(setup.savedModels()) : Namer.newTimestamp(setup.savedModels());
            Path runDir = setup.savedModels().resolve(Namer.saveFolderName(effective, ts));
            PrintStream out = withListeners(setup.out(), setup.listeners());
            PrintStream logFile = null;
            Trainer trainer = null;
            RunStore.Lock lock = null;
            if (setup.save()) {
                try {
                    RunStore.createRunFolder(setup.savedModels(), runDir);
                    lock = RunStore.Lock.acquire(runDir, ts); // one writer per run, for the run's life
                    logFile = new PrintStream(RunStore.openRunFile(runDir.resolve("log.txt"), false), true, StandardCharsets.UTF_8);
                    out = tee(out, logFile);
                    if (setup.launch() != null) RunOrigin.of(effective, setup.launch()).write(runDir);
                } catch (IOException | ConfigError e) {
                    if (logFile != null) logFile.close();
                    if (lock != null) lock.close();
                    Namer.releaseClaim(setup.savedModels(), ts);
                    if (e instanceof ConfigError ce) throw ce;
                    throw new ConfigError(runDir + ": cannot create the run folder (" + e.getMessage() + ")");
                }
            }
            try {
                out.println(effective.header() + (setup.save() ? "  → " + runDir : ""));
                printConfig(out, effective);
                out.printf("task %s: %,d train / %,d val / %,d test sequences, %,d train tokens; vocab %,d (%s); model %,d parameters%n",
                        p.task().name(), p.data().size(DataModule.Split.TRAIN), p.data().size(DataModule.Split.VALID),
                        p.data().size(DataModule.Split.TEST), p.data().tokens(DataModule.Split.TRAIN), p.tokenizer().vocabSize(),
                        p.tokenizer().kind(), p.lm().numParameters());
                if (p.data().size(DataModule.Split.VALID) == 0) // otherwise every val_loss is NaN without a word
                    out.println("warning: task " + p.task().name() + ": the validation split has 0 sequences (dp.val_pct="
                            + PyLiteral.repr(effective.dp().val_pct()) + " of " + p.data().size(DataModule.Split.TRAIN)
                            + " training sequences), so val_loss will be nan; give the task more data or a larger dp.val_pct");
                if (!effective.mp().from_saved().isBlank()) loadFromSaved(p, setup.savedModels(), effective.mp().from_saved(), out);
                // W&B and other per-run listeners: told about the run before its first statistic
                RunSpec eff = effective;
                PrintStream o = out;
                StatsListener.RunStart start = new StatsListener.RunStart(eff, runDir, setup.save(), -1, null);
                trainer = started(setup.listeners(), start, () -> new Trainer(eff, p.lm(), p.data(),
                        new Trainer.Options(runDir, setup.save(), setup.listeners(), o, setup.progressBar())));
                DataParallel dp = setup.devices().size() > 1 ? new DataParallel(p.lm(), setup.devices()) : null;
                if (dp != null) out.println("data-parallel over " + setup.devices() + ": each batch split in " + dp.size() + " shards");
                Trainer.Result r;
                try (DataParallel closing = dp) {
                    r = stoppable(trainer.dataParallel(dp), setup, ts);
                }
                out.printf("done: val_loss %.4f (ppl %.2f)%s, %d optimizer steps, %,.0f train tokens/s%s%n", r.finalValLoss(),
                        Math.exp(r.finalValLoss()), Double.isNaN(r.testLoss()) ? "" : String.format(", test_loss %.4f (ppl %.2f)",
                                r.testLoss(), Math.exp(r.testLoss())), r.optSteps(), r.tokensPerSecond(),
                        setup.save() ? ", saved as " + (Namer.runName(effective) == null ? "" : Namer.runName(effective) + "/") + ts : "");
                return r;
            } catch (RuntimeException | Error e) {
                if (setup.save() && (trainer == null || trainer.state().statSyncer == 0)) { // nothing trained: no run to keep
                    if (logFile != null) logFile.close();
                    logFile = null;
                    if (lock != null) lock.close();
                    lock = null;
                    Checkpoint.deleteTree(runDir);
                    Namer.releaseClaim(setup.savedModels(), ts);
                }
                throw e;
            } finally {
                if (logFile != null) logFile.close();
                if (lock != null) lock.close();
            }
        }
    }

    /** Continues an interrupted run from its last checkpoint, in its own folder. */
    public static Trainer.Result resume(RunStore.Run run, Setup setup) {
        // one writer per run: a second resume (or a resume of a run still training) is refused before anything is read
        try (RunStore.Lock lock = RunStore.Lock.acquire(run.dir(), run.timestamp())) {
            // what a killed save left (temporary folders; a checkpoint moved aside goes back), before its checkpoints are read
            List<String> stale = Checkpoint.removeStale(run.dir());
            if (!stale.isEmpty()) setup.out().println("removed what an interrupted save left in " + run.dir() + ": " + String.join(", ", stale));
            return resumeLocked(run, setup);
        }
    }

    private static Trainer.Result resumeLocked(RunStore.Run run, Setup setup) {
        List<String> cks = run.checkpoints();
        if (run.finished()) throw new ConfigError(run.dir() + ": this run has finished (final/ exists); nothing to resume");
        if (cks.isEmpty()) throw new ConfigError(run.dir() + ": no checkpoint to resume from (train with --save and checkpoint_every != 0)");
        Path ck = run.checkpoint(cks.get(cks.size() - 1));
        RunSpec spec = Checkpoint.readSpec(ck, run.config());
        Tokenizer tok = Tokenizers.load(ck.resolve(Checkpoint.TOKENIZER_FILE));
        PrintStream out = withListeners(setup.out(), setup.listeners());
        try (PrintStream logFile = new PrintStream(RunStore.openRunFile(run.dir().resolve("log.txt"), false), true, StandardCharsets.UTF_8);
             Prepared p = prepare(spec, setup, tok)) {
            out = tee(out, logFile);
            out.println("resuming " + run.timestamp() + " from checkpoint " + ck.getFileName());
            // per-run listeners (W&B) continue the run recorded in run.dir()/wandb.json, after the checkpoint's step
            long ckStep = TrainerState.read(ck.resolve(Checkpoint.STATE_FILE)).statSyncer;
            StatsListener.RunStart start = new StatsListener.RunStart(p.spec(), run.dir(), true, ckStep, ck);
            PrintStream o = out;
            Trainer trainer = started(setup.listeners(), start, () -> {
                Trainer t = new Trainer(p.spec(), p.lm(), p.data(), new Trainer.Options(run.dir(), true, setup.listeners(), o,
                        setup.progressBar()));
                t.restore(ck);
                return t;
            });
            return stoppable(trainer, setup, run.timestamp());
        } catch (IOException e) { // log.txt: a read-only or full disk
            throw new ConfigError(run.dir().resolve("log.txt") + ": cannot write the run's log (" + Trainer.ioReason(e) + ")");
        }
    }

    /**
     * Trains; with {@code setup.save()}, SIGTERM or Ctrl-C meanwhile (or any other JVM shutdown) has the trainer write a
     * checkpoint of the step it is at, even with {@code checkpoint_every = 0}, and stop there: a shutdown hook asks for the
     * stop, waits for the training thread to write it (at most {@link StopRequest#WAIT_SECONDS}), and prints one line
     * saying how to resume. The JVM then exits 143 (SIGTERM) or 130 (SIGINT), as for any signal.
     */
    private static Trainer.Result stoppable(Trainer trainer, Setup setup, String ts) {
        if (!setup.save()) return trainer.train();
        String resume = "runner resume --timestamp=" + ts
                + (setup.savedModels().normalize().equals(Path.of("saved-models")) ? "" : " --saved-models=" + setup.savedModels());
        StopRequest stop = new StopRequest();
        trainer.stopOn(stop);
        Thread hook = new Thread(() -> {
            stop.request();
            String line = stop.await(StopRequest.WAIT_SECONDS);
            if (line == null) line = "interrupted: no checkpoint of the current step within " + StopRequest.WAIT_SECONDS
                    + " s; continue from the last one saved with: " + resume;
            if (!line.isEmpty()) {
                System.err.println(line);
                System.err.flush();
            }
        }, "tinker-stop");
        boolean hooked = false;
        try {
            Runtime.getRuntime().addShutdownHook(hook);
            hooked = true;
        } catch (IllegalStateException e) {
            // the JVM is shutting down already: train without the hook
        }
        String line = "";
        try {
            Trainer.Result r = trainer.train();
            if (stop.requested()) line = "interrupted: the run had just finished (saved as " + ts + ")";
            return r;
        } catch (Trainer.Stopped e) {
            line = "interrupted: saved checkpoint " + e.checkpoint().getFileName() + " after " + e.optSteps()
                    + " optimizer steps; continue with: " + resume;
            throw e;
        } finally {
            stop.finish(line); // a failure prints its own error line
            if (hooked) {
                try {
                    Runtime.getRuntime().removeShutdownHook(hook);
                } catch (IllegalStateException e) {
                    // shutting down: the hook is running and prints the line
                }
            }
        }
    }

    /** Tells the listeners a run starts, then builds its Trainer; a failure to build it ends the run for them. */
    private static Trainer started(List<StatsListener> listeners, StatsListener.RunStart start, java.util.function.Supplier<Trainer> build) {
        for (StatsListener l : listeners) l.onStart(start);
        try {
            return build.get();
        } catch (RuntimeException | Error e) {
            for (StatsListener l : listeners) l.onEnd(e);
            throw e;
        }
    }

    /**
     * Starts the run from a saved run's final weights: the same parameters loaded as they are ({@code from_saved_transfer
     * = "exact"}), or carried over by FlexiBERT weight transfer into a different model ({@code OD} | {@code RP}, seeded
     * by the run's random_seed; what moved is summed up in the log).
     */
    private static void loadFromSaved(Prepared p, Path savedModels, String timestamp, PrintStream out) {
        RunStore.Run run = new RunStore(savedModels).find(timestamp);
        Path ck = run.checkpoint(Checkpoint.FINAL);
        ModelParams.Transfer how = p.spec().mp().from_saved_transfer();
        try (NDManager tmp = p.manager().newSubManager()) {
            LinkedHashMap<String, NDArray> tensors = Checkpoint.readTensors(ck.resolve(Checkpoint.MODEL_FILE), tmp);
            if (how == ModelParams.Transfer.EXACT) {
                p.lm().loadParameters(tensors);
                return;
            }
            RunSpec source = Checkpoint.readSpec(ck, run.config());
            int vocab = Tokenizers.load(ck.resolve(Checkpoint.TOKENIZER_FILE)).vocabSize();
            try (LM from = new LM(source.mp(), vocab, tmp, source.tp().random_seed())) {
                from.loadParameters(tensors);
                WeightTransfer.Report r = WeightTransfer.transfer(from, p.lm(), WeightTransfer.Mode.valueOf(how.spelling()), p.spec().tp().random_seed());
                out.println("weights from " + timestamp + " by " + how + " transfer: " + r.transferred() + " parameters transferred, "
                        + r.kept() + " kept their initial values");
            }
        }
    }

    private static RunSpec withCheckpointEvery(RunSpec s, int every) {
        TrainParams n = s.tp().with("checkpoint_every", every);
        return new RunSpec(s.configName(), s.index(), s.total(), s.dp(), n, s.mp(), s.varying(), s.ablation());
    }

    static void printConfig(PrintStream out, RunSpec spec) {
        List<String> parts = new ArrayList<>();
        spec.flat().forEach((k, v) -> parts.add(k + "=" + PyLiteral.show(v)));
        out.println("config: " + String.join(" ", parts));
    }

    /** {@code out}, and each complete line also to the listeners ({@link StatsListener#onOutput}); a progress bar's \r updates keep their last state. */
    private static PrintStream withListeners(PrintStream out, List<StatsListener> listeners) {
        if (listeners.isEmpty()) return out;
        java.io.ByteArrayOutputStream pending = new java.io.ByteArrayOutputStream();
        PrintStream lines = new PrintStream(new OutputStream() {
            @Override
            public synchronized void write(int c) {
                if (c == '\r') pending.reset(); // a progress bar redraws its line: only the last state counts
                else if (c != '\n') {
                    if (pending.size() < 1 << 16) pending.write(c); // a line longer than 64 KiB is cut, not kept growing
                } else {
                    String line = pending.toString(StandardCharsets.UTF_8);
                    pending.reset();
                    for (StatsListener l : listeners) l.onOutput(line);
                }
            }
        }, true, StandardCharsets.UTF_8);
        return tee(out, lines);
    }

    private static PrintStream tee(PrintStream a, PrintStream b) {
        return new PrintStream(new OutputStream() {
            @Override
            public void write(int c) {
                a.write(c);
                b.write(c);
            }

            @Override
            public void write(byte[] buf, int off, int len) {
                a.write(buf, off, len);
                b.write(buf, off, len);
            }

            @Override
            public void flush() {
                a.flush();
                b.flush();
            }
        }, true, StandardCharsets.UTF_8);
    }
}
