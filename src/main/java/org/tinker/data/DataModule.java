package org.tinker.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.tinker.config.ConfigError;
import org.tinker.config.DataParams;

/**
 * Tokenized, chunked samples of the three splits, and batches of them.
 *
 * <p>Pipeline (as the reference's {@code LMDataModule}, with its chunking bug fixed):
 * <ol>
 *   <li>each sample is tokenized with {@link Tokenizer#encodeSample} (bos, text, eos);
 *   <li>the splits come cut by {@link Tasks} ({@link SplitRule}); only {@code Splits.unsplit(all)} (train only,
 *       no own splits) is cut here, by the same rule, over samples;
 *   <li>each tokenized sample s is chunked into {@code s[i : i+L+1]} for i = 0, L, 2L, ... (consecutive chunks
 *       share one token: the last target of a chunk is the first input of the next), and chunks of ≤ 1 token are
 *       dropped. L = {@link #maxLen()} = {@code dp.max_seq_len ≤ 0 ? modelMaxSeqLen : min(modelMaxSeqLen,
 *       dp.max_seq_len)}. For a synthetic task with {@code breaking_synthetic_samples_ok=False}, a sample of more
 *       than L+1 tokens (one that would really be cut) is a {@link ConfigError}; the reference checked
 *       {@code len ≤ L} before chunking, rejecting samples of exactly L+1 tokens that fit in one chunk.
 * </ol>
 *
 * <p>Loss mask: a sample with {@code lossFromChar = c > 0} counts a target token only if its text starts at or
 * after char c. The number of prefix tokens is {@code encode(text[0:c]).length}; this is exact when the
 * tokenizer does not merge across char c (char and word tokenizers at a space or {@code ::} boundary), and an
 * approximation for BPE. Pads never count.
 *
 * <p>Storage: per split, one {@code int[]} with all tokenized samples back to back, and per chunk its start in
 * that buffer, its length and its first counted target; chunks are views, not copies.
 */
public final class DataModule {
    public enum Split { TRAIN, VALID, TEST }

    private final Tokenizer tok;
    private final int maxLen;
    private final boolean synthetic;
    private final String taskName;
    private final Store[] stores = new Store[3];

    public DataModule(Tokenizer tok, Splits splits, DataParams dp, int modelMaxSeqLen, boolean synthetic) {
        if (modelMaxSeqLen <= 0) throw new IllegalArgumentException("modelMaxSeqLen must be positive: " + modelMaxSeqLen);
        this.tok = tok;
        this.synthetic = synthetic;
        this.taskName = dp.dataset_name();
        this.maxLen = dp.max_seq_len() <= 0 ? modelMaxSeqLen : Math.min(modelMaxSeqLen, dp.max_seq_len());
        List<Sample> train = splits.train();
        List<Sample> valid = splits.valid();
        List<Sample> test = splits.test();
        if (!splits.hasOwnSplits() && valid.isEmpty() && test.isEmpty() && !train.isEmpty()) {
            List<List<Sample>> cut = SplitRule.cut(train, dp.val_pct(), dp.test_pct());
            train = cut.get(0);
            valid = cut.get(1);
            test = cut.get(2);
        }
        boolean strict = synthetic && !dp.breaking_synthetic_samples_ok();
        stores[0] = build(train, Split.TRAIN, strict);
        stores[1] = build(valid, Split.VALID, strict);
        stores[2] = build(test, Split.TEST, strict);
    }

    /** Every sample's text, train then valid then test (for building a tokenizer from all samples, as the reference). */
    public static List<String> allTexts(Splits splits) {
        List<String> out = new ArrayList<>(splits.train().size() + splits.valid().size() + splits.test().size());
        for (Sample s : splits.train()) out.add(s.text());
        for (Sample s : splits.valid()) out.add(s.text());
        for (Sample s : splits.test()) out.add(s.text());
        return out;
    }

    private Store build(List<Sample> samples, Split split, boolean strict) {
        IntBuf buf = new IntBuf(1024);
        IntBuf start = new IntBuf(samples.size() + 16);
        IntBuf len = new IntBuf(samples.size() + 16);
        IntBuf first = new IntBuf(samples.size() + 16);
        int k = 0;
        for (Sample sample : samples) {
            int[] ids = tok.encodeSample(sample.text());
            if (strict && ids.length > maxLen + 1) {
                throw new ConfigError("dataset_name '" + taskName + "': synthetic " + split.name().toLowerCase()
                        + " sample " + k + " has " + ids.length + " tokens, more than max_seq_len + 1 = " + (maxLen + 1)
                        + " (max_seq_len " + maxLen + "); raise max_seq_len or set breaking_synthetic_samples_ok = True");
            }
            int firstCounted = 1;
            int c = sample.lossFromChar();
            if (c > 0) firstCounted = 1 + tok.encode(sample.text().substring(0, Math.min(c, sample.text().length()))).length;
            int base = buf.size;
            buf.addAll(ids);
            for (int i = 0; i < ids.length; i += maxLen) {
                int n = Math.min(maxLen + 1, ids.length - i);
                if (n <= 1) continue;
                start.add(base + i);
                len.add(n);
                first.add(Math.max(1, firstCounted - i));
            }
            k++;
        }
        return new Store(buf.trim(), start.trim(), len.trim(), first.trim());
    }

    /** Number of chunks (training sequences) in a split. */
    public int size(Split s) {
        return stores[s.ordinal()].start.length;
    }

    /** Tokens of the split's tokenized samples (bos and eos included, before chunking). */
    public long tokens(Split s) {
        return stores[s.ordinal()].buf.length;
    }

    /** The effective max_seq_len L: sequences hold at most L+1 tokens (L inputs, L targets). */
    public int maxLen() {
        return maxLen;
    }

    /** Tokens in the longest chunk of a split (0 when it is empty): the widest batch the split can give. */
    public int longest(Split s) {
        int m = 0;
        for (int n : stores[s.ordinal()].len) m = Math.max(m, n);
        return m;
    }

    public Tokenizer tokenizer() {
        return tok;
    }

    public boolean synthetic() {
        return synthetic;
    }

    /** The ids of chunk i (a copy). */
    public int[] sample(Split s, int i) {
        Store st = stores[s.ordinal()];
        return Arrays.copyOfRange(st.buf, st.start[i], st.start[i] + st.len[i]);
    }

    /** Index (within the chunk) of the first target position that counts in the loss (≥ 1). */
    public int firstTarget(Split s, int i) {
        return stores[s.ordinal()].first[i];
    }

    /** A readable form of chunk i: a header line, then its decoded text with special tokens. */
    public String showSample(Split s, int i) {
        int[] ids = sample(s, i);
        return s.name().toLowerCase() + " sample " + i + ", " + ids.length + " tokens:\n" + tok.decode(ids, false);
    }

    /**
     * Batches of chunk indices covering the split once: in order, or shuffled deterministically from the seed
     * (Fisher-Yates with {@link SplittableRandom}). The last batch may be smaller.
     */
    public int[][] batchOrder(Split s, int batchSize, boolean shuffle, long seed) {
        if (batchSize <= 0) throw new IllegalArgumentException("batchSize must be positive: " + batchSize);
        int n = size(s);
        int[] order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        if (shuffle) {
            SplittableRandom r = new SplittableRandom(seed);
            for (int i = n - 1; i > 0; i--) {
                int j = r.nextInt(i + 1);
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
        }
        int nb = (n + batchSize - 1) / batchSize;
        int[][] out = new int[nb][];
        for (int b = 0; b < nb; b++) out[b] = Arrays.copyOfRange(order, b * batchSize, Math.min(n, (b + 1) * batchSize));
        return out;
    }

    /** The chunks at the given indices, right-padded with the pad id; masked prefixes and pads do not count. */
    public Batch batch(Split s, int[] indices) {
        if (indices.length == 0) throw new IllegalArgumentException("empty batch");
        Store st = stores[s.ordinal()];
        int width = 0;
        for (int i : indices) width = Math.max(width, st.len[i]);
        int pad = tok.padId();
        int[][] ids = new int[indices.length][width];
        float[][] mask = new float[indices.length][width - 1];
        int[] lengths = new int[indices.length];
        for (int b = 0; b < indices.length; b++) {
            int i = indices[b];
            int n = st.len[i];
            System.arraycopy(st.buf, st.start[i], ids[b], 0, n);
            if (n < width) Arrays.fill(ids[b], n, width, pad);
            for (int t = st.first[i] - 1; t < n - 1; t++) mask[b][t] = 1f;
            lengths[b] = n;
        }
        return new Batch(ids, mask, lengths);
    }

    /**
     * The reference's {@code mycollate}: sequences right-padded with padId to the longest, lossMask 1 for every
     * real target (position t counts when t+1 < length).
     */
    public static Batch collate(List<int[]> seqs, int padId) {
        if (seqs.isEmpty()) throw new IllegalArgumentException("empty batch");
        int width = 0;
        for (int[] s : seqs) width = Math.max(width, s.length);
        int[][] ids = new int[seqs.size()][width];
        float[][] mask = new float[seqs.size()][Math.max(0, width - 1)];
        int[] lengths = new int[seqs.size()];
        for (int b = 0; b < seqs.size(); b++) {
            int[] s = seqs.get(b);
            System.arraycopy(s, 0, ids[b], 0, s.length);
            if (s.length < width) Arrays.fill(ids[b], s.length, width, padId);
            for (int t = 0; t < s.length - 1; t++) mask[b][t] = 1f;
            lengths[b] = s.length;
        }
        return new Batch(ids, mask, lengths);
    }

    private record Store(int[] buf, int[] start, int[] len, int[] first) {}

    /** A growable int array. */
    private static final class IntBuf {
        int[] a;
        int size;

        IntBuf(int cap) {
            a = new int[Math.max(16, cap)];
        }

        void add(int v) {
            if (size == a.length) a = Arrays.copyOf(a, a.length * 2);
            a[size++] = v;
        }

        void addAll(int[] v) {
            if (size + v.length > a.length) a = Arrays.copyOf(a, Math.max(a.length * 2, size + v.length));
            System.arraycopy(v, 0, a, size, v.length);
            size += v.length;
        }

        int[] trim() {
            return size == a.length ? a : Arrays.copyOf(a, size);
        }
    }
}
