package org.tinker.model;

import static org.junit.jupiter.api.Assertions.*;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tinker.config.ModelParams;

/**
 * The shipped architecture recipes ({@link ModelRecipes}), each with a test that proves the effect on both layer
 * architectures: the tensor after the recipe's hook is checked against an independent computation from the model
 * without it (same weights: same seed).
 */
class ModelRecipesTest extends WithBaseManager {
    static final List<String> ARCHS = List.of("torch-transformer", "custom-transformer");

    /** Pre-norm model with sharp attention (so score changes show in the output), with these recipes. */
    private static LM model(String arch, String recipes) {
        ModelParams mp = Tiny.params(arch).with("norm_first", true).with("activation", "gelu").with("recipes", recipes);
        LM lm = new LM(mp, Tiny.V, base, 21);
        Tiny.sharpenAttention(lm, 20);
        return lm;
    }

    /** A recording hook at {@code point}; it runs after the model's recipes, so it sees their result. */
    private static ForwardOptions record(String point, List<NDArray> into) {
        return ForwardOptions.withHooks(new Hooks().add(point, (n, v, c) -> {
            into.add(v);
            return v;
        }));
    }

    @Test
    void reluAfterLayerMakesThatBlocksOutputNonNegative() {
        for (String arch : ARCHS) {
            try (LM plain = model(arch, ""); LM relu = model(arch, "relu_after_layer(0)"); NDManager step = base.newSubManager()) {
                NDArray ids = Tiny.randomIds(step, 1, 2, 10);
                List<NDArray> before = new ArrayList<>(), after = new ArrayList<>();
                plain.forward(ids, record(Hooks.residPost(0), before));
                LMOutput out = relu.forward(ids, record(Hooks.residPost(0), after).withEmbeddings(true));
                assertTrue(Tiny.scalar(before.get(0).min()) < 0, arch + ": without the recipe block 0 has negative outputs");
                assertTrue(Tiny.scalar(after.get(0).min()) >= 0, "with it, none");
                // block 1 reads exactly relu(block-0 output of the plain model)
                assertEquals(0.0, Tiny.maxAbsDiff(out.embeddings().get(":, 1"), before.get(0).maximum(0f)));
            }
        }
    }

    @Test
    void squaredMlpOutputIsTheSquareOfThePlainOne() {
        for (String arch : ARCHS) {
            try (LM plain = model(arch, ""); LM square = model(arch, "square_mlp_output"); NDManager step = base.newSubManager()) {
                NDArray ids = Tiny.randomIds(step, 2, 2, 10);
                List<NDArray> before = new ArrayList<>(), after = new ArrayList<>(), layer1 = new ArrayList<>();
                plain.forward(ids, record(Hooks.mlpOut(0), before));
                square.forward(ids, record(Hooks.mlpOut(0), after));
                NDArray p = before.get(0);
                assertTrue(Tiny.scalar(p.min()) < 0, "the plain output has negative entries, so squaring is visible");
                assertEquals(0.0, Tiny.maxAbsDiff(after.get(0), p.mul(p)), arch);
                square.forward(ids, record(Hooks.mlpOut(1), layer1)); // every layer (the wildcard)
                assertTrue(Tiny.scalar(layer1.get(0).min()) >= 0);
            }
        }
    }

    @Test
    void scaledScoresGiveSoftmaxOfScaledScores() {
        double c = 0.37;
        for (String arch : ARCHS) {
            try (LM plain = model(arch, ""); LM scaled = model(arch, "scale_attention_scores(0.37)"); NDManager step = base.newSubManager()) {
                NDArray ids = Tiny.randomIds(step, 3, 2, 9);
                List<NDArray> scores = new ArrayList<>();
                plain.forward(ids, record(Hooks.attnScores(0), scores));
                LMOutput out = scaled.forward(ids, ForwardOptions.DEFAULT.withAttns(true));
                Tiny.assertPatternIsCausalSoftmax(scores.get(0), c, out.attns().get(":, 0"));
                // the default pass (no attention maps asked for, fused route where there is no hook) is the same model
                assertTrue(Tiny.maxAbsDiff(scaled.forward(ids).logits(), out.logits()) < 1e-5, arch);
                assertTrue(Tiny.maxAbsDiff(out.logits(), plain.forward(ids).logits()) > 1e-4, "the output changes");
            }
        }
    }

    @Test
    void scoresAreScaledOnlyInBatchesHoldingTheToken() {
        double c = 3;
        for (String arch : ARCHS) {
            try (LM plain = model(arch, ""); LM lm = model(arch, "scale_attention_scores_if_token(3, 10)");
                 NDManager step = base.newSubManager()) {
                long[] a = new long[18], b = new long[18];
                for (int i = 0; i < 18; i++) a[i] = b[i] = i % 10; // ids 0..9 only
                b[13] = 10;                                         // one token 10 in row 1
                NDArray without = step.create(a, new Shape(2, 9)), with = step.create(b, new Shape(2, 9));
                // (the recipe's pass takes the explicit attention route, the plain one the fused kernel: rounding apart)
                assertEquals(0.0, Tiny.maxAbsDiff(lm.forward(without).logits(), plain.forward(without).logits()), 1e-6,
                        "no token 10: the plain model");
                assertFalse(lm.cacheable(), "it reads the whole input: no KV cache");

                List<NDArray> scores = new ArrayList<>();
                plain.forward(with, record(Hooks.attnScores(0), scores));
                LMOutput out = lm.forward(with, ForwardOptions.DEFAULT.withAttns(true));
                Tiny.assertPatternIsCausalSoftmax(scores.get(0), c, out.attns().get(":, 0")); // both rows: the batch holds a 10

                // the training loss and its gradient follow the scaled model
                NDArray x = with.get(":, :-1"), y = with.get(":, 1:");
                NDArray mask = step.ones(x.getShape(), DataType.FLOAT32);
                double plainLoss = Tiny.scalar(plain.loss(x, y, mask, ForwardOptions.DEFAULT).loss());
                try (GradientCollector gc = base.getEngine().newGradientCollector()) {
                    NDArray loss = lm.loss(x, y, mask, ForwardOptions.DEFAULT).loss();
                    assertNotEquals(plainLoss, Tiny.scalar(loss), 1e-6);
                    gc.backward(loss);
                }
                try (NDArray g = lm.parameters().get("transformer.h.0.attn.c_attn.weight").getGradient()) {
                    assertTrue(Tiny.scalar(g.abs().sum()) > 0);
                }
            }
        }
    }

    @Test
    void badRecipesFailWhenTheModelIsBuilt() {
        ModelParams mp = Tiny.params("torch-transformer");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new LM(mp.with("recipes", "relu_after_layer(5)"), Tiny.V, base, 1).close());
        assertTrue(e.getMessage().contains("blocks.5.resid_post"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new LM(mp.with("recipes", "sharpen"), Tiny.V, base, 1).close());
        assertTrue(e.getMessage().contains("unknown recipe 'sharpen'") && e.getMessage().contains("scale_attention_scores(c)"),
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> new LM(mp.with("recipes", "scale_attention_scores"), Tiny.V, base, 1).close());
        assertTrue(e.getMessage().contains("takes 1 argument"), e.getMessage());
    }
}
