package org.tinker.config;

/** What to train on and how to cut it into samples. Field names and defaults follow lm-springboard. */
public record DataParams(
        @Doc("task: ptb, wikitext-2, tinyshakespeare, a synthetic task (copy, sort, ...) or a folder under data-path.txt")
        @Default("ptb") String dataset_name,
        @Doc("keep only the first N samples of each split (None = all); for data without splits, of the sample list before the split")
        @Default("None") Integer debug_crop,
        @Doc("if False, a synthetic sample longer than the context is an error instead of being chunked")
        @Default("False") boolean breaking_synthetic_samples_ok,
        @Doc("percent held out for validation when the data has no splits of its own (of lines for text, of samples for synthetic tasks)")
        @Default("10") double val_pct,
        @Doc("percent held out for test when the data has no splits of its own (as val_pct)")
        @Default("5") double test_pct,
        @Doc("internal: set by the loader when the task is synthetic")
        @Default("False") boolean is_synthetic_task,
        @Doc("text data: N lines (WikiText: articles) per sample; -1 = a whole file or split is one sample")
        @Default("1") int lines_per_sample,
        @Doc("<=0: use the model's max_seq_len; else min(model's, this)")
        @Default("-1") int max_seq_len,
        @Doc("number of samples a synthetic task generates")
        @Default("50000") int synthetic_n_samples) {

    /** Every field at its {@link Default}. */
    public static final DataParams DEFAULTS = Params.defaults(DataParams.class);

    /** Range checks that do not depend on the other sections; written so that NaN fails them (every comparison with NaN is false). */
    public void validate(Params.Where where) {
        if (debug_crop != null && debug_crop <= 0) where.fail("debug_crop", "a positive number of samples or None", debug_crop);
        if (!(val_pct >= 0 && val_pct < 100)) where.fail("val_pct", "a percentage in [0, 100)", val_pct);
        if (!(test_pct >= 0 && test_pct < 100)) where.fail("test_pct", "a percentage in [0, 100)", test_pct);
        if (!(val_pct + test_pct < 100)) where.fail("test_pct", "val_pct + test_pct below 100", test_pct);
        if (lines_per_sample == 0 || lines_per_sample < -1) where.fail("lines_per_sample", "a positive number of lines or -1", lines_per_sample);
        if (synthetic_n_samples <= 0) where.fail("synthetic_n_samples", "a positive number", synthetic_n_samples);
        if (dataset_name == null || dataset_name.isBlank()) where.fail("dataset_name", "a task name", dataset_name);
    }

    public DataParams withDatasetName(String name) {
        return new DataParams(name, debug_crop, breaking_synthetic_samples_ok, val_pct, test_pct,
                is_synthetic_task, lines_per_sample, max_seq_len, synthetic_n_samples);
    }

    public DataParams withSynthetic(boolean synthetic) {
        return new DataParams(dataset_name, debug_crop, breaking_synthetic_samples_ok, val_pct, test_pct,
                synthetic, lines_per_sample, max_seq_len, synthetic_n_samples);
    }
}
