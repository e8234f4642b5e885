package org.tinker.model;

import static org.junit.jupiter.api.Assertions.*;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.tinker.config.ConfigError;
import org.tinker.config.ConfigFile;
import org.tinker.config.Grid;
import org.tinker.config.ModelParams;
import org.tinker.config.Params;
import org.tinker.config.PyLiteral;
import org.tinker.model.hierarchical.HierarchicalSpec;
import org.tinker.model.hierarchical.HierarchicalTransformerAccess;

/** The hierarchical transformer: settings, shapes, losses, causality, generation without a cache. */
class HierarchicalTest extends WithBaseManager {
    static PyLiteral.Tuple tuple(Object... xs) {
        return new PyLiteral.Tuple(List.of(xs));
    }

    static ModelParams hier(Object hierarchies) {
        return Tiny.params("hierarchical").with("hierarchies", hierarchies);
    }

    static List<ModelParams> configs() {
        return List.of(
                hier(1L),
                hier(tuple(1L, 2L)),
                hier(tuple(1L, 2L)).with("window_sizes", tuple(3L, PyLiteral.NONE)),
                hier(tuple(1L, 2L, 4L)).with("hierarchical_stride", tuple(1L, 2L, 4L))
                        .with("window_sizes", tuple(4L, 0L, PyLiteral.NONE)).with("hierarchy_dims", tuple(16L, 8L, 24L))
                        .with("hierarchy_heads", tuple(2L, 1L, 3L)).with("hierarchy_ff_mult", tuple(2L, 1L, 2L)),
                hier(tuple(1L, 4L)).with("hierarchical_stride", tuple(1L, 2L)).with("hierarchy_merge_all", true),
                hier(tuple(2L, 1L)).with("hierarchy_dim_head", 4L));
    }

    @ParameterizedTest(name = "{index}: {0}")
    @MethodSource("configs")
    void futureTokensDoNotChangePastLogits(ModelParams mp) {
        try (LM lm = new LM(mp, Tiny.V, base, 3); NDManager step = base.newSubManager()) {
            assertTrue(lm.isHierarchical());
            // larger weights so every path (conv, merge, attention) matters
            lm.parameters().forEach((n, p) -> { if (p.getShape().dimension() == 2) p.muli(10f); });
            CausalityTest.assertCausal(ids -> lm.forward(ids).logits(), step, mp.hierarchies() + " " + mp.hierarchical_stride());
        }
    }

    @Test
    void shapesParametersAndLosses() {
        ModelParams mp = configs().get(3);
        try (LM lm = new LM(mp, Tiny.V, base, 5); NDManager step = base.newSubManager()) {
            Map<String, NDArray> p = lm.parameters();
            assertEquals(new Shape(Tiny.V, 24), p.get(LM.WTE).getShape(), "one embedding of the largest width");
            assertEquals(new Shape(2L * 8, 2L * 24), p.get("hier.1.compress.conv.weight").getShape(), "kernel = factor 2");
            assertFalse(p.containsKey("hier.1.layers.0.attn.q.weight"), "window 0: no attention");
            assertEquals(new Shape(3L * 8, 24), p.get("hier.2.layers.1.attn.q.weight").getShape(), "3 heads of 24/3");
            assertEquals(new Shape(4L * Tiny.V, 24), p.get("hier.2.recon.weight").getShape());
            assertEquals(new Shape(Tiny.V, 16), p.get(LM.LM_HEAD).getShape(), "predicts from the factor-1 hierarchy");
            assertEquals(new Shape(32, 48), p.get("merge.0.fc.weight").getShape(), "merge: concat 48 → 2·16");

            NDArray ids = Tiny.randomIds(step, 1, 2, 11);
            assertEquals(new Shape(2, 11, Tiny.V), lm.forward(ids).logits().getShape());
            NDArray x = ids.get(":, :-1"), y = ids.get(":, 1:");
            NDArray mask = step.ones(x.getShape(), DataType.FLOAT32);
            LossResult r = lm.loss(x, y, mask, ForwardOptions.DEFAULT);
            double ce = r.extra().get("ce"), recon = r.extra().get("recon_loss"), ar = r.extra().get("hier_ar_loss");
            assertEquals(ce + 0.1 * recon + 0.25 * ar, Tiny.scalar(r.loss()), 1e-5, "objective = ce + weighted aux losses");
            assertTrue(recon > Math.log(Tiny.V) * 0.5 && recon < Math.log(Tiny.V) * 2, "untrained recon ≈ ln V: " + recon);
            assertTrue(ar >= 0 && ar <= 2, "1 − cos is in [0, 2]: " + ar);
            double evalLoss = Tiny.scalar(lm.loss(ids, mask).loss());
            assertEquals(ce, evalLoss, 1e-5, "evaluation is the plain cross-entropy");

            // the auxiliary losses train their own heads: gradients reach recon and ar weights
            try (GradientCollector gc = base.getEngine().newGradientCollector()) {
                gc.backward(lm.loss(x, y, mask, ForwardOptions.DEFAULT).loss());
            }
            for (String n : List.of("hier.2.recon.weight", "hier.1.ar.weight", "hier.1.compress.conv.weight", "merge.1.proj.weight"))
                try (NDArray g = p.get(n).getGradient()) {
                    assertTrue(Tiny.scalar(g.abs().sum()) > 0, n);
                }
            lm.zeroGradients();
        }
    }

    @Test
    void generationFallsBackToFullRecomputation() {
        ModelParams mp = configs().get(1);
        try (LM lm = new LM(mp, Tiny.V, base, 5)) {
            int[] cached = Generation.sample(lm, new int[] {1, 2, 3}, 9, 0, null, null, -1, new java.util.Random(0), true);
            int[] full = Generation.sample(lm, new int[] {1, 2, 3}, 9, 0, null, null, -1, new java.util.Random(0), false);
            assertArrayEquals(full, cached);
            assertEquals(9, cached.length);
            assertThrows(IllegalArgumentException.class, () -> new KVCache(lm));
        }
    }

    @Test
    void settingsTakeScalarsOrTuplesAndFailClearly() {
        HierarchicalSpec s = HierarchicalSpec.of(hier(tuple(1L, 2L, 8L)).with("hierarchy_dims", 32L)
                .with("window_sizes", tuple(4L, 0L, PyLiteral.NONE)).with("hierarchical_stride", "(1, 1, 8)"));
        assertArrayEquals(new int[] {32, 32, 32}, s.dims());
        assertArrayEquals(new int[] {4, 0, HierarchicalSpec.FULL}, s.windows());
        assertArrayEquals(new int[] {1, 1, 8}, s.strides(), "a tuple also arrives as its text (saved params JSON)");
        assertEquals(0, s.predict());
        String[][] bad = {
                {"hierarchies = (1, 3)", "power of 2"},
                {"hierarchies = (1, 2, 2)", "unique"},
                {"hierarchies = (1, 2)\nhierarchy_dims = (16, 16, 16)", "one value per hierarchy (2)"},
                {"hierarchies = (1, 2)\nhierarchical_stride = (1, 4)", "no larger than"},
                {"hierarchies = (2, 4)", "predict_hierarchy=1"},
                {"hierarchies = (1, 2)\nwindow_sizes = (-3, None)", "window_sizes"},
        };
        for (String[] b : bad) {
            ConfigError e = assertThrows(ConfigError.class, () -> Grid.expand(List.of(ConfigFile.parse("configs/h.txt",
                    "[ModelParams]\nlayer_architecture = \"hierarchical\"\n" + b[0] + "\n")), List.of(), null, false), b[0]);
            assertTrue(e.getMessage().contains(b[1]) && e.getMessage().contains("configs/h.txt"), e.getMessage());
        }
        var spec = Grid.expand(List.of(ConfigFile.parse("configs/h.txt", """
                [ModelParams]
                layer_architecture = "hierarchical"
                hierarchies = (1, 2)
                window_sizes = (8, None)
                """)), List.of(), null, false).get(0);
        assertEquals("(1, 2)", Params.toMap(spec.mp()).get("hierarchies"), "tuples are saved as their text");
        assertNull(Params.toMap(spec.mp()).get("predict_hierarchy"));
    }

    @Test
    void strideTokensReachTokenPositionsOnlyAfterTheirWindow() {
        try (NDManager m = base.newSubManager()) {
            // 3 strided tokens (s = 2) with values 1, 2, 3 → token positions 0..5
            NDArray x = m.create(new float[] {1, 2, 3}, new Shape(1, 3, 1));
            NDArray fine = HierarchicalTransformerAccess.toTokenPositions(x, 2, 6);
            assertArrayEquals(new float[] {0, 1, 1, 2, 2, 3}, fine.toFloatArray());
            // token j covers positions 2j, 2j+1 and is first visible at 2j+1: never before its window ends
        }
    }
}
