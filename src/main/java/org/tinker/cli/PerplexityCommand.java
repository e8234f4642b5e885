package org.tinker.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.tinker.config.ConfigError;
import org.tinker.runs.Checkpoint;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code runner perplexity}: one command, two recipes. On a saved run's own data (or a text file) it is the
 * token-weighted perplexity of its samples, and so is that of a pretrained folder on a text file; with {@code --stride} /
 * {@code --task}, or {@code --pretrained} without a text file, it is the sliding-window recipe of the Hugging Face
 * perplexity guide over a task's split.
 */
@Command(name = "perplexity", mixinStandardHelpOptions = true, description = {
        "Perplexity of a saved run on a split of its data, or of a run or --pretrained folder on a text file (one sample",
        "per line), token-weighted; or, with --stride/--task (or --pretrained without --text-file), the sliding-window",
        "perplexity (Hugging Face guide) over a task's split."})
final class PerplexityCommand implements Callable<Integer> {
    @Option(names = "--timestamp", paramLabel = "T", description = "a saved run") String timestamp;
    @Option(names = "--pretrained", paramLabel = "DIR", description = "a GPT-2/OPT checkpoint folder or name (sliding window, or with --text-file)") String pretrained;
    @Option(names = "--checkpoint", paramLabel = "C", description = "checkpoint of the run (default final)") String checkpoint = Checkpoint.FINAL;
    @Option(names = "--split", paramLabel = "S", description = "train | valid | test (default test)") String split = "test";
    @Option(names = "--text-file", paramLabel = "F", description = "score these lines instead of a split") Path textFile;
    @Option(names = "--batch-size", paramLabel = "N", description = "batch size (default 16)") int batchSize = 16;
    @Option(names = "--task", paramLabel = "T", description = "sliding window: the task (default wikitext-2)") String task;
    @Option(names = "--stride", paramLabel = "N", description = "sliding window: window step (e.g. 512)") Integer stride;
    @Option(names = "--max-length", paramLabel = "N", description = "sliding window: window length (default the model's max_seq_len)") Integer maxLength;
    @Option(names = "--max-tokens", paramLabel = "N", description = "sliding window: only the first N tokens") Integer maxTokens;
    @Option(names = "--dtype", paramLabel = "D", description = "sliding window: float32 | float64") String dtype = "float32";
    @Option(names = "--saved-models", paramLabel = "DIR") Path savedModels = Path.of("saved-models");

    @Override
    public Integer call() throws Exception {
        if ((timestamp == null) == (pretrained == null))
            throw new ConfigError("perplexity: expected exactly one of --timestamp=T or --pretrained=DIR");
        boolean sliding = stride != null || task != null || (pretrained != null && textFile == null);
        if (sliding) {
            if (textFile != null) throw new ConfigError("--text-file: not with the sliding-window recipe (--stride/--task)");
            Gpt2Commands.PerplexityCmd c = new Gpt2Commands.PerplexityCmd();
            c.model = new Gpt2Commands.ModelChoice();
            c.model.pretrained = pretrained;
            c.model.timestamp = timestamp;
            c.task = task != null ? task : "wikitext-2";
            c.split = split;
            c.stride = stride != null ? stride : 512;
            c.maxLength = maxLength;
            c.maxTokens = maxTokens;
            c.dtype = dtype;
            c.savedModels = savedModels;
            return c.call();
        }
        ExploreCommands.Perplexity c = new ExploreCommands.Perplexity();
        c.timestamp = timestamp;
        c.pretrained = pretrained;
        c.checkpoint = checkpoint;
        c.savedModels = savedModels;
        c.split = split;
        c.textFile = textFile;
        c.batchSize = batchSize;
        return c.call();
    }
}
