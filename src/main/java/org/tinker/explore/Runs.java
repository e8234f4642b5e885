package org.tinker.explore;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import java.nio.file.Path;
import java.util.List;
import org.tinker.config.RunSpec;
import org.tinker.data.DataModule;
import org.tinker.data.LoadedTask;
import org.tinker.data.Tasks;
import org.tinker.data.Tokenizer;
import org.tinker.data.Tokenizers;
import org.tinker.model.LM;
import org.tinker.runs.Checkpoint;
import org.tinker.runs.RunStore;
import org.tinker.runs.TrainStats;

/**
 * Opens saved runs by timestamp. {@code Runs.open()} uses {@code ./saved-models} and {@code ./data-path.txt};
 * jshell users: {@code import org.tinker.explore.*; var run = Runs.open().get("2026-11-23--13-40-01");}.
 */
public final class Runs {
    private final RunStore store;
    private final Path projectRoot;
    private final Device device;

    public Runs(Path savedModels, Path projectRoot, Device device) {
        this.store = new RunStore(savedModels);
        this.projectRoot = projectRoot;
        this.device = device;
    }

    /** Runs under {@code ./saved-models}, on the CPU. */
    public static Runs open() {
        return new Runs(Path.of("saved-models"), Path.of("."), Device.cpu());
    }

    public RunStore store() {
        return store;
    }

    public List<RunStore.Run> list() {
        return store.list();
    }

    /** The reference's {@code get_model_by_timestamp(ts)}: the final checkpoint under ./saved-models, with its data. */
    public static LoadedRun getModelByTimestamp(String timestamp) {
        return open().get(timestamp);
    }

    /** The final checkpoint of a run, with its data. */
    public LoadedRun get(String timestamp) {
        return get(timestamp, Checkpoint.FINAL, true);
    }

    /** Checkpoint names of a run: intermediate ones by n_train_samples, then {@code final}. */
    public List<String> checkpoints(String timestamp) {
        return store.find(timestamp).checkpoints();
    }

    /** The reference's get_model_by_timestamp(ts, checkpoint, with_data). */
    public LoadedRun get(String timestamp, String checkpoint, boolean withData) {
        RunStore.Run run = store.find(timestamp);
        Path ck = run.checkpoint(checkpoint);
        RunSpec spec = Checkpoint.readSpec(ck, run.config());
        Tokenizer tok = Tokenizers.load(ck.resolve(Checkpoint.TOKENIZER_FILE));
        NDManager manager = NDManager.newBaseManager(device);
        LM lm = new LM(spec.mp(), tok.vocabSize(), manager, spec.tp().random_seed());
        if (spec.tp().lora_rank() > 0) {
            // adapters are extra tensors beside the base weights: the plain reader knows them
            lm.attachLora(spec.tp().lora_rank(), spec.tp().lora_std(), spec.tp().random_seed());
            try (NDManager tmp = manager.newSubManager()) {
                lm.loadParameters(Checkpoint.readTensors(ck.resolve(Checkpoint.MODEL_FILE), tmp));
            }
        } else {
            LowMemoryLoad.load(lm, ck.resolve(Checkpoint.MODEL_FILE)); // one tensor at a time, memory-mapped
        }
        lm.setTraining(false);
        DataModule data = null;
        if (withData) {
            LoadedTask task = Tasks.load(spec.dp(), projectRoot);
            data = new DataModule(tok, task.splits(), spec.dp(), spec.mp().max_seq_len(), task.synthetic());
        }
        TrainStats stats = Checkpoint.readStats(ck.resolve(Checkpoint.STATS_FILE));
        return new LoadedRun(run, checkpoint, lm, tok, data, stats, spec.dp(), spec.tp(), spec.mp(), manager);
    }
}
