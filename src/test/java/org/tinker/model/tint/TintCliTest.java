package org.tinker.model.tint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tinker.cli.Main;
import org.tinker.model.gpt2.SafeTensors;

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

    @Test
    void userMistakesExit2() {
        assertEquals(2, Main.run("tint", "perplexity", "--pretrained", "src/test/resources/tiny-gpt2", "--block-size", "4096", "--log", tmp.resolve("l").toString()));
        assertEquals(2, Main.run("tint", "create", "--pretrained", "src/test/resources/tiny-gpt2", "--num-prefixes", "3", "--save", tmp.resolve("x").toString()));
        assertEquals(2, Main.run("tint", "forward", "--input", tmp.resolve("missing.json").toString(), "--out", tmp.resolve("o").toString()));
    }
}
