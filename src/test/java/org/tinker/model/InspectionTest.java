package org.tinker.model;

import static org.junit.jupiter.api.Assertions.*;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.tinker.config.ModelParams;
import org.tinker.config.PyLiteral;

/**
 * Attention patterns, residual streams, the logit lens decoder and partial forward of the hierarchical and flexi
 * bodies ({@link Inspection}), on tiny models whose weights are scaled up so every path matters.
 */
class InspectionTest extends WithBaseManager {
    static final int T = 9;

    static PyLiteral.Tuple tuple(Object... xs) {
        return new PyLiteral.Tuple(List.of(xs));
    }

    static ModelParams hier(Object hierarchies) {
        return Tiny.params("hierarchical").with("hierarchies", hierarchies);
    }

    static ModelParams flexi(String dict) {
        return Tiny.params("flexi").with("model_dict", dict);
    }

    /** Bodies that have patterns over every layer (hierarchical) or their 'sa' layers (flexi), and one stream width. */
    static List<ModelParams> inspectable() {
        return List.of(
                hier(tuple(1L, 2L)).with("window_sizes", tuple(3L, PyLiteral.NONE)),              // local window at the token level
                hier(tuple(1L, 2L)).with("predict_hierarchy", 2L).with("hierarchy_heads", tuple(2L, 3L)), // 2 axial groups
                flexi("{'l': 4, 'o': ['sa', 'l', 'c', 'sa'], 'h': [16, 16, 16, 16], 'n': [2, 4, 2, 2], "
                        + "'f': [[32], [16], [16], [16]], 'p': ['sdp', 'dft', 5, 'wma']}"),
                flexi("{'l': 2, 'o': ['sa', 'sa'], 'h': [16, 16], 'n': [4, 4], 'f': [[16], [16]], 'p': ['sdp', 'sdp']}")
                        .with("norm_first", true).with("norm", "rmsnorm").with("final_norm", false));
    }

    static LM model(ModelParams mp) {
        LM lm = new LM(mp, Tiny.V, base, 3);
        lm.parameters().forEach((n, p) -> { if (p.getShape().dimension() == 2 && !n.endsWith("wma")) p.muli(10f); });
        return lm;
    }

    static float[][] rows(NDArray a) { // [.., T, T] → rows of T
        float[] f = a.toFloatArray();
        int t = Math.toIntExact(a.getShape().get(a.getShape().dimension() - 1));
        float[][] out = new float[f.length / t][t];
        for (int r = 0; r < out.length; r++) System.arraycopy(f, r * t, out[r], 0, t);
        return out;
    }

    static float maxDiff(NDArray a, NDArray b) {
        return a.sub(b).abs().max().getFloat();
    }

    @ParameterizedTest(name = "{index}: {0}")
    @MethodSource("inspectable")
    void patternsAreCausalProbabilityRowsAndTheLensEndsAtTheLogits(ModelParams mp) {
        try (LM lm = model(mp); NDManager step = base.newSubManager()) {
            NDArray ids = Tiny.randomIds(step, 1, 2, T);
            LMOutput plain = lm.forward(ids);
            LMOutput o = lm.forward(ids, ForwardOptions.DEFAULT.withAttns(true).withEmbeddings(true));
            assertEquals(0, maxDiff(plain.logits(), o.logits()), 1e-6, "asking for tensors changes nothing");

            List<Integer> layers = Inspection.attentionLayers(lm);
            assertEquals(layers.size(), o.attns().getShape().get(1));
            Shape s = o.attns().getShape(); // [B,L',H,T,T]
            assertEquals(List.of(2L, (long) T, (long) T), List.of(s.get(0), s.get(3), s.get(4)));
            float[][] r = rows(o.attns());
            for (int i = 0; i < r.length; i++) {
                int q = i % T;
                double sum = 0;
                for (int k = 0; k < T; k++) {
                    assertTrue(r[i][k] >= 0, "non-negative");
                    if (k > q) assertEquals(0, r[i][k], "row " + i + ": no weight on the future (key " + k + " > query " + q + ")");
                    sum += r[i][k];
                }
                assertEquals(1, sum, 1e-5, "row " + i + " is a probability distribution");
            }

            int n = Inspection.layers(lm);
            NDArray emb = o.embeddings(); // [B,L+1,T,D]
            assertEquals(new Shape(2, n + 1, T, emb.getShape().get(3)), emb.getShape());
            NDArray lastRow = Inspection.decode(lm, emb.get(":, " + n));
            assertEquals(0, maxDiff(lastRow, o.logits()), 1e-4, "the lens at the last layer is the model's logits");

            Stepwise.Result pf = Inspection.partialForward(lm, ids, List.of("h.0", "embed", "logits", Hooks.attnPattern(layers.get(0))));
            assertEquals(n, pf.blocksRun());
            assertEquals(0, maxDiff(pf.values().get("h.0"), emb.get(":, 1")), 1e-6);
            assertEquals(0, maxDiff(pf.values().get("embed"), emb.get(":, 0")), 1e-6);
            assertEquals(0, maxDiff(pf.values().get("logits"), o.logits()), 1e-6);
            assertEquals(0, maxDiff(pf.values().get(Hooks.attnPattern(layers.get(0))), o.attns().get(":, 0")), 1e-6);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Inspection.partialForward(lm, ids, List.of(Hooks.attnOut(0))));
            assertTrue(e.getMessage().contains("has [embed, blocks.0.resid_post"), e.getMessage());
        }
    }

    @Test
    void aLocalWindowAndAxialGroupsShowInThePattern() {
        try (LM local = model(inspectable().get(0)); LM axial = model(inspectable().get(1)); NDManager step = base.newSubManager()) {
            NDArray ids = Tiny.randomIds(step, 2, 1, T);
            float[][] w = rows(local.forward(ids, ForwardOptions.DEFAULT.withAttns(true)).attns());
            float[][] a = rows(axial.forward(ids, ForwardOptions.DEFAULT.withAttns(true)).attns());
            assertEquals(3, axial.forward(ids, ForwardOptions.DEFAULT.withAttns(true)).attns().getShape().get(2), "the predicting hierarchy's heads");
            for (int i = 0; i < w.length; i++) {
                int q = i % T;
                for (int k = 0; k <= q; k++) {
                    if (q - k >= 3) assertEquals(0, w[i][k], "window 3: query " + q + " does not see key " + k);
                    else assertTrue(w[i][k] > 0, "inside the window");
                    if ((q - k) % 2 != 0) assertEquals(0, a[i][k], "2 axial groups: query " + q + " reads only its own sub-sequence");
                    else assertTrue(a[i][k] > 0, "its own sub-sequence");
                }
            }
        }
    }

    @Test
    void bodiesWithoutTheTensorsSayWhyInOneLine() {
        String mini = "{'l': 3, 'o': ['sa', 'sa', 'l'], 'h': [16, 16, 8], 'n': [2, 4, 2], 'f': [[16], [16], [8]], 'p': ['sdp', 'wma', 'dct']}";
        List<ModelParams> none = List.of(
                flexi(mini),                                                           // 'sa' heads 2 and 4; widths 16 and 8
                flexi("{'l': 2, 'o': ['c', 'l'], 'h': [16, 16], 'n': [2, 2], 'f': [[16], [16]], 'p': [5, 'dft']}"), // no 'sa'
                hier(tuple(1L, 2L)).with("window_sizes", tuple(0L, PyLiteral.NONE)));      // the token level does not attend
        List<String> why = List.of("have [2, 4] heads", "has no 'sa' layer", "no attention (window_sizes 0)");
        for (int i = 0; i < none.size(); i++) {
            try (LM lm = model(none.get(i)); NDManager step = base.newSubManager()) {
                NDArray ids = Tiny.randomIds(step, 1, 1, T);
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> lm.forward(ids, ForwardOptions.DEFAULT.withAttns(true)));
                assertTrue(e.getMessage().contains(why.get(i)) && !e.getMessage().contains("\n"), e.getMessage());
            }
        }
        try (LM lm = model(none.get(0)); NDManager step = base.newSubManager()) {
            NDArray ids = Tiny.randomIds(step, 1, 1, T);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> lm.forward(ids, ForwardOptions.DEFAULT.withEmbeddings(true)));
            assertTrue(e.getMessage().contains("changes width (h=[16, 16, 8])"), e.getMessage());
        }
    }
}
