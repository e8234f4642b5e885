package org.tinker.model;

import static org.junit.jupiter.api.Assertions.*;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.tinker.config.ModelParams;

/** KV cache, sampling variants, beam search and the stepwise runner on small models of every kind. */
class GenerationTest {
    static final int[] PROMPT = {1, 4, 2};

    static LM model(NDManager m, ModelParams mp) {
        LM lm = new LM(mp, Tiny.V, m, 3);
        Tiny.sharpenAttention(lm, 8f); // attention far from uniform, so the cache matters
        lm.parameters().forEach((n, p) -> { if (n.contains("lm_head") || n.contains("wte")) p.muli(20f); }); // peaked logits
        return lm;
    }

    /**
     * Every value of every variant field, read from {@link ModelParams} itself (each boolean field, each choice field's
     * {@link ModelParams#choices}), changed one at a time from two different bases, logit soft-capping, and every shipped recipe on both
     * layer architectures: a value or recipe added later is covered without touching this list.
     */
    static List<ModelParams> allKinds() {
        List<ModelParams> bases = List.of(
                Tiny.params("torch-transformer").with("norm_first", true).with("activation", "gelu"),
                Tiny.params("custom-transformer").with("pos_encoding", "rotary").with("tie_embed_deembed", true)
                        .with("final_norm", false).with("activation", "swiglu").with("norm", "rmsnorm"));
        List<ModelParams> out = new java.util.ArrayList<>();
        for (ModelParams base : bases) {
            for (java.lang.reflect.RecordComponent c : ModelParams.class.getRecordComponents()) {
                List<?> values = c.getType() == boolean.class ? List.of(false, true) : ModelParams.choices(c.getName());
                for (Object v : values == null ? List.of() : values) {
                    ModelParams mp = base.with(c.getName(), v);
                    if (mp.individual_head_params()) mp = mp.with("layer_architecture", "custom-transformer");
                    if (!mp.layer_architecture().hasBlocks()) continue; // no blocks, no cache
                    out.add(mp);
                }
            }
            out.add(base.with("logit_softcap", 3.0)); // the numeric head setting (its logits pass through c·tanh(z/c))
            for (String arch : List.of("torch-transformer", "custom-transformer"))
                for (var e : ModelRecipes.ALL)
                    out.add(base.with("layer_architecture", arch).with("recipes", e.example()));
        }
        return out;
    }

    /**
     * With LoRA attached the cache and the stepwise runner read base + adapters, as the full forward does (both used
     * to read the base weights alone).
     */
    @Test
    void cacheAndStepwiseFollowLoraAdapters() {
        ModelParams mp = Tiny.params("torch-transformer").with("norm_first", true).with("activation", "gelu");
        try (NDManager m = NDManager.newBaseManager(); LM lm = model(m, mp)) {
            NDArray ids = Tiny.randomIds(m, 9, 1, Tiny.MAX_T);
            NDArray base = lm.forward(ids).logits();
            lm.attachLora(2, 0.5, 11);
            lm.trainableParameters().values().forEach(a -> a.addi(m.randomNormal(a.getShape()).mul(0.3))); // adapters ≠ 0
            NDArray full = lm.forward(ids).logits();
            assertTrue(Tiny.maxAbsDiff(base, full) > 1e-2, "the adapters change the model");
            try (KVCache cache = new KVCache(lm)) {
                NDArray cached = ai.djl.ndarray.NDArrays.concat(new ai.djl.ndarray.NDList(
                        cache.forward(ids.get(":, 0:5")), cache.forward(ids.get(":, 5:6")), cache.forward(ids.get(":, 6:"))), 1);
                assertTrue(Tiny.maxAbsDiff(full, cached) < 1e-4, "cached vs full with LoRA: " + Tiny.maxAbsDiff(full, cached));
            }
            // the stepwise runner (partial forward, logit lens) reads the same weights
            NDArray stepwise = Stepwise.partialForward(lm, ids, List.of("logits")).values().get("logits");
            assertTrue(Tiny.maxAbsDiff(full, stepwise) < 1e-4, "stepwise vs full with LoRA: " + Tiny.maxAbsDiff(full, stepwise));
        }
    }

    @Test
    void cachedLogitsEqualFullForwardForEveryVariantOnBothDecodingPaths() {
        int fusedSeen = 0, blocksOnly = 0;
        for (ModelParams mp : allKinds()) {
            try (NDManager m = NDManager.newBaseManager(); LM lm = model(m, mp)) {
                if (!lm.cacheable()) { // a recipe that reads the whole input: no cache, and generation says so by not using one
                    assertThrows(IllegalArgumentException.class, () -> new KVCache(lm).close(), mp.recipes());
                    assertFalse(Generation.usesCache(lm, true));
                    continue;
                }
                NDArray ids = Tiny.randomIds(m, 5, 2, Tiny.MAX_T);
                NDArray full = lm.forward(ids).logits();
                for (boolean fastPath : new boolean[] {false, true}) {
                    try (KVCache cache = new KVCache(lm, fastPath)) {
                        if (cache.fused()) fusedSeen++;
                        else if (fastPath) blocksOnly++;
                        // a prompt of 4, then one token at a time, then a chunk of 3, then one at a time
                        int t = 0;
                        NDArray[] parts = new NDArray[Tiny.MAX_T];
                        int k = 0;
                        for (int len : new int[] {4, 1, 1, 3, 1, 1, 1}) {
                            parts[k++] = cache.forward(ids.get(":, " + t + ":" + (t + len)));
                            t += len;
                        }
                        NDArray cached = ai.djl.ndarray.NDArrays.concat(new ai.djl.ndarray.NDList(Arrays.copyOf(parts, k)), 1);
                        assertEquals(Tiny.MAX_T, cache.length());
                        String what = Tiny.describe(mp) + " recipes=" + mp.recipes() + (cache.fused() ? " (fused step)" : " (blocks)");
                        assertTrue(Tiny.maxAbsDiff(full, cached) < 1e-4, what + ": " + Tiny.maxAbsDiff(full, cached));
                        assertThrows(IllegalArgumentException.class, () -> cache.forward(ids.get(":, 0:1")), "past max_seq_len");
                    }
                }
            }
        }
        assertTrue(fusedSeen > 0 && blocksOnly > 0, "both decoding paths ran: fused " + fusedSeen + ", blocks " + blocksOnly);
    }

    @Test
    void cachedAndUncachedGreedyTextIsIdentical() {
        for (ModelParams mp : allKinds()) {
            try (NDManager m = NDManager.newBaseManager(); LM lm = model(m, mp)) {
                int[] a = Generation.sample(lm, PROMPT, Tiny.MAX_T, 0, null, null, -1, new Random(0), true);
                int[] b = Generation.sample(lm, PROMPT, Tiny.MAX_T, 0, null, null, -1, new Random(0), false);
                int[] c = lm.sample(PROMPT, Tiny.MAX_T - PROMPT.length, 0, null, null, -1, new Random(0));
                assertArrayEquals(b, a, mp.toString());
                assertArrayEquals(c, a, "the LM's own sample agrees");
                assertEquals(Tiny.MAX_T, a.length, "maxLen counts the prompt, capped at max_seq_len");
                // sampling at T=1 with the same seed: same draws from (nearly) the same distributions
                assertArrayEquals(Generation.sample(lm, PROMPT, 10, 1.0, null, null, -1, new Random(9), false),
                        Generation.sample(lm, PROMPT, 10, 1.0, null, null, -1, new Random(9), true));
            }
        }
    }

    @Test
    void topKOneAndTinyNucleusEqualArgmax() {
        try (NDManager m = NDManager.newBaseManager(); LM lm = model(m, Tiny.params("torch-transformer"))) {
            int[] greedy = Generation.sample(lm, PROMPT, 12, 0, null, null, -1, new Random(0), true);
            for (int seed = 0; seed < 5; seed++) {
                assertArrayEquals(greedy, Generation.sample(lm, PROMPT, 12, 1.5, 1, null, -1, new Random(seed), true));
                assertArrayEquals(greedy, Generation.sample(lm, PROMPT, 12, 1.5, null, 1e-6, -1, new Random(seed), true));
            }
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Generation.sample(lm, PROMPT, 12, 1, 5, 0.9, -1, new Random(0), true));
            assertTrue(e.getMessage().contains("mutually exclusive"), e.getMessage());
        }
    }

    @Test
    void beamWidthOneIsGreedyAndWiderBeamsScoreAtLeastAsWell() {
        for (ModelParams mp : List.of(Tiny.params("torch-transformer"), Tiny.params("custom-transformer")
                .with("norm_first", true).with("pos_encoding", "sin").with("tie_embed_deembed", true)
                .with("activation", "gelu"))) {
            try (NDManager m = NDManager.newBaseManager(); LM lm = model(m, mp)) {
                int[] greedy = Generation.sample(lm, PROMPT, 12, 0, null, null, 7, new Random(0), false);
                assertArrayEquals(greedy, Generation.beamSearch(lm, PROMPT, 12, 1, 0, 7, true));
                assertArrayEquals(greedy, Generation.beamSearch(lm, PROMPT, 12, 1, 0, 7, false));
                for (int beams : new int[] {2, 4}) {
                    int[] cached = Generation.beamSearch(lm, PROMPT, 12, beams, 0, -1, true);
                    int[] plain = Generation.beamSearch(lm, PROMPT, 12, beams, 0, -1, false);
                    assertArrayEquals(plain, cached, "beam search with and without cache");
                    assertTrue(logProb(lm, cached) >= logProb(lm, Generation.sample(lm, PROMPT, 12, 0, null, null, -1, new Random(0), true)) - 1e-4,
                            "a wider beam finds a sequence at least as likely as greedy");
                }
            }
        }
    }

    static double logProb(LM lm, int[] seq) {
        try (NDManager s = lm.manager().newSubManager()) {
            long[] ids = Arrays.stream(seq).asLongStream().toArray();
            float[] logits = lm.forward(s.create(ids, new Shape(1, ids.length))).logits().toFloatArray();
            double total = 0;
            for (int t = PROMPT.length; t < seq.length; t++)
                total += Generation.logSoftmax(Arrays.copyOfRange(logits, (t - 1) * Tiny.V, t * Tiny.V))[seq[t]];
            return total;
        }
    }

    @Test
    void partialForwardMatchesFullForwardAndStopsEarly() {
        for (String arch : List.of("torch-transformer", "custom-transformer")) {
            ModelParams mp = Tiny.params(arch);
            try (NDManager m = NDManager.newBaseManager(); LM lm = model(m, mp)) {
                NDArray ids = Tiny.randomIds(m, 2, 2, 7);
                var full = lm.forward(ids, ForwardOptions.DEFAULT.withEmbeddings(true).withAttns(true));
                Stepwise.Result r = Stepwise.partialForward(lm, ids, List.of("embed", "h.0", "blocks.0.attn.pattern"));
                assertEquals(1, r.blocksRun(), "block 1 never runs");
                assertTrue(Tiny.maxAbsDiff(r.values().get("embed"), full.embeddings().get(":, 0")) < 1e-5);
                assertTrue(Tiny.maxAbsDiff(r.values().get("h.0"), full.embeddings().get(":, 1")) < 1e-5);
                assertTrue(Tiny.maxAbsDiff(r.values().get("blocks.0.attn.pattern"), full.attns().get(":, 0")) < 1e-5);
                Stepwise.Result all = Stepwise.partialForward(lm, ids, List.of("logits", "blocks.1.mlp.out"));
                assertEquals(2, all.blocksRun());
                assertTrue(Tiny.maxAbsDiff(all.values().get("logits"), full.logits()) < 1e-4);
                assertEquals(0, Stepwise.partialForward(lm, ids, List.of("embed")).blocksRun());
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> Stepwise.partialForward(lm, ids, List.of("blocks.0.atn.out")));
                assertTrue(e.getMessage().contains("unknown output name"), e.getMessage());
            }
        }
    }
}
