package org.tinker.model;

import static org.junit.jupiter.api.Assertions.*;

import ai.djl.ndarray.NDArray;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tinker.config.ModelParams;
import org.tinker.model.flexi.WeightTransfer;

/** FlexiBERT weight transfer: copied slices equal the source, mismatched operations keep their own weights. */
class WeightTransferTest extends WithBaseManager {
    static final ModelParams SRC = FlexiTest.flexi("{'l': 3, 'o': ['sa', 'l', 'c'], 'h': [16, 16, 8], 'n': [2, 2, 2], "
            + "'f': [[32], [16, 16], [8]], 'p': ['sdp', 'dft', 5]}");
    static final ModelParams DST = FlexiTest.flexi("{'l': 3, 'o': ['sa', 'sa', 'c'], 'h': [12, 12, 8], 'n': [2, 2, 2], "
            + "'f': [[24], [16], [8]], 'p': ['sdp', 'sdp', 9]}");

    @Test
    void orderedCopyPutsTheLeadingSliceOfTheSource() {
        try (LM src = new LM(SRC, Tiny.V, base, 1); LM dst = new LM(DST, Tiny.V, base, 2)) {
            Map<String, float[]> before = snapshot(dst);
            WeightTransfer.Report r = WeightTransfer.transfer(src, dst, WeightTransfer.Mode.OD, 0);
            Map<String, NDArray> s = src.parameters(), d = dst.parameters();
            // [32,16] → [24,12]: dst equals src[:24, :12]
            assertEquals(0.0, Tiny.maxAbsDiff(d.get("flexi.0.ff.0.weight"), s.get("flexi.0.ff.0.weight").get(":24, :12")));
            assertEquals(0.0, Tiny.maxAbsDiff(d.get(LM.WTE), s.get(LM.WTE).get(":, :12")));
            assertEquals(0.0, Tiny.maxAbsDiff(d.get("flexi.0.attn.c_attn.weight"), s.get("flexi.0.attn.c_attn.weight").get(":36, :12")));
            // equal shapes: exact copies
            assertEquals(0.0, Tiny.maxAbsDiff(d.get("flexi.2.ff.0.weight"), s.get("flexi.2.ff.0.weight")));
            // layer 1: 'l' (no weights) → 'sa' keeps its own; layer 2: conv 5 vs 9 keeps its own kernel
            assertArrayEquals(before.get("flexi.1.attn.c_attn.weight"), d.get("flexi.1.attn.c_attn.weight").toFloatArray());
            assertArrayEquals(before.get("flexi.2.conv.kernel"), d.get("flexi.2.conv.kernel").toFloatArray());
            assertTrue(r.toString().contains("flexi.2.conv.kernel: kept (operation c/5 vs c/9)"), r.toString());
            // a target larger than the source along an axis keeps its own values beyond the slice
            try (LM big = new LM(SRC.with("model_dict", SRC.model_dict().text().replace("[32]", "[40]")), Tiny.V, base, 3)) {
                float[] own = big.parameters().get("flexi.0.ff.0.weight").toFloatArray();
                WeightTransfer.transfer(src, big, WeightTransfer.Mode.OD, 0);
                NDArray w = big.parameters().get("flexi.0.ff.0.weight");
                assertEquals(0.0, Tiny.maxAbsDiff(w.get(":32"), s.get("flexi.0.ff.0.weight")));
                float[] now = w.toFloatArray();
                for (int i = 32 * 16; i < 40 * 16; i++) assertEquals(own[i], now[i]);
            }
        }
    }

    @Test
    void randomProjectionIsSeededAndShapedAndCopiesEqualShapes() {
        try (LM src = new LM(SRC, Tiny.V, base, 1); LM a = new LM(DST, Tiny.V, base, 2); LM b = new LM(DST, Tiny.V, base, 5)) {
            WeightTransfer.transfer(src, a, WeightTransfer.Mode.RP, 7);
            WeightTransfer.transfer(src, b, WeightTransfer.Mode.RP, 7);
            for (String n : a.parameters().keySet()) {
                if (n.startsWith("flexi.1.attn") || n.startsWith("flexi.2.conv.")) continue; // operation differs: kept (own init)
                assertEquals(0.0, Tiny.maxAbsDiff(a.parameters().get(n), b.parameters().get(n)), n + ": same seed, same result");
            }
            assertEquals(0.0, Tiny.maxAbsDiff(a.parameters().get("flexi.2.ff.0.weight"), src.parameters().get("flexi.2.ff.0.weight")));
            // projection of the embedding [V,16] → [V,12] along the features: norms roughly kept (JL), not a slice
            NDArray wte = a.parameters().get(LM.WTE);
            assertTrue(Tiny.maxAbsDiff(wte, src.parameters().get(LM.WTE).get(":, :12")) > 1e-3);
            double ratio = Tiny.scalar(wte.norm()) / Tiny.scalar(src.parameters().get(LM.WTE).norm());
            assertTrue(ratio > 0.5 && ratio < 1.5, "JL: norms roughly preserved, ratio " + ratio);
        }
    }

    private static Map<String, float[]> snapshot(LM lm) {
        Map<String, float[]> m = new java.util.HashMap<>();
        lm.parameters().forEach((n, p) -> m.put(n, p.toFloatArray()));
        return m;
    }
}
