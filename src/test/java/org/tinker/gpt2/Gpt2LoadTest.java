package org.tinker.gpt2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.tinker.gpt2.Gpt2Fixtures.maxAbsDiff;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tinker.config.ConfigError;
import org.tinker.data.Gpt2Tokenizer;
import org.tinker.data.Tokenizer;
import org.tinker.engine.SafeTensors;
import org.tinker.engine.TorchPickle;
import org.tinker.model.LM;
import org.tinker.model.WithBaseManager;

/** Exact loading of HF GPT-2 checkpoints against the fixtures' reference logits and hidden states. */
class Gpt2LoadTest extends WithBaseManager {

    /** max |logits − ref| over both random-gpt2 sequences, and over the hidden states of sequence 0. */
    static double[] randomGpt2Errors(Path dir, DataType dtype, String arch) {
        try (NDManager m = base.newSubManager(); LM lm = Gpt2Pretrained.load(dir, m, dtype, arch)) {
            Map<String, NDArray> ref = SafeTensors.read(Gpt2Fixtures.randomGpt2().resolve("logits.safetensors"), m);
            Map<String, NDArray> hs = SafeTensors.read(Gpt2Fixtures.randomGpt2().resolve("hidden_states.safetensors"), m);
            double logitErr = 0, hiddenErr = 0;
            for (int i = 0; i < 2; i++) {
                NDList out = Gpt2Pretrained.logitsAndHidden(lm, ref.get("input_ids_" + i));
                logitErr = Math.max(logitErr, maxAbsDiff(out.get(0), ref.get("logits_" + i)));
                if (i == 0) for (int l = 0; l <= 3; l++) hiddenErr = Math.max(hiddenErr, maxAbsDiff(out.get(1 + l), hs.get("h" + l)));
            }
            return new double[] {logitErr, hiddenErr};
        }
    }

    @Test
    void randomGpt2MatchesTheReferenceInFloat64() {
        double[] e = randomGpt2Errors(Gpt2Fixtures.randomGpt2(), DataType.FLOAT64, null);
        System.out.printf("random-gpt2 float64: logits %.3g, hidden %.3g%n", e[0], e[1]);
        assertTrue(e[0] <= 1e-10, "logits off by " + e[0]);
        assertTrue(e[1] <= 1e-10, "hidden states off by " + e[1]);
    }

    @Test
    void randomGpt2MatchesTheReferenceInFloat32BothArchitectures() {
        for (String arch : new String[] {"torch-transformer", "custom-transformer"}) {
            double[] e = randomGpt2Errors(Gpt2Fixtures.randomGpt2(), DataType.FLOAT32, arch);
            System.out.printf("random-gpt2 float32 %s: logits %.3g, hidden %.3g%n", arch, e[0], e[1]);
            assertTrue(e[0] <= 2e-6, arch + ": logits off by " + e[0]);
            assertTrue(e[1] <= 2e-6, arch + ": hidden states off by " + e[1]);
        }
    }

    @Test
    void theFixtureTellsGeluNewFromErfGelu() {
        try (NDManager m = base.newSubManager()) {
            Gpt2Config cfg = Gpt2Pretrained.config(Gpt2Fixtures.randomGpt2());
            var mp = cfg.mp();
            var erf = mp.with("activation", "gelu").with("tie_embed_deembed", true); // the same model with the exact erf GELU
            try (LM lm = new LM(erf, cfg.vocabSize(), m, 0, DataType.FLOAT64)) {
                Gpt2Pretrained.loadWeights(lm, Gpt2Fixtures.randomGpt2(), cfg);
                Map<String, NDArray> ref = SafeTensors.read(Gpt2Fixtures.randomGpt2().resolve("logits.safetensors"), m);
                double e = maxAbsDiff(Gpt2Pretrained.logitsAndHidden(lm, ref.get("input_ids_0")).get(0), ref.get("logits_0"));
                assertTrue(e > 5e-6, "erf GELU should be visibly off, was " + e);
            }
        }
    }

    @Test
    void logitLensMatches() {
        try (NDManager m = base.newSubManager(); LM lm = Gpt2Pretrained.load(Gpt2Fixtures.randomGpt2(), m, DataType.FLOAT64, null)) {
            Map<String, NDArray> hs = SafeTensors.read(Gpt2Fixtures.randomGpt2().resolve("hidden_states.safetensors"), m);
            var p = lm.parameters();
            NDArray wte = p.get(LM.WTE);
            for (int l = 0; l <= 3; l++) {
                NDArray r = l < 3 ? hs.get("h" + l) : hs.get("resid_final");
                NDArray normed = ai.djl.pytorch.jni.JniUtils.layerNorm((ai.djl.pytorch.engine.PtNDArray) r, new ai.djl.ndarray.types.Shape(64),
                        (ai.djl.pytorch.engine.PtNDArray) p.get(LM.LN_F_W), (ai.djl.pytorch.engine.PtNDArray) p.get(LM.LN_F_B), 1e-5);
                NDArray lens = normed.matMul(wte.transpose());
                assertTrue(maxAbsDiff(lens, hs.get("lens_logits_" + l)) <= 1e-10, "lens " + l);
            }
        }
    }

    @Test
    void pickleCheckpointGivesTheSameOutputs() {
        double[] e = randomGpt2Errors(Gpt2Fixtures.randomGpt2Bin(), DataType.FLOAT64, null);
        assertTrue(e[0] <= 1e-10 && e[1] <= 1e-10, "pytorch_model.bin: " + e[0] + " / " + e[1]);
        try (NDManager m = base.newSubManager()) {
            var bin = TorchPickle.read(Gpt2Fixtures.randomGpt2Bin().resolve("pytorch_model.bin"), m);
            var st = SafeTensors.read(Gpt2Fixtures.randomGpt2().resolve("model.safetensors"), m);
            for (var e2 : st.entrySet()) assertEquals(0.0, maxAbsDiff(bin.get(e2.getKey()), e2.getValue()), e2.getKey());
            assertEquals(0.0, maxAbsDiff(bin.get("lm_head.weight"), bin.get("transformer.wte.weight")));
            assertEquals(DataType.UINT8, bin.get("transformer.h.0.attn.bias").getDataType());
        }
    }

    @Test
    void maliciousPickleIsRefusedAndRunsNothing() throws IOException {
        Path pwned = Path.of("/tmp/tinker-pwned");
        Files.deleteIfExists(pwned);
        try (NDManager m = base.newSubManager()) {
            RuntimeException e = Gpt2Fixtures.refusal(() -> Gpt2Pretrained.load(Gpt2Fixtures.malicious(), m));
            assertTrue(e.getMessage().contains("posix.system"), e.getMessage());
            assertTrue(e.getMessage().contains("pytorch_model.bin"), e.getMessage());
        }
        assertFalse(Files.exists(pwned));
    }

    @Test
    void tinyGpt2MatchesItsLogits() {
        Path dir = Gpt2Fixtures.tinyGpt2();
        for (DataType dt : new DataType[] {DataType.FLOAT32, DataType.FLOAT64}) {
            try (NDManager m = base.newSubManager(); LM lm = Gpt2Pretrained.load(dir, m, dt, null)) {
                assertEquals(102_714, lm.numParameters());
                assertFalse(lm.parameters().containsKey(LM.LM_HEAD), "tied: the head is wte");
                Map<String, NDArray> ref = SafeTensors.read(Gpt2Fixtures.tinyLogits(), m);
                double le = 0, he = 0;
                for (int i = 0; i < 3; i++) {
                    NDList out = Gpt2Pretrained.logitsAndHidden(lm, ref.get("input_ids_" + i));
                    le = Math.max(le, maxAbsDiff(out.get(0), ref.get("logits_" + i)));
                    he = Math.max(he, maxAbsDiff(out.get(out.size() - 1), ref.get("final_hidden_" + i)));
                }
                System.out.printf("tiny-gpt2 %s: logits %.3g, final hidden %.3g%n", dt, le, he);
                assertTrue(le <= (dt == DataType.FLOAT64 ? 2e-8 : 1e-6), dt + " logits " + le);
                assertTrue(he <= (dt == DataType.FLOAT64 ? 1e-12 : 1e-5), dt + " final hidden " + he);
            }
        }
    }

    @Test
    void configArchitectureIsGpt2() {
        Gpt2Config c = Gpt2Pretrained.config(Gpt2Fixtures.randomGpt2());
        assertEquals(3, c.mp().n_layers());
        assertEquals(4, c.mp().n_heads());
        assertEquals(64, c.mp().dim());
        assertEquals(4, c.mp().dim_ff_factor());
        assertEquals(128, c.mp().max_seq_len());
        assertEquals("gelu_new", c.mp().activation().spelling());
        assertTrue(c.mp().norm_first() && c.mp().final_norm() && c.mp().tie_embed_deembed());
        assertEquals(1000, c.vocabSize());
        assertEquals(999, c.eosId());
    }

    // ---- errors users can cause ----

    private static Path copyOf(Path src, Path dst) throws IOException {
        Files.createDirectories(dst);
        try (var s = Files.list(src)) {
            for (Path p : (Iterable<Path>) s::iterator) Files.copy(p, dst.resolve(p.getFileName()));
        }
        return dst;
    }

    @Test
    void missingTruncatedAndCorruptFilesGiveClearErrors(@TempDir Path tmp) throws IOException {
        Path dir = copyOf(Gpt2Fixtures.randomGpt2(), tmp.resolve("m"));
        Path st = dir.resolve("model.safetensors");
        byte[] good = Files.readAllBytes(st);
        try (NDManager m = base.newSubManager()) {
            Files.write(st, java.util.Arrays.copyOf(good, good.length - 1000)); // truncated
            RuntimeException e = Gpt2Fixtures.refusal(() -> Gpt2Pretrained.load(dir, m));
            assertTrue(e.getMessage().contains(st.toString()) && e.getMessage().contains("truncated"), e.getMessage());

            byte[] bad = good.clone(); // corrupt header JSON
            bad[20] = '#';
            Files.write(st, bad);
            e = Gpt2Fixtures.refusal(() -> Gpt2Pretrained.load(dir, m));
            assertTrue(e.getMessage().contains("not a valid safetensors"), e.getMessage());

            Files.write(st, new byte[] {1, 2, 3});
            e = Gpt2Fixtures.refusal(() -> Gpt2Pretrained.load(dir, m));
            assertTrue(e.getMessage().contains("shorter than"), e.getMessage());

            Files.delete(st);
            e = Gpt2Fixtures.refusal(() -> Gpt2Pretrained.load(dir, m));
            assertTrue(e.getMessage().contains("no model.safetensors or pytorch_model.bin"), e.getMessage());

            Files.write(st, good);
            Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"gpt2\", \"n_layer\": 3");
            e = Gpt2Fixtures.refusal(() -> Gpt2Pretrained.load(dir, m));
            assertTrue(e.getMessage().contains("config.json") && e.getMessage().contains("corrupt"), e.getMessage());

            Files.writeString(dir.resolve("config.json"), Files.readString(Gpt2Fixtures.randomGpt2().resolve("config.json"))
                    .replace("\"gelu_new\"", "\"swish\""));
            e = Gpt2Fixtures.refusal(() -> Gpt2Pretrained.load(dir, m));
            assertTrue(e.getMessage().contains("activation_function 'swish'"), e.getMessage());

            Files.writeString(dir.resolve("config.json"), Files.readString(Gpt2Fixtures.randomGpt2().resolve("config.json"))
                    .replace("\"n_layer\": 3", "\"n_layer\": 4"));
            e = Gpt2Fixtures.refusal(() -> Gpt2Pretrained.load(dir, m));
            assertTrue(e.getMessage().contains("missing transformer.h.3"), e.getMessage());

            Files.delete(dir.resolve("config.json"));
            e = Gpt2Fixtures.refusal(() -> Gpt2Pretrained.load(dir, m));
            assertTrue(e.getMessage().contains("no config.json"), e.getMessage());
        }
        Path binDir = copyOf(Gpt2Fixtures.randomGpt2Bin(), tmp.resolve("b"));
        Path bin = binDir.resolve("pytorch_model.bin");
        byte[] b = Files.readAllBytes(bin);
        Files.write(bin, java.util.Arrays.copyOf(b, b.length / 2));
        try (NDManager m = base.newSubManager()) {
            RuntimeException e = Gpt2Fixtures.refusal(() -> Gpt2Pretrained.load(binDir, m));
            assertTrue(e.getMessage().contains(bin.toString()), e.getMessage());
        }
    }

    @Test
    void resolvesFoldersModelsFolderAndTheHfCache(@TempDir Path tmp) throws IOException {
        Path home = tmp.resolve("home");
        Path project = tmp.resolve("proj");
        // HF cache under ~/.cache/huggingface/hub, with refs/main
        Path repo = home.resolve(".cache/huggingface/hub/models--gpt2");
        copyOf(Gpt2Fixtures.randomGpt2(), repo.resolve("snapshots/abc123"));
        Files.createDirectories(repo.resolve("refs"));
        Files.writeString(repo.resolve("refs/main"), "abc123");
        var env = new Gpt2Pretrained.Env(null, null, null, home, project);
        assertEquals(repo.resolve("snapshots/abc123"), Gpt2Pretrained.resolve("gpt2", env));
        // HF_HOME and HF_HUB_CACHE
        Path hfHome = tmp.resolve("hfhome");
        copyOf(Gpt2Fixtures.randomGpt2(), hfHome.resolve("hub/models--openai-community--gpt2/snapshots/x"));
        assertEquals(hfHome.resolve("hub/models--openai-community--gpt2/snapshots/x"),
                Gpt2Pretrained.resolve("gpt2", new Gpt2Pretrained.Env(null, hfHome.toString(), null, tmp, project)));
        assertEquals(hfHome.resolve("hub/models--openai-community--gpt2/snapshots/x"),
                Gpt2Pretrained.resolve("openai-community/gpt2", new Gpt2Pretrained.Env(hfHome.resolve("hub").toString(), null, null, tmp, project)));
        // a local models folder wins over the cache
        copyOf(Gpt2Fixtures.randomGpt2(), project.resolve("models/gpt2"));
        assertEquals(project.resolve("models/gpt2"), Gpt2Pretrained.resolve("gpt2", env));
        // nothing anywhere: one message saying where it looked and how to get it
        RuntimeException e = assertThrows(ConfigError.class, () -> Gpt2Pretrained.resolve("gpt2-medium", env));
        assertTrue(e.getMessage().contains("models--gpt2-medium") && e.getMessage().contains("huggingface-cli download")
                && e.getMessage().contains(project.resolve("models/gpt2-medium").toString()), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
    }

    @Test
    void tokenizerFromTheCheckpointFolderMatchesTheFixtureCases(@TempDir Path tmp) throws IOException {
        Path tiny = Gpt2Fixtures.tinyGpt2();
        var fromJson = Gpt2Pretrained.tokenizer(tiny, 50257); // tokenizer.json (merges as pairs)
        Path vm = tmp.resolve("vm");
        Files.createDirectories(vm);
        Files.copy(tiny.resolve("vocab.json"), vm.resolve("vocab.json"));
        Files.copy(tiny.resolve("merges.txt"), vm.resolve("merges.txt"));
        var fromTxt = Gpt2Tokenizer.fromFolder(vm);
        // tokenizer.json with merges written as "a b" strings (older tokenizers versions)
        Path old = tmp.resolve("old");
        Files.createDirectories(old);
        var o = com.google.gson.JsonParser.parseString(Files.readString(tiny.resolve("tokenizer.json"))).getAsJsonObject();
        var merges = new com.google.gson.JsonArray();
        for (var mm : o.getAsJsonObject("model").getAsJsonArray("merges"))
            merges.add(mm.getAsJsonArray().get(0).getAsString() + " " + mm.getAsJsonArray().get(1).getAsString());
        o.getAsJsonObject("model").add("merges", merges);
        Files.writeString(old.resolve("tokenizer.json"), o.toString());
        var fromOld = Gpt2Tokenizer.fromFolder(old);
        var full = Gpt2Tokenizer.full();
        for (String line : Files.readAllLines(Gpt2Fixtures.resource("fixtures/gpt2-tokenizer/cases.jsonl"))) {
            if (line.isBlank()) continue;
            var c = com.google.gson.JsonParser.parseString(line).getAsJsonObject();
            String text = c.get("text").getAsString();
            int[] ids = new com.google.gson.Gson().fromJson(c.get("ids"), int[].class);
            for (var t : new Tokenizer[] {fromJson, fromTxt, fromOld})
                org.junit.jupiter.api.Assertions.assertArrayEquals(ids, t.encode(text), text);
        }
        assertEquals(full.toJson(), fromJson.toJson());
        assertEquals(50256, fromTxt.eosId());
        // a vocabulary that is not GPT-2's is refused clearly
        Files.writeString(vm.resolve("merges.txt"), "#version: 0.2\nĠ t\nx y z\n");
        RuntimeException e = assertThrows(ConfigError.class, () -> Gpt2Tokenizer.fromFolder(vm));
        assertTrue(e.getMessage().contains("merges.txt"), e.getMessage());
        // a folder without tokenizer files whose vocabulary is not GPT-2's has no tokenizer to offer
        assertSame(null, Gpt2Pretrained.tokenizer(Gpt2Fixtures.randomGpt2(), 1000));
    }
}
