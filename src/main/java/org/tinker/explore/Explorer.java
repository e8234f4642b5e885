package org.tinker.explore;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.tinker.config.ConfigError;
import org.tinker.data.Batch;
import org.tinker.data.DataModule;
import org.tinker.data.Tokenizer;
import org.tinker.model.ForwardOptions;
import org.tinker.model.Generation;
import org.tinker.model.Inspection;
import org.tinker.model.LM;
import org.tinker.model.LMOutput;
import org.tinker.model.Stepwise;

/**
 * Looking inside one model: the reference's LM conveniences ({@code lm("text")}, {@code sample}, {@code perplexities})
 * plus partial forward and the logit lens, for any {@link LM} with its {@link Tokenizer}. Get one with
 * {@code run.explorer()} or {@code Explorer.of(lm, tokenizer)}.
 *
 * <p>Text inputs are encoded as prompts ({@code bos} then the text), the way training samples begin.
 * Tensors handed back live in a {@link Output}'s own manager (close it, or let jshell end); every other call
 * uses one scope of its own, so nothing is left in the LM's manager.
 */
public final class Explorer {
    private final LM lm;
    private final Tokenizer tok;
    private final String name;

    public Explorer(LM lm, Tokenizer tok, String name) {
        this.lm = lm;
        this.tok = tok;
        this.name = name;
    }

    public static Explorer of(LM lm, Tokenizer tok) {
        return new Explorer(lm, tok, "model");
    }

    public LM lm() {
        return lm;
    }

    public Tokenizer tokenizer() {
        return tok;
    }

    /** A short name used in plot titles (the run's timestamp, or "model"). */
    public String name() {
        return name;
    }

    // ---------------------------------------------------------------------------------------------------
    // Forward

    /**
     * One forward pass's results, in a manager of their own.
     *
     * @param ids  the input ids, [B][T] (right-padded with pad for a batch of unequal texts)
     * @param mask [B][T] 1 for real tokens, 0 for pads (the reference's {@code mycollate} mask)
     */
    public record Output(int[][] ids, float[][] mask, NDArray logits, NDArray attns, NDArray embeddings, NDManager manager)
            implements AutoCloseable {
        @Override
        public void close() {
            manager.close();
        }
    }

    public Output forward(String text) {
        return forward(text, ForwardOptions.DEFAULT);
    }

    public Output forward(String text, ForwardOptions opts) {
        return forward(new int[][] {encode(text)}, opts);
    }

    public Output forward(int[] ids, ForwardOptions opts) {
        return forward(new int[][] {ids}, opts);
    }

    /** A batch of texts of any lengths: padded with the pad id, with a mask ({@link DataModule#collate}). */
    public Output forward(List<String> texts, ForwardOptions opts) {
        List<int[]> seqs = new ArrayList<>();
        for (String t : texts) seqs.add(encode(t));
        Batch b = DataModule.collate(seqs, tok.padId());
        return forward(b.ids(), opts);
    }

    /** A 1-D {@code [T]} or 2-D {@code [B,T]} tensor of ids. */
    public Output forward(NDArray ids, ForwardOptions opts) {
        if (ids.getShape().dimension() == 1) ids = ids.expandDims(0);
        if (ids.getShape().dimension() != 2) throw new IllegalArgumentException("ids must be [T] or [B,T], got " + ids.getShape());
        int b = Math.toIntExact(ids.getShape().get(0)), t = Math.toIntExact(ids.getShape().get(1));
        long[] flat = ids.toType(DataType.INT64, false).toLongArray();
        int[][] rows = new int[b][t];
        for (int i = 0; i < b; i++) for (int j = 0; j < t; j++) rows[i][j] = Math.toIntExact(flat[i * t + j]);
        return forward(rows, opts);
    }

    private Output forward(int[][] rows, ForwardOptions opts) {
        int b = rows.length, t = rows[0].length;
        long[] flat = new long[b * t];
        float[][] mask = new float[b][t];
        for (int i = 0; i < b; i++) {
            if (rows[i].length != t) throw new IllegalArgumentException("rows of unequal length; use forward(List<String>, ...)");
            for (int j = 0; j < t; j++) {
                flat[i * t + j] = rows[i][j];
                mask[i][j] = rows[i][j] == tok.padId() && b > 1 ? 0 : 1;
            }
        }
        NDManager m = NDManager.newBaseManager(lm.manager().getDevice());
        try {
            boolean was = lm.isTraining();
            lm.setTraining(false);
            LMOutput o;
            try {
                o = lm.forward(m.create(flat, new Shape(b, t)), opts);
            } finally {
                lm.setTraining(was);
            }
            return new Output(rows, mask, o.logits(), o.attns(), o.embeddings(), m);
        } catch (IllegalArgumentException e) { // e.g. patterns asked of a body that has none: it says why
            m.close();
            throw new ConfigError(e.getMessage());
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    /** {@code bos} + the text's ids, checked against max_seq_len. */
    public int[] encode(String text) {
        int[] ids = tok.encodePrompt(text);
        if (ids.length > lm.params().max_seq_len())
            throw new ConfigError("text of " + ids.length + " tokens (with bos) is longer than the model's max_seq_len="
                    + lm.params().max_seq_len());
        return ids;
    }

    /** Printable labels of ids, for plots. */
    public List<String> labels(int[] ids) {
        List<String> out = new ArrayList<>();
        for (int id : ids) out.add(tok.tokenLabel(id));
        return out;
    }

    // ---------------------------------------------------------------------------------------------------
    // Generation

    /**
     * Generation settings.
     *
     * @param maxLen        total length in tokens, prompt included, capped at max_seq_len (the reference's max_seq_len)
     * @param temperature   0 = argmax
     * @param topK          keep the k most likely tokens (null = off); exclusive with nucleus
     * @param nucleus       keep the smallest set with this much probability (null = off)
     * @param beams         1 = sample; more = beam search (deterministic; temperature/topK/nucleus unused)
     * @param lengthPenalty beam score = log p / newTokens^lengthPenalty
     * @param cache         use the KV cache where the model has one (GPT block stacks)
     * @param seed          sampling seed
     */
    public record Sampling(int maxLen, double temperature, Integer topK, Double nucleus, int beams, double lengthPenalty,
                           boolean cache, long seed) {
        public static Sampling defaults() {
            return new Sampling(100, 1.0, null, null, 1, 1.0, true, 0);
        }

        public Sampling maxLen(int v) { return new Sampling(v, temperature, topK, nucleus, beams, lengthPenalty, cache, seed); }
        public Sampling temperature(double v) { return new Sampling(maxLen, v, topK, nucleus, beams, lengthPenalty, cache, seed); }
        public Sampling topK(Integer v) { return new Sampling(maxLen, temperature, v, nucleus, beams, lengthPenalty, cache, seed); }
        public Sampling nucleus(Double v) { return new Sampling(maxLen, temperature, topK, v, beams, lengthPenalty, cache, seed); }
        public Sampling beams(int v) { return new Sampling(maxLen, temperature, topK, nucleus, v, lengthPenalty, cache, seed); }
        public Sampling lengthPenalty(double v) { return new Sampling(maxLen, temperature, topK, nucleus, beams, v, cache, seed); }
        public Sampling cache(boolean v) { return new Sampling(maxLen, temperature, topK, nucleus, beams, lengthPenalty, v, seed); }
        public Sampling seed(long v) { return new Sampling(maxLen, temperature, topK, nucleus, beams, lengthPenalty, cache, v); }
    }

    /** A generated sequence, how fast it came, and whether a KV cache was used ({@code cached}). */
    public record Generated(int[] ids, String text, int newTokens, double seconds, boolean cached) {
        public double tokensPerSecond() {
            return newTokens / Math.max(seconds, 1e-9);
        }
    }

    /** The reference's {@code sample(pref, max_seq_len, temperature, as_str=True, top_k, nucleus)}. */
    public String sample(String prefix, int maxLen, double temperature, Integer topK, Double nucleus) {
        return generate(prefix, Sampling.defaults().maxLen(maxLen).temperature(temperature).topK(topK).nucleus(nucleus)).text();
    }

    /** As {@link #sample(String, int, double, Integer, Double)} with {@code as_str=False}: the ids. */
    public int[] sampleIds(int[] prefix, int maxLen, double temperature, Integer topK, Double nucleus) {
        return generate(prefix, Sampling.defaults().maxLen(maxLen).temperature(temperature).topK(topK).nucleus(nucleus)).ids();
    }

    public Generated generate(String prefix, Sampling s) {
        return generate(tok.encodePrompt(prefix), s);
    }

    /** Samples (beams = 1) or beam-searches; stops at eos or maxLen. */
    public Generated generate(int[] prompt, Sampling s) {
        try {
            Generation.check(s.temperature(), s.topK(), s.nucleus());
        } catch (IllegalArgumentException e) {
            throw new ConfigError(e.getMessage());
        }
        if (s.beams() < 1) throw new ConfigError("beams must be >= 1, got " + s.beams());
        if (prompt.length > lm.params().max_seq_len())
            throw new ConfigError("prefix of " + prompt.length + " tokens is longer than max_seq_len=" + lm.params().max_seq_len());
        boolean cache = Generation.usesCache(lm, s.cache()); // not for the hierarchical and flexi bodies, nor non-causal recipes
        long t0 = System.nanoTime();
        int[] ids = s.beams() == 1
                ? Generation.sample(lm, prompt, s.maxLen(), s.temperature(), s.topK(), s.nucleus(), tok.eosId(), new Random(s.seed()), cache)
                : Generation.beamSearch(lm, prompt, s.maxLen(), s.beams(), s.lengthPenalty(), tok.eosId(), cache);
        double secs = (System.nanoTime() - t0) / 1e9;
        return new Generated(ids, tok.decode(ids, true), ids.length - prompt.length, secs, cache);
    }

    // ---------------------------------------------------------------------------------------------------
    // Perplexity

    /**
     * @param mean        token-weighted: exp(mean cross-entropy over all target tokens) (or the mean cross-entropy
     *                    with beforeExp). The reference averaged per-batch means, so a short last batch counted as
     *                    much as a full one; here every token counts once, whatever the batching.
     * @param max, min    over single tokens (perplexity exp(ce) of one token, or its ce)
     * @param totalTokens target tokens counted
     * @param perToken    [N][T-1] per-token values (T = longest sequence), {@code dummy} where there is no target; null
     *                    unless asked for
     */
    public record Perplexities(double mean, double max, double min, long totalTokens, double[][] perToken) {}

    /** Perplexities of texts, each a training-style sample (bos, text, eos), chunked to max_seq_len like training data. */
    public Perplexities perplexities(List<String> texts, int batchSize, boolean beforeExp, boolean perToken) {
        List<int[]> seqs = new ArrayList<>();
        int l = lm.params().max_seq_len();
        for (String t : texts) {
            int[] s = tok.encodeSample(t);
            for (int i = 0; i < s.length; i += l) if (Math.min(l + 1, s.length - i) > 1) seqs.add(Arrays.copyOfRange(s, i, Math.min(s.length, i + l + 1)));
        }
        return perplexitiesOfIds(seqs, batchSize, beforeExp, perToken, -1);
    }

    /** Perplexities over a split of the run's data (its chunks, with its loss mask). */
    public Perplexities perplexities(DataModule data, DataModule.Split split, int batchSize, boolean beforeExp, boolean perToken) {
        List<int[]> seqs = new ArrayList<>();
        for (int i = 0; i < data.size(split); i++) seqs.add(data.sample(split, i));
        if (seqs.isEmpty()) throw new ConfigError("split " + split.name().toLowerCase() + " of this run's data is empty");
        return perplexitiesOfIds(seqs, batchSize, beforeExp, perToken, -1);
    }

    /** Sequences of ids (each predicts its own tokens 1..n-1); pads and positions past a row's end do not count. */
    public Perplexities perplexitiesOfIds(List<int[]> seqs, int batchSize, boolean beforeExp, boolean perToken, double dummy) {
        if (seqs.isEmpty()) throw new ConfigError("perplexities: no sequences of 2 or more tokens");
        if (batchSize < 1) throw new ConfigError("batch size must be >= 1, got " + batchSize);
        int width = 0;
        for (int[] s : seqs) width = Math.max(width, s.length);
        double[][] per = perToken ? new double[seqs.size()][Math.max(0, width - 1)] : null;
        if (per != null) for (double[] row : per) Arrays.fill(row, dummy);
        double ceSum = 0, max = Double.NEGATIVE_INFINITY, min = Double.POSITIVE_INFINITY;
        long tokens = 0;
        boolean was = lm.isTraining();
        lm.setTraining(false);
        try {
            for (int from = 0; from < seqs.size(); from += batchSize) {
                List<int[]> chunk = seqs.subList(from, Math.min(seqs.size(), from + batchSize));
                Batch b = DataModule.collate(chunk, tok.padId());
                int rows = b.size(), t = b.width() - 1;
                if (t < 1) continue;
                long[] x = new long[rows * t], y = new long[rows * t];
                for (int i = 0; i < rows; i++)
                    for (int j = 0; j < t; j++) {
                        x[i * t + j] = b.ids()[i][j];
                        y[i * t + j] = b.ids()[i][j + 1];
                    }
                float[] ce;
                try (NDManager scope = lm.manager().newSubManager()) {
                    NDArray logits = lm.forward(scope.create(x, new Shape(rows, t))).logits();
                    NDArray target = scope.create(y, new Shape(rows, t, 1));
                    ce = logits.logSoftmax(2).gather(target, 2).neg().toType(DataType.FLOAT32, false).toFloatArray();
                }
                for (int i = 0; i < rows; i++)
                    for (int j = 0; j < t; j++) {
                        if (b.lossMask()[i][j] == 0) continue;
                        double v = ce[i * t + j];
                        ceSum += v;
                        tokens++;
                        double shown = beforeExp ? v : Math.exp(v);
                        max = Math.max(max, shown);
                        min = Math.min(min, shown);
                        if (per != null) per[from + i][j] = shown;
                    }
            }
        } finally {
            lm.setTraining(was);
        }
        double meanCe = ceSum / Math.max(tokens, 1);
        return new Perplexities(beforeExp ? meanCe : Math.exp(meanCe), max, min, tokens, per);
    }

    // ---------------------------------------------------------------------------------------------------
    // Partial forward

    /** Named tensors from a partial forward pass, in a manager of their own. */
    public record Activations(Map<String, NDArray> values, int blocksRun, NDManager manager) implements AutoCloseable {
        public NDArray get(String name) {
            return values.get(name);
        }

        @Override
        public void close() {
            manager.close();
        }
    }

    /** transformer-utils' {@code partial_forward}, for every architecture: see {@link Inspection#partialForward}. */
    public Activations partialForward(List<String> outputNames, String text) {
        return partialForward(outputNames, encode(text));
    }

    public Activations partialForward(List<String> outputNames, int[] ids) {
        NDManager m = NDManager.newBaseManager(lm.manager().getDevice());
        try {
            long[] l = Arrays.stream(ids).asLongStream().toArray();
            Stepwise.Result r = Inspection.partialForward(lm, m.create(l, new Shape(1, l.length)), outputNames);
            return new Activations(r.values(), r.blocksRun(), m);
        } catch (IllegalArgumentException e) {
            m.close();
            throw new ConfigError(e.getMessage());
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }
}
