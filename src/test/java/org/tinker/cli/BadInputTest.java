package org.tinker.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.tinker.runs.RunStore;
import org.tinker.train.Experiment;
import org.tinker.train.TestRuns;

/**
 * Hostile and broken input through the real command line (issue 19): each case is a config file (bytes as written)
 * and arguments, the exit code, words the one {@code error:} line must hold, and what may be left in saved-models.
 * The base config trains two steps of a tiny PTB model, so a case whose check is missing fails fast (exit 0) instead
 * of starting a long training.
 */
class BadInputTest {
    /** Two optimizer steps on 200 lines of PTB: what a refused value would otherwise have trained. */
    static final String TINY = """
            [DataParams]
            dataset_name = "ptb"
            debug_crop = 200
            [TrainParams]
            batch_size = 8
            epochs = 1
            max_steps = 2
            max_sample_tokens = 0
            [ModelParams]
            n_layers = 1
            n_heads = 2
            dim = 32
            max_seq_len = 32
            tokenizer_source_name = "word"
            """;

    /**
     * What a case may leave under saved-models: nothing at all; no run (no file, no timestamp folder: only the empty
     * folders of its config and task, which another run may share); or a run folder without a final checkpoint.
     */
    enum Left { NOTHING, NO_RUN, NO_FINAL }

    record Case(String name, byte[] config, List<String> args, int code, List<String> words, Left left) {
        @Override
        public String toString() {
            return name;
        }
    }

    /** TINY with {@code key = value} set in its section (replacing the line of that key, if any). */
    static String tiny(String section, String key, String value) {
        List<String> out = new ArrayList<>();
        for (String line : TINY.split("\n")) {
            if (line.startsWith(key + " =")) continue;
            out.add(line);
            if (line.equals("[" + section + "]")) out.add(key + " = " + value);
        }
        return String.join("\n", out) + "\n";
    }

    static Case config(String name, String text, int code, Left left, String... words) {
        return new Case(name, text.getBytes(java.nio.charset.StandardCharsets.UTF_8), List.of(), code, List.of(words), left);
    }

    /** A refused value: exit 2, the file and line of the key, the key, what was expected; nothing written. */
    static Case refused(String section, String key, String value, String... expected) {
        List<String> words = new ArrayList<>(List.of(key + "=", "expected"));
        words.addAll(List.of(expected));
        // the key's line: TINY's header line of the section + 1
        int line = List.of(TINY.split("\n")).indexOf("[" + section + "]") + 2;
        words.add("c.txt:" + line + ":");
        return new Case(section + "." + key + " = " + value, tiny(section, key, value).getBytes(java.nio.charset.StandardCharsets.UTF_8),
                List.of(), 2, words, Left.NOTHING);
    }

    /** {@code runner tint create} on tiny-gpt2 with {@code args}, refused before anything is built. */
    static Case tint(String name, List<String> args, String... words) {
        List<String> all = new ArrayList<>(List.of("tint", "create", "--pretrained", "src/test/resources/tiny-gpt2", "--save", "{dir}/saved/tint"));
        all.addAll(args);
        return new Case("tint " + name, TINY.getBytes(), all, 2, List.of(words), Left.NOTHING);
    }

    static Stream<Case> cases() {
        return Stream.of(
                // item 2: NaN and Infinity
                refused("TrainParams", "lr", "inf", "finite"),
                refused("TrainParams", "lr", "1e999", "finite"),
                refused("TrainParams", "lr", "nan", "finite"),
                refused("TrainParams", "gradient_clip_val", "nan", "finite"),
                refused("TrainParams", "dropout", "nan", "finite"),
                refused("TrainParams", "min_lr", "-inf", "finite"),
                refused("TrainParams", "weight_decay", "inf", "finite"),
                refused("TrainParams", "adam_beta2", "nan", "finite"),
                refused("TrainParams", "sample_temperature", "inf", "finite"),
                refused("TrainParams", "val_check_epoch_frac", "nan", "finite"),
                refused("DataParams", "val_pct", "nan", "finite"),
                refused("DataParams", "test_pct", "inf", "finite"),
                refused("ModelParams", "layer_norm_eps", "inf", "finite"),
                refused("ModelParams", "recon_loss_weight", "nan", "finite"),
                refused("ModelParams", "recon_loss_weight", "-1", "non-negative"),
                // a learning rate that blows the loss up on the first step: exit 1, one line, no final checkpoint
                config("lr = 1e6 diverges", TestRuns.set(tiny("TrainParams", "lr", "1e6"), "max_steps", "5", "gradient_clip_val", "0", "lr_warm_steps", "0"),
                        1, Left.NO_FINAL, "training loss is nan", "not finished", "tp.lr"),
                // item 3: grids and models too large to run
                config("2^32-point grid", grid(4, 256), 2, Left.NOTHING, "c.txt: the grid has 4,294,967,296 runs", "--max-grid"),
                config("10^7-point grid", grid(7, 10), 2, Left.NOTHING, "the grid has 10,000,000 runs", "limit of 10,000"),
                config("2^128-point grid", grid(16, 256), 2, Left.NOTHING, "the grid has more than 9.2e18 runs"),
                new Case("48 points over --max-grid=10", TestRuns.set(grid(2, 4), "epochs", "[1, 2, 3]").getBytes(),
                        List.of("--max-grid=10", "--dry-run"), 2, List.of("the grid has 48 runs", "limit of 10"), Left.NOTHING),
                new Case("--max-grid=0", TINY.getBytes(), List.of("--max-grid=0"), 2, List.of("--max-grid=0", "positive"), Left.NOTHING),
                new Case("grid-status of 16 points over --max-grid=10", grid(2, 4).getBytes(),
                        List.of("grid-status", "--config=c", "--configs-dir={dir}", "--max-grid=10"), 2,
                        List.of("the grid has 16 runs", "limit of 10"), Left.NOTHING),
                config("dim = 1e9", tiny("ModelParams", "dim", "1e9"), 2, Left.NOTHING, "model too large to train here",
                        "dim=1000000000", "PB"),
                // 8,544 parameters a layer of width 32: 85 billion parameters, 1.4 TB to train, on any machine
                config("n_layers = 10000000", tiny("ModelParams", "n_layers", "10000000"), 2, Left.NOTHING,
                        "model too large to train here", "n_layers=10000000", "this machine has"),
                // item 4: nothing written outside saved-models, no folder for a run that never started
                new Case("--task=../../x", TINY.getBytes(), List.of("--task=../../x"), 2, List.of("--task=../../x", "expected a plain name"),
                        Left.NOTHING),
                new Case("--task=/tmp", TINY.getBytes(), List.of("--task=/tmp"), 2, List.of("--task=/tmp", "not absolute"), Left.NOTHING),
                config("dataset_name = \"../../y\"", TINY.replace("\"ptb\"", "\"../../y\""), 2, Left.NOTHING,
                        "dp.dataset_name=../../y", "expected a plain name"),
                new Case("--task of no task", TINY.getBytes(), List.of("--task=nosuchtask"), 2, List.of("unknown task 'nosuchtask'"),
                        Left.NOTHING),
                // fails once the run folder exists, before the first batch: the folder goes again
                config("from_saved of no run", tiny("ModelParams", "from_saved", "\"2020-01-01--00-00-00\""), 2, Left.NO_RUN,
                        "no saved run with timestamp 2020-01-01--00-00-00"),
                // item 9: small things
                config("empty config", "", 2, Left.NOTHING, "c.txt: no sections"),
                config("comments only", "# lr = 0.1\n\n", 2, Left.NOTHING, "c.txt: no sections"),
                new Case("Latin-1 byte", TINY.replace("max_steps = 2", "max_steps = 2 # caf\u00e9").getBytes(java.nio.charset.StandardCharsets.ISO_8859_1),
                        List.of(), 2, List.of("c.txt:7: not UTF-8", "0xE9"), Left.NOTHING),
                new Case("--saved-models=/", TINY.getBytes(), List.of("--saved-models=/"), 2,
                        List.of("--saved-models=/: expected a folder", "not the root"), Left.NOTHING),
                new Case("list --saved-models=/", TINY.getBytes(), List.of("list", "--saved-models=/"), 2,
                        List.of("--saved-models=/: expected a folder"), Left.NOTHING),
                new Case("verify --saved-models=/", TINY.getBytes(), List.of("verify", "--timestamp=x", "--saved-models=/"), 2,
                        List.of("--saved-models=/: expected a folder"), Left.NOTHING),
                // runner tint's settings go through the params checks: the flag or --set that gave the value
                tint("--n-forward-backward 0", List.of("--n-forward-backward", "0"),
                        "--n-forward-backward=0: n_forward_backward=0 in [TintParams]: expected a positive number of steps"),
                tint("--set tint.inner_lr=inf", List.of("--set", "tint.inner_lr=inf"), "--set tint.inner_lr=inf: inner_lr=inf", "finite"),
                tint("--set tint.inner_lrr", List.of("--set", "tint.inner_lrr=1"), "unknown key 'inner_lrr' in [TintParams] (did you mean 'inner_lr'?)"),
                tint("--set mp.dim", List.of("--set", "mp.dim=8"), "--set mp.dim=8: runner tint takes TinT settings only"),
                tint("--inner-lr and --set tint.inner_lr", List.of("--inner-lr", "1e-3", "--set", "tint.inner_lr=1e-4"),
                        "--set tint.inner_lr=1e-4: inner_lr is already given by --inner-lr=0.001"),
                new Case("training --set tint.inner_lr", TINY.getBytes(), List.of("--set", "tint.inner_lr=1e-3"), 2,
                        List.of("--set tint.inner_lr=1e-3: [TintParams] is not a training setting"), Left.NOTHING),
                new Case("sample --max-len=-1", TINY.getBytes(), List.of("sample", "--pretrained=no-such-model", "--max-len=-1"), 2,
                        List.of("--max-len=-1: expected a positive number of tokens"), Left.NOTHING));
    }

    /** TINY with {@code axes} list values of {@code n} learning rates each (any float key takes a list). */
    static String grid(int axes, int n) {
        String[] keys = {"lr", "min_lr", "weight_decay", "adam_beta1", "adam_beta2", "sample_temperature", "lora_std", "dropout",
                "gradient_clip_val", "scheduler_factor", "val_check_epoch_frac", "lr_warm_steps", "patience", "lr_cycle_steps",
                "hyperparams_log_freq", "random_seed"};
        StringBuilder b = new StringBuilder();
        for (int a = 0; a < axes; a++) {
            List<String> values = new ArrayList<>();
            for (int i = 0; i < n; i++) values.add(String.valueOf(i + 1));
            b.append(keys[a]).append(" = [").append(String.join(", ", values)).append("]\n");
        }
        return TINY.replace("[TrainParams]\n", "[TrainParams]\n" + b);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    @Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD) // a case that hangs (a huge grid built point by point) fails
    void isRefusedWithOneLine(Case c, @TempDir Path dir) throws IOException {
        Files.write(dir.resolve("c.txt"), c.config());
        Path saved = dir.resolve("saved");
        List<String> args = new ArrayList<>();
        boolean subcommand = !c.args().isEmpty() && !c.args().get(0).startsWith("--");
        if (!subcommand) {
            args.addAll(List.of("--config=c", "--configs-dir=" + dir, "--no-wandb", "--save"));
            if (c.args().stream().noneMatch(a -> a.startsWith("--saved-models"))) args.add("--saved-models=" + saved);
        }
        for (String a : c.args()) args.add(a.replace("{dir}", dir.toString())); // {dir}: where this case's c.txt is
        MainTest.Outcome o = MainTest.run(args.toArray(String[]::new));
        assertEquals(c.code(), o.code(), "exit code; stderr: " + o.err());
        List<String> lines = o.err().strip().lines().toList();
        assertEquals(1, lines.size(), "one error line: " + o.err());
        assertTrue(lines.get(0).startsWith("error: "), o.err());
        for (String w : c.words()) assertTrue(lines.get(0).contains(w), "'" + w + "' in: " + lines.get(0));
        assertNoFinal(saved, c.left());
        try (var s = Files.list(dir)) { // nothing beside saved-models (a task '../../x' once made <dir>/x/<ts>/log.txt)
            assertEquals(List.of(), s.map(p -> p.getFileName().toString()).filter(n -> !n.equals("c.txt") && !n.equals("saved")).toList(),
                    "nothing written outside saved-models");
        }
    }

    @Test
    void aByteOrderMarkIsAccepted(@TempDir Path dir) throws IOException {
        byte[] bom = {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF};
        byte[] text = TINY.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        byte[] all = new byte[bom.length + text.length];
        System.arraycopy(bom, 0, all, 0, bom.length);
        System.arraycopy(text, 0, all, bom.length, text.length);
        Files.write(dir.resolve("c.txt"), all);
        MainTest.Outcome o = MainTest.run("--config=c", "--configs-dir=" + dir, "--dry-run");
        assertEquals(0, o.code(), o.err());
        assertTrue(o.out().startsWith("1 run from"), o.out());
    }

    @Test
    void anEmptyValidationSplitIsSaidOnce(@TempDir Path root) throws IOException {
        Path d = Files.createDirectories(root.resolve("mydata/one"));
        Files.writeString(d.resolve("all.txt"), "one line of text is all there is\n");
        Files.writeString(root.resolve("data-path.txt"), "mydata\n");
        var spec = TestRuns.spec(TINY.replace("\"ptb\"", "\"one\"").replace("debug_crop = 200\n", ""));
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        java.io.PrintStream out = new java.io.PrintStream(bytes, true, java.nio.charset.StandardCharsets.UTF_8);
        Experiment.run(spec, new Experiment.Setup(root, root.resolve("saved"), false,
                ai.djl.Device.cpu(), out, List.of(), false));
        List<String> warnings = bytes.toString(java.nio.charset.StandardCharsets.UTF_8).lines().filter(l -> l.startsWith("warning:")).toList();
        assertEquals(1, warnings.size(), bytes.toString());
        assertTrue(warnings.get(0).contains("the validation split has 0 sequences") && warnings.get(0).contains("val_loss will be nan"),
                warnings.get(0));
    }

    static void assertNoFinal(Path saved, Left left) throws IOException {
        if (!Files.exists(saved)) return;
        try (var s = Files.walk(saved)) {
            List<Path> all = s.filter(p -> !p.equals(saved)).toList();
            if (left == Left.NOTHING) assertEquals(List.of(), all, "nothing written");
            else if (left == Left.NO_RUN) assertTrue(all.stream().allMatch(p -> Files.isDirectory(p)
                    && !RunStore.TIMESTAMP.matcher(p.getFileName().toString()).matches()), "no run left: " + all);
            else assertTrue(all.stream().noneMatch(p -> p.getFileName().toString().equals("final")), "no final checkpoint: " + all);
        }
    }
}
