package org.tinker.train;

import java.util.List;
import org.tinker.config.ConfigFile;
import org.tinker.config.Grid;
import org.tinker.config.Params;
import org.tinker.config.RunSpec;

/** Small real runs for tests: real corpora, tiny models. */
public final class TestRuns {
    private TestRuns() {}

    /** A spec from config text (sections as in a config file). */
    public static RunSpec spec(String configText) {
        return Grid.expand(List.of(ConfigFile.parse("test", configText)), List.of(), null, false).get(0);
    }

    /**
     * {@code config} with {@code key = value} (value as a config file writes it): the key's line replaced, or added under
     * the header of the section that owns the key. A key no section has is an error, so a changed config text cannot turn
     * the edit into a silent no-op (as a plain text replace would).
     */
    public static String set(String config, String key, String value) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?m)^" + java.util.regex.Pattern.quote(key) + " = .*$").matcher(config);
        if (m.find()) return config.substring(0, m.start()) + key + " = " + value + config.substring(m.end());
        for (Params.Section section : Params.Section.ofRun()) {
            if (!section.has(key)) continue;
            String header = "[" + section.title + "]\n";
            if (!config.contains(header)) return config + header + key + " = " + value + "\n";
            return config.replace(header, header + key + " = " + value + "\n");
        }
        throw new IllegalArgumentException("no params section has a key '" + key + "'");
    }

    /** {@link #set} for several pairs: {@code set(PTB_TINY, "epochs", "1", "n_layers", "2")}. */
    public static String set(String config, String... keyValues) {
        if (keyValues.length % 2 != 0) throw new IllegalArgumentException("key, value pairs expected");
        for (int i = 0; i < keyValues.length; i += 2) config = set(config, keyValues[i], keyValues[i + 1]);
        return config;
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
