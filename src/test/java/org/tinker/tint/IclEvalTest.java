package org.tinker.tint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tinker.cli.Main;
import org.tinker.config.TintParams;
import org.tinker.data.IclTask;
import org.tinker.data.KeywordIcl;
import org.tinker.data.PyRandom;
import org.tinker.data.Tokenizer;
import org.tinker.gpt2.Gpt2Pretrained;

/**
 * The few-shot protocol of `runner tint icl` (docs/models/tint.md, "ICL evaluation") on tiny-gpt2 (random, D=2) with
 * the keyword-icl task: the single-FT input, what the label-only loss and the isolation of demonstrations and query
 * imply for TinT's output, and the accuracies as a recount. Hard gates (g = 100: tanh = 1 in float64) where an
 * equality is claimed; inner_lr 0.1 so that the update moves the label logits.
 */
class IclEvalTest {
    static final Path TINY = Path.of("src/test/resources/tiny-gpt2");
    static AuxModel aux;
    static Tokenizer tok;
    static IclEval eval;
    static final IclTask TASK = KeywordIcl.TASK;
    @TempDir Path tmp;

    @BeforeAll
    static void load() {
        try (NDManager m = NDManager.newBaseManager()) {
            aux = TintInput.loadAux(TINY, m, false, "layernorm");
        }
        tok = Gpt2Pretrained.tokenizer(TINY, aux.V);
        eval = new IclEval(TASK, tok);
    }

    /** tiny-gpt2's TinT (K=2, E=8, Hs=4) at inner_lr 0.1 and gate scale g. */
    static TintParams config(double g) {
        return new TintSettings.Widths(2, 8, 4).applyTo(TintParams.DEFAULTS).with("inner_lr", 0.1).with("gate_scale", g);
    }

    static List<IclTask.Episode> episodes(long seed, int n, int k) {
        PyRandom q = new PyRandom(seed), d = new PyRandom(seed + 1);
        List<IclTask.Episode> out = new ArrayList<>();
        for (int i = 0; i < n; i++) out.add(TASK.episode(q, d, k));
        return out;
    }

    static double maxRel(double[] a, double[] b) {
        double num = 0, den = 0;
        for (int i = 0; i < a.length; i++) {
            num = Math.max(num, Math.abs(a[i] - b[i]));
            den = Math.max(den, Math.abs(b[i]));
        }
        return num / den;
    }

    /** Each demonstration a segment [bos, keyword, " =", label] from position 0; the loss on the labels only; the query last, its label row before the placeholder. */
    @Test
    void singleFtInputLayout() {
        IclTask.Episode e = episodes(3, 1, 3).get(0);
        IclEval.Sequence s = eval.singleFt(e);
        long[] ids = s.ids();
        int T = ids.length, at = 0;
        assertEquals(T - 1, s.nTrain());
        assertEquals(T - 2, s.row());
        List<Integer> lossAt = new ArrayList<>();
        for (int t = 1; t < s.nTrain(); t++) if (s.icl().inLoss(t - 1)) lossAt.add(t);
        for (int d = 0; d <= 3; d++) {
            String text = d < 3 ? TASK.line(e.demos().get(d)) : e.query().prompt();
            int[] seg = tok.encodePrompt(text);
            for (int i = 0; i < seg.length; i++) {
                assertEquals(seg[i], ids[at + i], "segment " + d + " token " + i);
                assertEquals(i, s.icl().position(at + i), "positions restart in every segment");
                if (at > 0) assertTrue(!s.icl().attends(at + i, at - 1), "a segment sees nothing before it");
                assertTrue(s.icl().attends(at + i, at), "every token of a segment sees its bos");
            }
            if (d < 3) assertEquals(at + seg.length - 1, (int) lossAt.get(d), "the loss is on demonstration " + d + "'s label word");
            at += seg.length;
        }
        assertEquals(3, lossAt.size(), "no other token is in the inner loss");
        assertEquals(tok.encode(" =")[0], ids[s.row()], "the query's label is predicted at its ' ='");
    }

    /**
     * The query attends only to itself from position 0, so TinT's first forward at it is the zero-shot reading; the
     * inner loss sees only label words, so the query does not enter the update, and without demonstrations there is
     * no update at all. The update is what TinT-SGD computes on the same input.
     */
    @Test
    void queryIsolatedAndOnlyLabelsTrain() {
        TintParams c = config(100);
        IclTask.Episode e = episodes(5, 1, 2).get(0), other = episodes(6, 1, 2).get(0);
        IclTask.Episode sameDemos = new IclTask.Episode(e.demos(), other.query()), none = new IclTask.Episode(List.of(), e.query());
        assertTrue(!other.query().prompt().equals(e.query().prompt()), "a different query");
        try (TintModel tint = new TintModel(aux, c)) {
            IclEval.Sequence s = eval.singleFt(e), s2 = eval.singleFt(sameDemos), s0 = eval.singleFt(none);
            TintModel.Output o = tint.forward(s.ids(), s.nTrain(), s.icl()), o2 = tint.forward(s2.ids(), s2.nTrain(), s2.icl()), o0 = tint.forward(s0.ids(), s0.nTrain(), s0.icl());
            double[] zero = eval.auxLogits(aux, eval.inContext(none)), first = eval.tintLogits(tint, List.of(s))[0][0];
            assertTrue(maxRel(first, zero) < 1e-12, "first forward at the query = zero-shot: " + maxRel(first, zero));
            Mat w = TintIclTest.flatWeights(o.updated), w2 = TintIclTest.flatWeights(o2.updated), w0 = TintIclTest.flatWeights(o0.updated), base = TintIclTest.flatWeights(aux);
            double queryEffect = w.sub(w2).norm() / w.sub(base).norm();
            System.out.printf("tiny-gpt2 single-FT: first forward vs zero-shot %.3g; update with another query, same demonstrations: rel %.3g; no demonstrations: |Δw| %.3g%n",
                    maxRel(first, zero), queryEffect, w0.sub(base).norm());
            assertTrue(queryEffect < 1e-12, "the query is not in the update: " + queryEffect);
            assertTrue(w.sub(base).norm() > 1e-6, "two demonstrations move the weights");
            assertArrayEquals(o0.originalLogits.a, o0.finalLogits.a, "no demonstration: no update");
            AuxModel ref = TintSgd.train(aux, s.ids(), s.icl(), s.nTrain(), c.inner_lr(), 1, TintSgd.Switches.tint(c, aux));
            double rel = TintFixtures.relDelta(o.finalLogits, ref.forward(s.ids(), s.icl()).logits, o.originalLogits, s.row(), s.row() + 1);
            assertTrue(rel < 1e-9, "TinT vs TinT-SGD at the query, rel(Δ) " + rel);
        }
    }

    /** Isolated demonstrations make the update a sum over demonstrations: their order changes TinT's reading only by rounding; plain ICL's changes. */
    @Test
    void demonstrationOrderDoesNotMatterToTint() {
        TintParams c = config(100);
        IclTask.Episode e = episodes(7, 1, 4).get(0);
        List<IclTask.Example> reversed = new ArrayList<>(e.demos());
        Collections.reverse(reversed);
        IclTask.Episode r = new IclTask.Episode(reversed, e.query());
        try (TintModel tint = new TintModel(aux, c)) {
            double[][][] t = eval.tintLogits(tint, List.of(eval.singleFt(e), eval.singleFt(r)));
            double[] icl = eval.auxLogits(aux, eval.inContext(e)), iclR = eval.auxLogits(aux, eval.inContext(r));
            double dTint = maxRel(t[1][1], t[0][1]), dIcl = maxRel(iclR, icl);
            System.out.printf("tiny-gpt2, 4 demonstrations reversed: TinT label logits rel %.3g, plain ICL rel %.3g%n", dTint, dIcl);
            assertTrue(dTint < 1e-12, "TinT " + dTint);
            assertTrue(dIcl > 1e-9, "plain ICL sees the order: " + dIcl);
        }
    }

    /**
     * A batched engine run (padded batches of 5, 5 and 2) gives each query the readings computed one by one on the
     * Mat construction, and its accuracies and change count are what a recount of the argmaxes gives.
     */
    @Test
    void accuraciesAreARecountOverTheQueries() {
        TintParams c = config(10);
        List<IclTask.Episode> eps = episodes(11, 12, 2);
        IclEval.Result res;
        try (TintEngine engine = new TintEngine(aux, c, Device.cpu(), TintEngine.Precision.FLOAT64)) {
            res = eval.run(eps, aux, engine, 5);
        }
        int zero = 0, icl = 0, tintRight = 0, changed = 0;
        try (TintModel mat = new TintModel(aux, c)) {
            for (int i = 0; i < eps.size(); i++) {
                IclEval.Query q = res.queries().get(i);
                IclTask.Episode e = eps.get(i);
                assertEquals(e.query().label(), q.label());
                IclEval.Sequence s = eval.singleFt(e);
                TintModel.Output o = mat.forward(s.ids(), s.nTrain(), s.icl());
                long[] labels = eval.labelIds();
                double[] first = new double[2], fin = new double[2], z = new double[2], x = new double[2];
                Mat zl = aux.forward(longs(tok.encodePrompt(e.query().prompt()))).logits;
                String text = TASK.line(e.demos().get(0)) + "\n" + TASK.line(e.demos().get(1)) + "\n" + e.query().prompt();
                Mat xl = aux.forward(longs(tok.encodePrompt(text))).logits;
                for (int l = 0; l < 2; l++) {
                    first[l] = o.originalLogits.get(s.row(), (int) labels[l]);
                    fin[l] = o.finalLogits.get(s.row(), (int) labels[l]);
                    z[l] = zl.get(zl.rows - 1, (int) labels[l]);
                    x[l] = xl.get(xl.rows - 1, (int) labels[l]);
                }
                assertTrue(maxRel(q.tint(), fin) < 1e-9 && maxRel(q.tintFirst(), first) < 1e-9, "query " + i + ": batched engine = one Mat pass");
                assertTrue(maxRel(q.zeroShot(), z) < 1e-12 && maxRel(q.inContext(), x) < 1e-12, "query " + i + ": aux readings");
                int label = e.query().label();
                zero += (z[label] > z[1 - label]) ? 1 : 0;
                icl += (x[label] > x[1 - label]) ? 1 : 0;
                tintRight += (fin[label] > fin[1 - label]) ? 1 : 0;
                changed += (fin[0] > fin[1]) != (first[0] > first[1]) ? 1 : 0;
            }
        }
        System.out.printf("tiny-gpt2, 12 queries, 2 demonstrations: zero-shot %d, in context %d, TinT %d right; TinT changed %d%n", zero, icl, tintRight, changed);
        assertEquals(zero / 12.0, res.accuracy(IclEval.Query::zeroShot));
        assertEquals(icl / 12.0, res.accuracy(IclEval.Query::inContext));
        assertEquals(tintRight / 12.0, res.accuracy(IclEval.Query::tint));
        assertEquals(changed, res.changedByUpdate());
        assertTrue(changed > 0, "at inner_lr 0.1 the update flips some predictions");
    }

    @Test
    void commandPrintsAndLogsOneLinePerCount() throws IOException {
        Path log = tmp.resolve("icl.jsonl");
        assertEquals(0, Main.run("tint", "icl", "--pretrained", TINY.toString(), "--demos", "0,2", "--queries", "3", "--inner-lr", "0.1", "--log", log.toString()));
        List<String> lines = Files.readAllLines(log);
        assertEquals(2, lines.size());
        for (int i = 0; i < 2; i++) {
            JsonObject o = JsonParser.parseString(lines.get(i)).getAsJsonObject();
            assertEquals(2 * i, o.get("demos").getAsInt());
            assertEquals("keyword-icl", o.get("task").getAsString());
            double a = o.get("acc_tint").getAsDouble() * 3;
            assertEquals(Math.rint(a), a, 1e-12, "an accuracy over 3 queries");
        }
        assertEquals(2, Main.run("tint", "icl", "--pretrained", TINY.toString(), "--task", "copy", "--log", log.toString()));
    }

    static long[] longs(int[] a) {
        long[] out = new long[a.length];
        for (int i = 0; i < a.length; i++) out[i] = a[i];
        return out;
    }
}
