package org.tinker.explore;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.tinker.data.DataModule;
import org.tinker.model.Evaluation;
import org.tinker.runs.Checkpoint;

/**
 * The reference's verify_stable_load: two loads give identical weights and identical logits, the model
 * is deterministic, and the validation loss recorded for the checkpoint's weights is reproduced within 1e-4 (a checkpoint
 * saved between validations has none: said, not failed).
 */
public final class Verify {
    public static final double VAL_TOLERANCE = 1e-4;

    private Verify() {}

    /** A readable report; {@code ok} is false if any check failed. */
    public record Report(boolean ok, List<String> lines) {
        @Override
        public String toString() {
            return String.join("\n", lines) + "\n" + (ok ? "verify: OK" : "verify: FAILED");
        }
    }

    public static Report verify(Runs runs, String timestamp, String checkpoint) {
        List<String> lines = new ArrayList<>();
        boolean ok = true;
        try (LoadedRun a = runs.get(timestamp, checkpoint, true); LoadedRun b = runs.get(timestamp, checkpoint, false)) {
            lines.add("run " + a.run().timestamp() + " (" + a.run().config() + "/" + a.run().task() + ") checkpoint " + checkpoint
                    + ": " + a.lm().numParameters() + " parameters");
            // 1. identical weights
            int differing = 0;
            Map<String, NDArray> pa = a.lm().parameters(), pb = b.lm().parameters();
            for (String name : pa.keySet())
                if (!Arrays.equals(pa.get(name).toByteArray(), pb.get(name).toByteArray())) differing++;
            ok &= check(lines, differing == 0 && pa.keySet().equals(pb.keySet()), "two loads give identical weights"
                    + (differing > 0 ? " (" + differing + " tensors differ)" : ""));
            // 1b. every weight finite: a NaN or infinite weight reloads identically but is no model
            List<String> nonFinite = new ArrayList<>();
            try (NDManager m = a.manager().newSubManager()) {
                for (Map.Entry<String, NDArray> e : pa.entrySet()) {
                    if (!e.getValue().getDataType().isFloating()) continue;
                    NDArray nan = e.getValue().isNaN(), inf = e.getValue().isInfinite();
                    nan.attach(m);
                    inf.attach(m);
                    long n = nan.logicalOr(inf).countNonzero().getLong(); // results of arrays in m stay in m
                    if (n > 0) nonFinite.add(e.getKey() + " (" + n + " of " + e.getValue().size() + ")");
                }
            }
            ok &= check(lines, nonFinite.isEmpty(), nonFinite.isEmpty() ? "every weight is finite"
                    : "non-finite weights (nan or inf) in " + nonFinite.size() + " tensors: "
                    + String.join(", ", nonFinite.size() > 5 ? nonFinite.subList(0, 5) : nonFinite) + (nonFinite.size() > 5 ? ", ..." : ""));
            // 2. identical, deterministic logits
            int[] ids = a.tokenizer().encodePrompt("the");
            float[] la = logits(a, ids), la2 = logits(a, ids), lb = logits(b, ids);
            ok &= check(lines, Arrays.equals(la, lb), "two loads give identical logits on " + Arrays.toString(ids));
            ok &= check(lines, Arrays.equals(la, la2), "repeated forward passes are deterministic");
            // 3. the val loss recorded for these very weights reproduced (not the run's last one: an intermediate
            // checkpoint has its own, or none when it was saved between validations)
            java.util.OptionalDouble rec = Checkpoint.recordedValLoss(a.run().checkpoint(a.checkpoint()));
            double now = Evaluation.evaluate(a.lm(), a.data(), DataModule.Split.VALID, a.trainParams().batch_size())[0];
            if (rec.isEmpty()) {
                lines.add(String.format("  --    val loss: no recorded loss for this checkpoint (saved between validations); now %.6f", now));
            } else {
                double recorded = rec.getAsDouble();
                boolean close = Math.abs(now - recorded) <= VAL_TOLERANCE;
                ok &= check(lines, close, String.format("val loss reproduced: recorded %.6f, now %.6f (|diff| %.2e, tolerance %.0e)",
                        recorded, now, Math.abs(now - recorded), VAL_TOLERANCE));
            }
            ok &= check(lines, Arrays.equals(la, logits(a, ids)), "still deterministic after validation");
        }
        return new Report(ok, lines);
    }

    private static boolean check(List<String> lines, boolean ok, String what) {
        lines.add((ok ? "  ok    " : "  FAIL  ") + what);
        return ok;
    }

    private static float[] logits(LoadedRun r, int[] ids) {
        try (NDManager m = r.manager().newSubManager()) {
            long[] l = Arrays.stream(ids).asLongStream().toArray();
            NDArray x = m.create(l, new Shape(1, l.length));
            return r.lm().forward(x).logits().toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray();
        }
    }
}
