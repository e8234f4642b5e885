package org.tinker.tint;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;
import org.tinker.config.ConfigError;
import org.tinker.data.IclTask;
import org.tinker.data.Tokenizer;

/**
 * The original's few-shot classification protocol ({@code icl_eval} with single_FT and the label_only loss;
 * docs/models/tint.md, "ICL evaluation") on the episodes of an {@link IclTask}. Each query gets the logits of the
 * task's label words at the position before its label, from three readers; the prediction is the label word with the
 * highest logit:
 * <ul>
 *   <li>zero-shot: the aux model on the query alone;
 *   <li>in context: the aux model on the demonstrations and the query as one text (plain ICL, the task's training format);
 *   <li>TinT: one pass on the single-FT input ({@link #singleFt}), read after the internal update.
 * </ul>
 * In the single-FT input the query attends only to itself and its positions start at 0, so the demonstrations reach
 * it only through the update, and TinT's first forward at the query is the zero-shot reading.
 */
public final class IclEval {
    /** A pass's input: ids, train part [0, nTrain), the icl input; the label is predicted by row {@code row}. */
    public record Sequence(long[] ids, int nTrain, IclInput icl, int row) {}

    /** One query: its class and the label-word logits (index = class) of each reader. */
    public record Query(int label, double[] zeroShot, double[] inContext, double[] tintFirst, double[] tint) {}

    /** The queries of one demonstration count. */
    public record Result(int demos, List<Query> queries) {
        /** The fraction of queries whose highest label logit, as {@code reader} gives them, is the query's class. */
        public double accuracy(Function<Query, double[]> reader) {
            int right = 0;
            for (Query q : queries) if (argmax(reader.apply(q)) == q.label()) right++;
            return right / (double) queries.size();
        }

        /** Queries whose TinT prediction differs from its first forward's (the zero-shot one). */
        public int changedByUpdate() {
            int n = 0;
            for (Query q : queries) if (argmax(q.tint()) != argmax(q.tintFirst())) n++;
            return n;
        }
    }

    private final IclTask task;
    private final Tokenizer tok;
    private final long[] labelIds;

    /** The task's label words must each be one token of {@code tok}. */
    public IclEval(IclTask task, Tokenizer tok) {
        this.task = task;
        this.tok = tok;
        List<String> words = task.labelWords();
        labelIds = new long[words.size()];
        for (int c = 0; c < labelIds.length; c++) {
            int[] ids = tok.encode(words.get(c));
            if (ids.length != 1)
                throw new ConfigError("task " + task.name() + ": the label word '" + words.get(c) + "' is " + ids.length + " tokens of this model's tokenizer; expected one (the task is made for GPT-2 BPE)");
            labelIds[c] = ids[0];
        }
    }

    public long[] labelIds() {
        return labelIds.clone();
    }

    public static int argmax(double[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
        return best;
    }

    /** Plain ICL for the aux alone: bos, then the demonstrations and the query prompt joined by newlines; no demonstrations: the query alone. */
    public Sequence inContext(IclTask.Episode e) {
        List<String> lines = new ArrayList<>();
        for (IclTask.Example d : e.demos()) lines.add(task.line(d));
        lines.add(e.query().prompt());
        long[] ids = longs(tok.encodePrompt(String.join("\n", lines)));
        return new Sequence(ids, ids.length, IclInput.NONE, ids.length - 1);
    }

    /** {@link #singleFt(IclTask.Episode, int)} at its own length. */
    public Sequence singleFt(IclTask.Episode e) {
        return singleFt(e, 0);
    }

    /**
     * TinT's input (the original's single_FT with the query masked from the demonstrations): each demonstration is a
     * segment [bos, prompt, label word] with positions from 0 (as the first line of a training sample), the query a
     * segment [bos, prompt] likewise, then one placeholder token, the eval part, whose prediction row is the query's
     * label position. The train part is everything before the placeholder; the inner loss (gradient_mask) covers only
     * the demonstrations' label words. Up to {@code length} tokens, the rest is filled with placeholders in a segment
     * of their own (batching; after the label row, they change nothing that is read).
     */
    public Sequence singleFt(IclTask.Episode e, int length) {
        List<long[]> parts = new ArrayList<>();
        for (IclTask.Example d : e.demos()) {
            long[] ids = longs(tok.encodePrompt(task.line(d)));
            if (ids[ids.length - 1] != labelIds[d.label()] || ids.length != tok.encodePrompt(d.prompt()).length + 1)
                throw new ConfigError("task " + task.name() + ": the demonstration '" + task.line(d) + "' does not end in its label word as one token of this tokenizer");
            parts.add(ids);
        }
        long[] query = longs(tok.encodePrompt(e.query().prompt()));
        long[] q = Arrays.copyOf(query, query.length + 1);
        q[query.length] = labelIds[0]; // the placeholder: only the row before it is read
        parts.add(q);
        int T = 0;
        for (long[] p : parts) T += p.length;
        int n = Math.max(T, length);
        long[] ids = new long[n];
        int[] segment = new int[n], position = new int[n];
        boolean[] loss = new boolean[n];
        int at = 0;
        for (int s = 0; s < parts.size(); s++) {
            long[] p = parts.get(s);
            for (int i = 0; i < p.length; i++, at++) {
                ids[at] = p[i];
                segment[at] = s;
                position[at] = i;
            }
            if (s < e.demos().size()) loss[at - 1] = true; // the demonstration's label word
        }
        for (int i = 0; at < n; i++, at++) {
            ids[at] = labelIds[0];
            segment[at] = parts.size();
            position[at] = i;
        }
        return new Sequence(ids, T - 1, IclInput.segments(segment, position).withLossTokens(loss), T - 2);
    }

    /** The label-word logits of the aux model at {@code s.row} (the tied head: hf · wte rows). */
    public double[] auxLogits(AuxModel aux, Sequence s) {
        Mat hf = aux.hidden(s.ids(), s.icl()).hf;
        double[] out = new double[labelIds.length];
        for (int c = 0; c < out.length; c++)
            for (int j = 0; j < aux.D; j++) out[c] += hf.get(s.row(), j) * aux.wte.get((int) labelIds[c], j);
        return out;
    }

    /**
     * Every episode's query through the three readers; TinT passes in batches of {@code batch} single-FT sequences
     * (the engine batches them, padded to the longest; the Mat reference runs them one by one).
     */
    public Result run(List<IclTask.Episode> episodes, AuxModel aux, TintPass tint, int batch) {
        List<Query> out = new ArrayList<>();
        for (int b0 = 0; b0 < episodes.size(); b0 += batch) {
            List<IclTask.Episode> chunk = episodes.subList(b0, Math.min(episodes.size(), b0 + batch));
            int longest = 0;
            for (IclTask.Episode e : chunk) longest = Math.max(longest, singleFt(e).ids().length);
            List<Sequence> seqs = new ArrayList<>();
            for (IclTask.Episode e : chunk) seqs.add(singleFt(e, longest));
            double[][][] t = tintLogits(tint, seqs);
            for (int i = 0; i < chunk.size(); i++) {
                IclTask.Episode e = chunk.get(i);
                IclTask.Episode alone = new IclTask.Episode(List.of(), e.query());
                out.add(new Query(e.query().label(), auxLogits(aux, inContext(alone)), auxLogits(aux, inContext(e)), t[i][0], t[i][1]));
            }
        }
        return new Result(episodes.isEmpty() ? 0 : episodes.get(0).demos().size(), out);
    }

    /** Per sequence [first forward, after the update] label-word logits at its row. */
    double[][][] tintLogits(TintPass tint, List<Sequence> seqs) {
        double[][][] out = new double[seqs.size()][2][];
        if (tint instanceof TintEngine e) {
            int B = seqs.size();
            long[][] ids = new long[B][];
            int[] nTrain = new int[B];
            IclInput[] icl = new IclInput[B];
            for (int b = 0; b < B; b++) {
                ids[b] = seqs.get(b).ids();
                nTrain[b] = seqs.get(b).nTrain();
                icl[b] = seqs.get(b).icl();
            }
            try (NDManager scope = NDManager.newBaseManager(e.device())) {
                TintEngine.Result r = e.forward(scope, ids, nTrain, icl);
                for (int b = 0; b < B; b++) {
                    out[b][0] = pick(r.originalLogits.get(b, seqs.get(b).row()));
                    out[b][1] = pick(r.finalLogits.get(b, seqs.get(b).row()));
                }
            }
        } else {
            for (int b = 0; b < seqs.size(); b++) {
                Sequence s = seqs.get(b);
                TintModel.Output o = tint.forward(s.ids(), s.nTrain(), s.icl());
                out[b][0] = pick(o.originalLogits, s.row());
                out[b][1] = pick(o.finalLogits, s.row());
            }
        }
        return out;
    }

    private double[] pick(NDArray logits) {
        double[] all = logits.toType(DataType.FLOAT64, false).toDoubleArray(), out = new double[labelIds.length];
        for (int c = 0; c < out.length; c++) out[c] = all[(int) labelIds[c]];
        return out;
    }

    private double[] pick(Mat logits, int row) {
        double[] out = new double[labelIds.length];
        for (int c = 0; c < out.length; c++) out[c] = logits.get(row, (int) labelIds[c]);
        return out;
    }

    private static long[] longs(int[] a) {
        long[] out = new long[a.length];
        for (int i = 0; i < a.length; i++) out[i] = a[i];
        return out;
    }
}
