package org.tinker.data;

import org.tinker.config.DataParams;

/** DataParams for tests. */
final class TestParams {
    private TestParams() {}

    static DataParams of(String name) {
        return DataParams.DEFAULTS.withDatasetName(name);
    }

    static DataParams of(String name, Integer crop, boolean breakOk, int linesPerSample, int maxSeqLen, int nSynthetic) {
        DataParams d = DataParams.DEFAULTS;
        return new DataParams(name, crop, breakOk, d.val_pct(), d.test_pct(), false, linesPerSample, maxSeqLen, nSynthetic);
    }

    static DataParams withPct(DataParams d, double val, double test) {
        return new DataParams(d.dataset_name(), d.debug_crop(), d.breaking_synthetic_samples_ok(), val, test,
                d.is_synthetic_task(), d.lines_per_sample(), d.max_seq_len(), d.synthetic_n_samples());
    }
}
