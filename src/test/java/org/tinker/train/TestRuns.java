package org.tinker.train;

import java.util.List;
import org.tinker.config.ConfigFile;
import org.tinker.config.Grid;
import org.tinker.config.RunSpec;

/** Small real runs for tests: real corpora, tiny models. */
public final class TestRuns {
    private TestRuns() {}

    /** A spec from config text (sections as in a config file). */
    public static RunSpec spec(String configText) {
        return Grid.expand(List.of(ConfigFile.parse("test", configText)), List.of(), null, false).get(0);
    }

    /** Word-level PTB, first 200 lines of each split, one small layer: trains in seconds. */
    public static final String PTB_TINY = """
            [DataParams]
            dataset_name = "ptb"
            debug_crop = 200
            [TrainParams]
            batch_size = 8
            epochs = 3
            lr = 5e-3
            lr_warm_steps = 5
            val_check_epoch_frac = 0.5
            max_sample_tokens = 5
            dropout = 0.1
            random_seed = 7
            [ModelParams]
            n_layers = 1
            n_heads = 2
            dim = 32
            max_seq_len = 32
            tokenizer_source_name = "word"
            """;
}
