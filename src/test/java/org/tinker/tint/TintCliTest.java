package org.tinker.tint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tinker.cli.Main;
import org.tinker.config.TintParams;
import org.tinker.engine.SafeTensors;

/** runner tint forward | create (save, load back) | perplexity, and the user-mistake exits. */
class TintCliTest {
    @TempDir Path tmp;

    @Test
    void forwardWritesFixtureOutputs() {
        Path out = tmp.resolve("hard64.safetensors");
        assertEquals(0, Main.run("tint", "forward", "--input", TintFixtures.ROOT.resolve("hard64/input.json").toString(), "--out", out.toString()));
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> got = SafeTensors.read(out, m), exp = TintFixtures.expected("hard64", m);
            for (String k : got.keySet()) {
                assertEquals(exp.get(k).getDataType(), got.get(k).getDataType(), k);
                Mat a = TintSgdTest.flat(got.get(k)), b = TintSgdTest.flat(exp.get(k));
                assertTrue(TintFixtures.maxAbsDiff(a, b) < 1e-10, k);
            }
            assertTrue(got.containsKey("transformer.h.0.attn.c_attn.weight") && got.containsKey("transformer.ln_f.bias") && got.size() == 2 + 24 + 2);
        }
    }

    @Test
    void createSavesAndLoadsBackIdentically() {
        Path save = tmp.resolve("tint-tiny");
        assertEquals(0, Main.run("tint", "create", "--pretrained", "src/test/resources/tiny-gpt2", "--inner-lr", "1e-3", "--save", save.toString()));
        assertTrue(Files.isRegularFile(save.resolve(TintStore.TENSORS)));
        TintModel loaded = TintStore.load(save);
        long[] ids = {464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13, 383, 2068};
        TintModel.Output a = loaded.forward(ids, 6);
        // the same construction built directly from the checkpoint
        try (NDManager m = NDManager.newBaseManager()) {
            AuxModel aux = TintInput.loadAux(Path.of("src/test/resources/tiny-gpt2/config.json"), Path.of("src/test/resources/tiny-gpt2/model.safetensors"), m, false, "layernorm");
            TintModel direct = new TintModel(aux, loaded.cfg);
            TintModel.Output b = direct.forward(ids, 6);
            assertArrayEquals(b.originalLogits.a, a.originalLogits.a);
            assertArrayEquals(b.finalLogits.a, a.finalLogits.a);
            double d = TintFixtures.maxAbsDiff(a.originalLogits, aux.forward(ids).logits);
            System.out.printf("tiny-gpt2 TinT first forward vs aux forward (gate 10, float64): max abs %.3g%n", d);
            assertTrue(d < 1e-6, "first forward " + d); // tanh(10) = 1 − 4e-9 gate factors
        }
    }

    /** Any TinT setting by name with --set, beside the flags; what is saved is what was asked for. */
    @Test
    void createTakesSettingsByName() {
        Path save = tmp.resolve("tint-set");
        assertEquals(0, Main.run("tint", "create", "--pretrained", "src/test/resources/tiny-gpt2", "--n-forward-backward", "2",
                "--set", "tint.inner_lr=1e-3", "--set", "TintParams.ln_update_bias_only=False", "--save", save.toString()));
        TintParams c = TintStore.load(save).cfg;
        assertEquals(2, c.n_forward_backward());
        assertEquals(1e-3, c.inner_lr());
        assertFalse(c.ln_update_bias_only());
        assertEquals(TintSettings.suggest(2, 2).get(0).applyTo(c), c, "K, E and Hs not given: the first valid choice for the aux");
    }

    @Test
    void perplexityAppendsAJsonLine() throws java.io.IOException {
        Path log = tmp.resolve("logs/ppl.jsonl");
        assertEquals(0, Main.run("tint", "perplexity", "--pretrained", "src/test/resources/tiny-gpt2", "--task", "wikitext-2", "--split", "valid",
                "--train-fraction", "0.5", "--block-size", "64", "--data-subset", "1", "--inner-lr", "1e-3", "--log", log.toString()));
        String line = Files.readAllLines(log).get(0);
        com.google.gson.JsonObject o = com.google.gson.JsonParser.parseString(line).getAsJsonObject();
        assertEquals(64, o.get("block_size").getAsInt());
        assertEquals(32, o.get("eval_tokens").getAsInt());
        assertTrue(o.get("ppl_base").getAsDouble() > 1 && o.get("ppl_tint").getAsDouble() > 1 && o.get("ppl_dynamic_eval").getAsDouble() > 1);
    }

    /** An OPT folder end to end: input.json with icl_segments and position_ids → `tint forward` → HF OPT names. */
    @Test
    void forwardOnAnOptFolder() throws java.io.IOException {
        Path dir = TintOptTest.writeFolder(tmp.resolve("opt"), TintOptTest.randomOpt(7, TintOptTest.TINY), "model.decoder.", TintOptTest.optConfig(TintOptTest.TINY));
        long[] ids = new long[20];
        int[] seg = new int[20], pos = new int[20];
        com.google.gson.JsonArray jIds = new com.google.gson.JsonArray(), jSeg = new com.google.gson.JsonArray(), jPos = new com.google.gson.JsonArray();
        for (int t = 0; t < 20; t++) {
            ids[t] = (7 * t + 3) % TintOptTest.V;
            seg[t] = t / 10;
            pos[t] = t % 10;
            jIds.add(ids[t]); jSeg.add(seg[t]); jPos.add(pos[t]);
        }
        com.google.gson.JsonObject in = new com.google.gson.JsonObject();
        in.add("input_ids", jIds);
        in.addProperty("n_train", 10);
        in.add("icl_segments", jSeg);
        in.add("position_ids", jPos);
        in.addProperty("num_prefixes", 8); in.addProperty("hidden_size", 96); in.addProperty("num_attention_heads", 4);
        in.addProperty("gate_scale", 20.0); in.addProperty("inner_lr", 1e-4); in.addProperty("dtype", "float64");
        in.addProperty("n_simulation_layers", 1);
        Files.writeString(dir.resolve("input.json"), in.toString());
        Path out = tmp.resolve("opt-out.safetensors");
        assertEquals(0, Main.run("tint", "forward", "--input", dir.resolve("input.json").toString(), "--out", out.toString()));
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> got = SafeTensors.read(out, m);
            TintInput ti = TintInput.read(dir.resolve("input.json"), m);
            assertEquals(AuxModel.Family.OPT, ti.aux().family);
            // `tint forward` runs the engine construction by default
            TintModel.Output o = TintFixtures.Backend.ENGINE.run(ti.aux(), ti.config(), ids, 10, IclInput.segments(seg, pos));
            assertArrayEquals(o.finalLogits.a, TintSgdTest.flat(got.get("final_logits")).a);
            assertArrayEquals(o.originalLogits.a, TintSgdTest.flat(got.get("original_logits")).a);
            // the top layer (n_simulation_layers=1) and the final norm under HF OPT names, torch Linear [out, in]
            String p = "model.decoder.layers.1.";
            for (String k : new String[] {"self_attn_layer_norm.weight", "self_attn.q_proj.weight", "self_attn.k_proj.bias", "self_attn.v_proj.weight",
                    "self_attn.out_proj.weight", "final_layer_norm.bias", "fc1.weight", "fc2.bias"})
                assertTrue(got.containsKey(p + k), p + k);
            assertEquals(new ai.djl.ndarray.types.Shape(TintOptTest.F, TintOptTest.D), got.get(p + "fc1.weight").getShape());
            assertTrue(got.containsKey("model.decoder.final_layer_norm.bias") && got.size() == 2 + 16 + 2, got.keySet().toString());
            assertArrayEquals(o.updated.layers.get(1).w1.a, TintSgdTest.flat(got.get(p + "fc1.weight")).a);
        }
        // create from the OPT folder, load back: the same construction
        Path save = tmp.resolve("tint-opt");
        assertEquals(0, Main.run("tint", "create", "--pretrained", dir.toString(), "--num-prefixes", "8", "--hidden-size", "96", "--num-attention-heads", "4",
                "--save", save.toString()));
        TintModel loaded = TintStore.load(save);
        assertEquals(AuxModel.Family.OPT, loaded.aux.family);
        TintModel direct = new TintModel(TintOptTest.load(dir), loaded.cfg);
        assertArrayEquals(direct.forward(ids, 10).finalLogits.a, loaded.forward(ids, 10).finalLogits.a);
    }

    /** `tint perplexity` on an OPT folder reads its own tokenizer (GPT-2's BPE files here, so the vocabulary is 50,257). */
    @Test
    void perplexityOnAnOptFolder() throws java.io.IOException {
        TintOptTest.Dims z = new TintOptTest.Dims(8, 2, 1, 50257, 128, 32);
        Path dir = TintOptTest.writeFolder(tmp.resolve("opt-bpe"), TintOptTest.randomOpt(5, z), "model.decoder.", TintOptTest.optConfig(z));
        for (String f : new String[] {"vocab.json", "merges.txt"}) Files.copy(Path.of("src/test/resources/tiny-gpt2").resolve(f), dir.resolve(f));
        Path log = tmp.resolve("ppl-opt.jsonl");
        assertEquals(0, Main.run("tint", "perplexity", "--pretrained", dir.toString(), "--block-size", "64", "--data-subset", "1", "--inner-lr", "1e-3",
                "--log", log.toString()));
        com.google.gson.JsonObject o = com.google.gson.JsonParser.parseString(Files.readAllLines(log).get(0)).getAsJsonObject();
        assertEquals(32, o.get("eval_tokens").getAsInt());
        assertTrue(o.get("ppl_base").getAsDouble() > 1 && o.get("ppl_tint").getAsDouble() > 1);
    }

    @Test
    void userMistakesExit2() {
        assertEquals(2, Main.run("tint", "perplexity", "--pretrained", "src/test/resources/tiny-gpt2", "--block-size", "4096", "--log", tmp.resolve("l").toString()));
        assertEquals(2, Main.run("tint", "create", "--pretrained", "src/test/resources/tiny-gpt2", "--num-prefixes", "3", "--save", tmp.resolve("x").toString()));
        assertEquals(2, Main.run("tint", "forward", "--input", tmp.resolve("missing.json").toString(), "--out", tmp.resolve("o").toString()));
    }

    /** Paper scale is refused up front, with the estimate, when it will not fit; --gpu-id names what libtorch sees. */
    @Test
    void paperScaleRefusedWhenItWillNotFit() {
        Path save = tmp.resolve("never");
        assertEquals(2, Main.run("tint", "create", "--aux-shape", "gpt2-124m", "--num-prefixes", "256", "--hidden-size", "3072",
                "--num-attention-heads", "12", "--dtype", "float32", "--max-memory", "2G", "--save", save.toString()));
        assertTrue(!Files.exists(save), "nothing written");
        if (ai.djl.engine.Engine.getInstance().getGpuCount() == 0)
            assertEquals(2, Main.run("tint", "create", "--pretrained", "src/test/resources/tiny-gpt2", "--gpu-id", "0", "--save", save.toString()));
    }
}
