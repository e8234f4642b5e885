package org.tinker.explore;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.tinker.config.ConfigError;
import org.tinker.model.Generation;
import org.tinker.model.Hooks;
import org.tinker.model.Inspection;
import org.tinker.model.LM;
import org.tinker.model.Stepwise;

/**
 * The logit lens (nostalgebraist, 2020): decode the residual stream after every block with the model's own
 * "decoder" (final LayerNorm + head) and see which next token each layer already predicts.
 *
 * <p>Rows are {@code input} (the embedding), then each block's output {@code h.l}; with sub-blocks also
 * {@code h.l.attn}, the residual stream right after the attention sub-layer ({@code blocks.l.resid_mid}). The
 * decoder is {@code ln_f} (when the model has one) and {@code lm_head} by default; naming blocks in it
 * ({@code blocks.l} or {@code h.l}) runs those blocks first — useful when late blocks do the decoding.
 *
 * <p>A hierarchical or flexi model is read the same way through its own residual stream and its own final norm and
 * head ({@link Inspection}): rows {@code input} and {@code h.l}, no sub-blocks, no blocks in the decoder.
 */
public final class LogitLens {
    public enum Mode { LOGITS, PROBS, RANKS, KL }

    private LogitLens() {}

    /**
     * @param rows    row names, bottom (input) to top (last block)
     * @param tokens  the input tokens of the positions shown
     * @param values  [row][position] the value of {@code mode} (top logit, top probability, rank of the model's final
     *                top token (1 = same), or KL(final ‖ layer) in nats)
     * @param top     [row][position] the layer's top token
     */
    public record Result(Mode mode, List<String> rows, List<String> tokens, List<String> nextTokens, double[][] values,
                         String[][] top) {}

    public static Mode mode(String s) {
        try {
            return Mode.valueOf(s.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new ConfigError("--mode=" + s + ": expected logits | probs | ranks | kl");
        }
    }

    public static Result compute(Explorer ex, String text, int start, int end, Mode mode, boolean includeSubblocks,
                                 List<String> decoderLayerNames, int blockStep) {
        LM lm = ex.lm();
        int[] ids = ex.encode(text);
        int n = Inspection.layers(lm);
        if (start < 0) start = 0;
        if (end <= 0 || end > ids.length) end = ids.length;
        if (start >= end) throw new ConfigError("logit lens: start " + start + " must be before end " + end + " (text has " + ids.length + " tokens)");
        if (blockStep < 1) throw new ConfigError("block step must be >= 1, got " + blockStep);
        List<String> decoder = decoderLayerNames == null || decoderLayerNames.isEmpty() ? List.of("ln_f", "lm_head") : decoderLayerNames;
        List<Integer> decoderBlocks = new ArrayList<>();
        for (String d : decoder) {
            String c = d.replaceFirst("^h\\.", "blocks.");
            if (c.matches("blocks\\.\\d+")) {
                int l = Integer.parseInt(c.substring(7));
                if (l >= n) throw new ConfigError("decoder layer " + d + ": the model has blocks 0.." + (n - 1));
                decoderBlocks.add(l);
            } else if (!c.equals("ln_f") && !c.equals("lm_head") && !c.equals("final_layernorm")) {
                throw new ConfigError("decoder layer '" + d + "': expected blocks.{l} (or h.{l}), ln_f, lm_head");
            }
        }
        // A body (hierarchical, flexi) has its stream after each layer, but no sub-blocks or single layers to run.
        var arch = lm.params().layer_architecture();
        if (!lm.hasBlocks() && includeSubblocks)
            throw new ConfigError("logit lens --subblocks: layer_architecture=" + arch + " has no stream between attention and feed-forward, only after each layer");
        if (!lm.hasBlocks() && !decoderBlocks.isEmpty())
            throw new ConfigError("logit lens decoder " + decoder + ": layer_architecture=" + arch + " decodes with its own final norm and head only (ln_f,lm_head)");
        // rows: input, then every blockStep-th block (the last always), optionally with its attention sub-block
        List<String> rowNames = new ArrayList<>(), hookNames = new ArrayList<>();
        rowNames.add("input");
        hookNames.add(Stepwise.EMBED);
        for (int l = 0; l < n; l++) {
            if (l % blockStep != 0 && l != n - 1) continue;
            if (includeSubblocks) {
                rowNames.add("h." + l + ".attn");
                hookNames.add(Hooks.residMid(l));
            }
            rowNames.add("h." + l);
            hookNames.add(Hooks.residPost(l));
        }
        hookNames.add(Stepwise.LOGITS); // the model's own, for ranks and KL
        int cols = end - start, v = lm.vocabSize();
        double[][] values = new double[rowNames.size()][cols];
        String[][] top = new String[rowNames.size()][cols];
        try (NDManager m = NDManager.newBaseManager(lm.manager().getDevice())) {
            long[] l = Arrays.stream(ids).asLongStream().toArray();
            NDArray x = m.create(l, new Shape(1, l.length));
            List<NDArray> acts;
            try {
                acts = new ArrayList<>(Inspection.partialForward(lm, x, hookNames).values().values());
            } catch (IllegalArgumentException e) { // a body without one residual stream says why
                throw new ConfigError("logit lens: " + e.getMessage());
            }
            float[] finalLogits = acts.get(acts.size() - 1).toType(DataType.FLOAT32, false).toFloatArray();
            for (int r = 0; r < rowNames.size(); r++) {
                NDArray h = acts.get(r);
                for (int b : decoderBlocks) h = Stepwise.runBlock(lm, b, h);
                float[] logits = Inspection.decode(lm, h).toType(DataType.FLOAT32, false).toFloatArray();
                for (int c = 0; c < cols; c++) {
                    int pos = start + c;
                    float[] row = Arrays.copyOfRange(logits, pos * v, (pos + 1) * v);
                    float[] fin = Arrays.copyOfRange(finalLogits, pos * v, (pos + 1) * v);
                    int best = Generation.argmax(row);
                    top[r][c] = ex.tokenizer().tokenLabel(best);
                    values[r][c] = switch (mode) {
                        case LOGITS -> row[best];
                        case PROBS -> Math.exp(Generation.logSoftmax(row)[best]);
                        case RANKS -> rank(row, Generation.argmax(fin));
                        case KL -> kl(Generation.logSoftmax(fin), Generation.logSoftmax(row));
                    };
                }
            }
        }
        List<String> toks = new ArrayList<>(), next = new ArrayList<>();
        for (int p = start; p < end; p++) {
            toks.add(ex.tokenizer().tokenLabel(ids[p]));
            next.add(p + 1 < ids.length ? ex.tokenizer().tokenLabel(ids[p + 1]) : "");
        }
        return new Result(mode, rowNames, toks, next, values, top);
    }

    /** Heatmap: layers bottom to top (input at the bottom), positions left to right, the top token in each cell. */
    public static Path plot(Result r, String title, Path file) {
        int rows = r.rows().size();
        double[][] vals = new double[rows][];
        String[][] text = new String[rows][];
        List<String> yl = new ArrayList<>();
        for (int i = 0; i < rows; i++) { // flip: last block on top
            vals[i] = r.values()[rows - 1 - i].clone();
            text[i] = r.top()[rows - 1 - i];
            yl.add(r.rows().get(rows - 1 - i));
        }
        double min = Double.POSITIVE_INFINITY, max = Double.NEGATIVE_INFINITY;
        for (double[] row : vals) for (int c = 0; c < row.length; c++) {
            if (r.mode() == Mode.RANKS) row[c] = Math.log10(row[c]);
            min = Math.min(min, row[c]);
            max = Math.max(max, row[c]);
        }
        if (r.mode() == Mode.PROBS) { min = 0; max = 1; }
        if (r.mode() == Mode.KL || r.mode() == Mode.RANKS) min = 0;
        if (max <= min) max = min + 1;
        List<String> xl = new ArrayList<>();
        for (int c = 0; c < r.tokens().size(); c++) xl.add(r.tokens().get(c) + " → " + r.nextTokens().get(c));
        String scale = switch (r.mode()) {
            case LOGITS -> "top logit";
            case PROBS -> "top probability";
            case RANKS -> "log10 rank of the final top token";
            case KL -> "KL(final ‖ layer), nats";
        };
        return Plots.heatmap(new Plots.Heatmap(title, xl, yl, vals, text, "input token → actual next token",
                "layer (decoded with ln_f + head)", scale, min, max), file);
    }

    /** 1-based rank of token {@code id} in {@code a} (1 = the top). */
    static double rank(float[] a, int id) {
        int r = 1;
        for (int i = 0; i < a.length; i++) if (a[i] > a[id] || (a[i] == a[id] && i < id)) r++;
        return r;
    }

    static double kl(double[] logP, double[] logQ) {
        double s = 0;
        for (int i = 0; i < logP.length; i++) s += Math.exp(logP[i]) * (logP[i] - logQ[i]);
        return Math.max(0, s);
    }
}
