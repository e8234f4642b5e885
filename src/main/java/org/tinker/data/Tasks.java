package org.tinker.data;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.tinker.config.ConfigError;
import org.tinker.config.DataParams;

/**
 * Where samples come from. {@code dp.dataset_name} is looked up, in this order, among the shipped corpora
 * ({@link Corpora}: ptb, wikitext-2 (alias wikitext), tinyshakespeare), the synthetic tasks
 * ({@link SyntheticTasks}) and the local data folders ({@link LocalData}); so a local folder cannot shadow a
 * built-in name (as in the reference). Anything else is a {@link ConfigError} listing the known tasks and the
 * folders searched.
 *
 * <p>Splitting lives here, in one place ({@link SplitRule}): the returned {@link Splits} always hold train, valid
 * and test. Natural text without splits is cut by lines, then grouped into samples; synthetic tasks are cut by
 * samples. {@code debug_crop} keeps the first N samples of each own split, or of the sample list before the cut
 * (for synthetic tasks, and for unsplit text: the lines of the first N samples).
 */
public final class Tasks {
    private Tasks() {}

    public static LoadedTask load(DataParams dp, Path projectRoot) {
        String name = dp.dataset_name() == null ? "" : dp.dataset_name().strip();
        String corpus = Corpora.canonical(name);
        if (corpus != null) return new LoadedTask(corpus, false, Corpora.load(corpus, dp));
        if (SyntheticTasks.has(name)) return new LoadedTask(name, true, synthetic(name, dp));
        LocalData.Location loc = LocalData.locate(projectRoot);
        Path folder = LocalData.find(loc, name);
        if (folder != null) return new LoadedTask(name, false, LocalData.load(folder, dp));
        throw new ConfigError(unknownMessage(name, loc));
    }

    /** All built-in task names: corpora, then synthetic tasks. */
    public static List<String> builtInNames() {
        List<String> out = new ArrayList<>(Corpora.NAMES);
        out.addAll(SyntheticTasks.names());
        return out;
    }

    static Splits synthetic(String name, DataParams dp) {
        int n = dp.synthetic_n_samples();
        if (dp.debug_crop() != null) n = Math.min(n, dp.debug_crop());
        List<List<Sample>> cut = SplitRule.cut(SyntheticTasks.generate(name, n), dp.val_pct(), dp.test_pct());
        return new Splits(cut.get(0), cut.get(1), cut.get(2), false);
    }

    static String unknownMessage(String name, LocalData.Location loc) {
        StringBuilder sb = new StringBuilder("dataset_name: unknown task '").append(name).append("'; known tasks: ");
        sb.append(String.join(", ", Corpora.NAMES)).append(" (alias wikitext), ");
        sb.append(String.join(", ", SyntheticTasks.names()));
        sb.append("; searched ").append(loc.describe());
        List<String> local = LocalData.listTasks(loc);
        if (!local.isEmpty()) {
            sb.append(", which holds: ");
            sb.append(String.join(", ", local.size() > 20 ? local.subList(0, 20) : local));
            if (local.size() > 20) sb.append(", ...");
        } else if (loc.dataFolder() != null) {
            sb.append(", which holds no folders");
        }
        return sb.toString();
    }
}
