package org.tinker.cli;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.tinker.config.ConfigError;
import org.tinker.data.DataModule;
import org.tinker.explore.Explore;
import org.tinker.explore.Explorer;
import org.tinker.explore.LoadedRun;
import org.tinker.explore.Runs;
import org.tinker.model.Generation;
import org.tinker.runs.Checkpoint;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Subcommands that look inside a model: sample, perplexity, attentions, logit-lens on a saved run ({@code --timestamp})
 * or a pretrained checkpoint folder ({@code --pretrained}); plot-metrics and checkpoints on saved runs.
 */
final class ExploreCommands {
    private ExploreCommands() {}

    /** Options every explore subcommand shares. */
    abstract static class RunCmd implements Callable<Integer> {
        @Option(names = "--timestamp", paramLabel = "T", description = "the run's timestamp (see runner list)")
        String timestamp;
        @Option(names = "--checkpoint", paramLabel = "C", description = "checkpoint (default: final; see runner checkpoints)")
        String checkpoint = Checkpoint.FINAL;
        @Option(names = "--saved-models", paramLabel = "DIR", description = "where runs are saved (default: saved-models)")
        Path savedModels = Path.of("saved-models");
        @Option(names = "--out-dir", paramLabel = "DIR", description = "where pictures go (default: .)")
        Path outDir = Path.of(".");

        Runs runs() {
            return new Runs(savedModels, Path.of("."), Device.cpu());
        }

        /** The explorer of these runs, writing pictures under --out-dir. */
        Explore explore() {
            return new Explore(runs(), outDir);
        }
    }

    /** A subcommand that looks at one model: a saved run's checkpoint or a pretrained checkpoint folder. */
    abstract static class ModelCmd extends RunCmd {
        @Option(names = "--pretrained", paramLabel = "DIR", description = "a Hugging Face GPT-2/OPT checkpoint folder (or a models/ or HF-cache name), instead of --timestamp")
        String pretrained;

        /** Exactly one of --timestamp and --pretrained; a run's data only when {@code withData}. */
        Opened open(boolean withData) {
            if ((timestamp == null) == (pretrained == null))
                throw new ConfigError("expected exactly one of --timestamp=T (a saved run) or --pretrained=DIR (a checkpoint folder)");
            Runs runs = runs();
            if (timestamp != null) {
                LoadedRun run = runs.get(timestamp, checkpoint, withData);
                return new Opened(run.explorer(), run, run::close);
            }
            if (!checkpoint.equals(Checkpoint.FINAL)) throw new ConfigError("--checkpoint=" + checkpoint + ": a saved run's, not with --pretrained");
            Gpt2Commands.Loaded l = Gpt2Commands.loadPretrained(pretrained, DataType.FLOAT32);
            if (l.tokenizer() == null) {
                l.close();
                throw new ConfigError("--pretrained=" + pretrained + ": no tokenizer files (expected tokenizer.json, or vocab.json and merges.txt)");
            }
            return new Opened(new Explorer(l.lm(), l.tokenizer(), Path.of(pretrained).getFileName().toString()), null, l::close);
        }
    }

    /** The model a subcommand looks at, with its run (null for a pretrained folder); closing frees it. */
    record Opened(Explorer explorer, LoadedRun run, Runnable closer) implements AutoCloseable {
        @Override
        public void close() {
            closer.run();
        }
    }

    @Command(name = "checkpoints", mixinStandardHelpOptions = true, description = "List a run's checkpoints (intermediate by n_train_samples, then final).")
    static final class Checkpoints extends RunCmd {
        @Override
        public Integer call() {
            if (timestamp == null) throw new ConfigError("checkpoints: expected --timestamp=T (see runner list)");
            var run = runs().store().find(timestamp);
            System.out.println("run " + run.timestamp() + " (" + run.config() + "/" + run.task() + ") in " + run.dir());
            for (String c : run.checkpoints()) System.out.println("  " + c);
            return 0;
        }
    }

    @Command(name = "sample", mixinStandardHelpOptions = true, description = "Generate from a saved run or a pretrained folder (sampling or beam search; with a KV cache where the architecture has one).")
    static final class Sample extends ModelCmd {
        @Option(names = "--prefix", paramLabel = "TEXT", description = "the opening text (default: empty)") String prefix = "";
        @Option(names = "--max-len", paramLabel = "N", description = "total length in tokens, prefix included (capped at max_seq_len; default 100)") int maxLen = 100;
        @Option(names = "--temperature", paramLabel = "X", description = "0 = argmax (default 1)") double temperature = 1;
        @Option(names = "--top-k", paramLabel = "K", description = "sample among the K most likely tokens") Integer topK;
        @Option(names = "--nucleus", paramLabel = "P", description = "sample among the smallest set with probability >= P (not with --top-k)") Double nucleus;
        @Option(names = "--beams", paramLabel = "B", description = "beam search with B beams (default 1: sample)") int beams = 1;
        @Option(names = "--length-penalty", paramLabel = "A", description = "beam score = log p / new_tokens^A (default 1)") double lengthPenalty = 1;
        @Option(names = "--seed", paramLabel = "S", description = "sampling seed (default 0)") long seed;
        @Option(names = "--no-cache", description = "recompute the whole sequence every step (no KV cache)") boolean noCache;

        @Override
        public Integer call() {
            if (topK != null && nucleus != null) throw new ConfigError("--top-k and --nucleus are mutually exclusive; give one");
            if (maxLen < 1) throw new ConfigError("--max-len=" + maxLen + ": expected a positive number of tokens (prefix included)");
            try (Opened o = open(false)) {
                Explorer.Generated g = o.explorer().generate(prefix, Explorer.Sampling.defaults().maxLen(maxLen)
                        .temperature(temperature).topK(topK).nucleus(nucleus).beams(beams).lengthPenalty(lengthPenalty)
                        .cache(!noCache).seed(seed));
                String how = g.cached() ? "KV cache" : noCache ? "no cache"
                        : "no cache: " + Generation.whyNoCache(o.explorer().lm());
                System.out.println(g.text());
                System.out.printf(Locale.ROOT, "(%d new tokens in %.3f s: %.1f tokens/s, %s)%n", g.newTokens(), g.seconds(),
                        g.tokensPerSecond(), how);
            }
            return 0;
        }
    }

    @Command(name = "perplexity", mixinStandardHelpOptions = true, description = "Token-weighted perplexity of a run on a split of its data or on a text file (one sample per line).")
    static final class Perplexity extends ModelCmd {
        @Option(names = "--split", paramLabel = "S", description = "train | valid | test (default test)") String split = "test";
        @Option(names = "--text-file", paramLabel = "F", description = "score these lines instead of a split") Path textFile;
        @Option(names = "--batch-size", paramLabel = "N") int batchSize = 16;

        @Override
        public Integer call() throws Exception {
            if (pretrained != null && textFile == null)
                throw new ConfigError("perplexity --pretrained: a split needs a run's data; give --text-file=F, or --stride/--task for the sliding window");
            try (Opened o = open(textFile == null)) {
                Explorer ex = o.explorer();
                Explorer.Perplexities p;
                String what;
                if (textFile != null) {
                    if (!Files.isRegularFile(textFile)) throw new ConfigError("--text-file=" + textFile + ": no such file");
                    List<String> lines = new ArrayList<>();
                    for (String l : Files.readAllLines(textFile)) if (!l.isBlank()) lines.add(l);
                    if (lines.isEmpty()) throw new ConfigError("--text-file=" + textFile + ": no non-blank lines");
                    p = ex.perplexities(lines, batchSize, false, false);
                    what = textFile + " (" + lines.size() + " lines)";
                } else {
                    DataModule.Split s;
                    try {
                        s = DataModule.Split.valueOf(split.toUpperCase(Locale.ROOT).replace("VAL", "VALID").replace("VALIDID", "VALID"));
                    } catch (IllegalArgumentException e) {
                        throw new ConfigError("--split=" + split + ": expected train | valid | test");
                    }
                    p = ex.perplexities(o.run().data(), s, batchSize, false, false);
                    what = o.run().run().task() + " " + s.name().toLowerCase() + " split";
                }
                System.out.printf(Locale.ROOT, "perplexity of %s on %s: %.4f (cross-entropy %.4f nats; per-token min %.3f, max %.3f; %d tokens)%n",
                        ex.name(), what, p.mean(), Math.log(p.mean()), p.min(), p.max(), p.totalTokens());
            }
            return 0;
        }
    }

    @Command(name = "plot-metrics", mixinStandardHelpOptions = true, description = "Plot train_stats metrics of runs against n_train_samples into metrics/FILE.png.")
    static final class PlotMetrics implements Callable<Integer> {
        @Option(names = "--timestamp", required = true, split = ",", paramLabel = "T[,T2...]") List<String> timestamps;
        @Option(names = "--metric", split = ",", paramLabel = "NAME[,NAME2...]", description = "default stat/val_loss:main") List<String> metrics = List.of("stat/val_loss:main");
        @Option(names = "--title", paramLabel = "TITLE") String title;
        @Option(names = "--out", paramLabel = "FILE", description = "file name under metrics/ (default from the metric and runs)") String out;
        @Option(names = "--saved-models", paramLabel = "DIR") Path savedModels = Path.of("saved-models");
        @Option(names = "--out-dir", paramLabel = "DIR") Path outDir = Path.of(".");

        @Override
        public Integer call() {
            Explore ex = new Explore(new Runs(savedModels, Path.of("."), Device.cpu()), outDir);
            System.out.println("wrote " + ex.plotMetrics(timestamps, metrics, title, out));
            return 0;
        }
    }

    @Command(name = "attentions", mixinStandardHelpOptions = true, description = "One attention heatmap per layer and head on a text, under attentions/.")
    static final class Attentions extends ModelCmd {
        @Option(names = "--text", required = true, paramLabel = "TEXT") String text;
        @Option(names = "--layers", split = ",", paramLabel = "L[,L2...]", description = "default: all") List<Integer> layers;
        @Option(names = "--heads", split = ",", paramLabel = "H[,H2...]", description = "default: all") List<Integer> heads;
        @Option(names = "--folder", paramLabel = "NAME", description = "attentions/NAME/ (default: {task}/{ts}/heads-at-chkpt/{checkpoint}, or pretrained/{DIR name})") String folder;

        @Override
        public Integer call() {
            try (Opened o = open(false)) {
                List<Path> files = folder == null && o.run() != null ? explore().showAttentions(o.run(), text, layers, heads)
                        : explore().showAttentions(o.explorer(), text, layers, heads, folder != null ? folder : "pretrained/" + o.explorer().name());
                System.out.println("wrote " + files.size() + " heatmaps to " + files.get(0).getParent());
            }
            return 0;
        }
    }

    @Command(name = "logit-lens", mixinStandardHelpOptions = true, description = "Logit-lens heatmap (layer x position, top token per cell) under lens/.")
    static final class Lens extends ModelCmd {
        @Option(names = "--text", required = true, paramLabel = "TEXT") String text;
        @Option(names = "--mode", paramLabel = "M", description = "logits | probs | ranks | kl (default probs)") String mode = "probs";
        @Option(names = "--subblocks", description = "also show the stream after each attention sub-layer") boolean subblocks;
        @Option(names = "--start", paramLabel = "I", description = "first position (default 0 = bos)") int start;
        @Option(names = "--end", paramLabel = "J", description = "end position, exclusive (default: all)") int end = -1;
        @Option(names = "--block-step", paramLabel = "N", description = "show every N-th block (default 1)") int blockStep = 1;
        @Option(names = "--decoder", split = ",", paramLabel = "NAMES", description = "decoder layers, e.g. blocks.3,ln_f,lm_head (default ln_f,lm_head)") List<String> decoder;

        @Override
        public Integer call() {
            try (Opened o = open(false)) {
                System.out.println("wrote " + explore().plotLogitLens(o.explorer(), text, start, end, mode, subblocks, decoder, blockStep));
            }
            return 0;
        }
    }
}
