package org.tinker.search;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.apache.commons.math3.distribution.NormalDistribution;
import org.tinker.model.flexi.DesignSpace;
import org.tinker.search.SearchLog.Proposal;
import org.tinker.search.SearchLog.Record;

/**
 * FlexiBERT's surrogate-guided architecture search (the BOSHNAS role) over a {@link DesignSpace}: train {@code init}
 * random models, then in rounds of {@code parallel} models fit a {@link GaussianProcess} to the validation losses of
 * every model trained so far ({@link Encoding} vectors), score a pool of untrained candidates by expected improvement
 * over the best loss, and train the best-scoring ones, each warm-started from its nearest trained model by weight
 * transfer. A round's later picks see its earlier ones as if they had scored the surrogate's mean (the "kriging
 * believer"), so one round does not pick the same region P times. With several levels ({@code --levels=2,1}), after the
 * budget at one level the best {@code top} models are cut into smaller stacks and their neighbourhoods are searched
 * with the next budget, as the reference's {@code hierarchical.py} does. {@code random}: the same loop with random
 * picks from the same pools, the baseline a search is compared with.
 *
 * <p>Everything is kept in a {@link SearchLog}; {@link #run} continues from it after a kill and never trains a model
 * twice: a round is written before it trains and is finished, not re-proposed, when the search starts again.
 */
public final class Search {
    private Search() {}

    /**
     * @param budget models to train at each level
     * @param init random models first (first level only)
     * @param parallel models per round
     * @param levels layers per stack at each level, e.g. [2, 1]
     * @param random random picks instead of the surrogate's (the baseline)
     * @param pool candidates scored per round
     * @param top best models of a level whose neighbourhoods the next level searches
     * @param transfer weight transfer from the nearest trained model: OD | RP | none
     */
    public record Options(int budget, int init, int parallel, long seed, List<Integer> levels, boolean random, int pool, int top,
                          String transfer) {
        public Options {
            if (budget < 1) throw new IllegalArgumentException("--budget: expected at least 1 model, got " + budget);
            if (init < 1) throw new IllegalArgumentException("--init: expected at least 1 random model, got " + init);
            if (parallel < 1) throw new IllegalArgumentException("--parallel: expected at least 1 model per round, got " + parallel);
            if (levels.isEmpty()) throw new IllegalArgumentException("--levels: expected layers per stack, e.g. 2,1");
            for (int i = 0; i < levels.size(); i++)
                if (levels.get(i) < 1 || (i > 0 && (levels.get(i) >= levels.get(i - 1) || levels.get(i - 1) % levels.get(i) != 0)))
                    throw new IllegalArgumentException("--levels: expected decreasing layers per stack, each dividing the one before (a stack"
                            + " splits into smaller ones), e.g. 2,1 or 4,2,1; got " + levels);
            if (pool < 1) throw new IllegalArgumentException("--pool: expected at least 1 candidate, got " + pool);
            if (top < 1) throw new IllegalArgumentException("--top: expected at least 1 model, got " + top);
            if (!List.of("OD", "RP", "none").contains(transfer)) throw new IllegalArgumentException("--transfer: expected OD, RP or none, got " + transfer);
        }
    }

    /** Runs (or continues) the search until every level has its budget; returns every record. */
    public static List<Record> run(DesignSpace space, Options o, SearchLog log, RoundTrainer trainer, PrintStream out) {
        Encoding enc = new Encoding(space);
        List<Record> records = new ArrayList<>(log.read());
        if (!records.isEmpty()) out.println("search: continuing from " + log.file() + " (" + records.size() + " models trained)");
        int round = records.stream().mapToInt(Record::round).max().orElse(0);
        for (int li = 0; li < o.levels().size(); li++) {
            int level = o.levels().get(li);
            while (true) {
                // a round written but not fully recorded (a kill): finish it as proposed
                List<Proposal> pending = round > 0 ? unrecorded(log.proposals(round), records) : List.of();
                List<Proposal> next = log.proposals(round + 1);
                if (pending.isEmpty() && next != null) { // killed after writing the next round, before recording any of it
                    round++;
                    pending = unrecorded(next, records);
                }
                if (!pending.isEmpty() && pending.get(0).level() != level) break; // a round of a later level: this one is done
                if (pending.isEmpty()) {
                    int done = atLevel(records, level);
                    if (done >= o.budget()) break;
                    round++;
                    Random r = new Random(o.seed() * 1_000_003L + round);
                    int n = Math.min(o.parallel(), o.budget() - done);
                    pending = propose(space, enc, o, li, records, n, r, out);
                    if (pending.isEmpty()) {
                        out.println("search: level " + level + ": no untrained model left to propose");
                        round--;
                        break;
                    }
                    log.writeProposals(round, pending);
                } else {
                    out.println("search: round " + round + ": finishing " + pending.size() + " model(s) proposed before the search stopped");
                }
                List<RoundTrainer.Outcome> outcomes = trainer.train(round, pending);
                List<Record> fresh = new ArrayList<>();
                for (int i = 0; i < pending.size(); i++) {
                    Proposal p = pending.get(i);
                    RoundTrainer.Outcome oc = outcomes.get(i);
                    fresh.add(new Record(p.index(), round, p.level(), p.strategy(), p.model_dict(), enc.encode(p.model_dict()),
                            p.neighbour_index(), p.neighbour_run(), p.transfer(), oc.run(), oc.valLoss(), oc.params(), oc.wallSeconds()));
                }
                log.append(fresh);
                records.addAll(fresh);
                Record best = best(records);
                for (Record f : fresh)
                    out.printf("search: model %d (round %d, %s%s): val_loss %.4f; best so far %.4f (model %d)%n", f.index(), f.round(), f.strategy(),
                            f.neighbour_index() == null ? "" : ", from model " + f.neighbour_index(), f.val_loss(), best.val_loss(), best.index());
            }
        }
        return records;
    }

    private static int atLevel(List<Record> records, int level) {
        return (int) records.stream().filter(r -> r.level() == level).count();
    }

    private static List<Proposal> unrecorded(List<Proposal> proposals, List<Record> records) {
        if (proposals == null) return List.of();
        Set<Integer> done = new HashSet<>();
        for (Record r : records) done.add(r.index());
        return proposals.stream().filter(p -> !done.contains(p.index())).toList();
    }

    /** The record with the lowest finite validation loss (NaN losses never win). */
    public static Record best(List<Record> records) {
        return records.stream().filter(r -> !Double.isNaN(r.val_loss()))
                .min(Comparator.comparingDouble(Record::val_loss)).orElse(records.get(records.size() - 1));
    }

    /** The next round's models: random at first (and for the baseline), by expected improvement afterwards. */
    static List<Proposal> propose(DesignSpace space, Encoding enc, Options o, int li, List<Record> records, int n, Random r, PrintStream out) {
        int level = o.levels().get(li);
        Set<String> taken = new HashSet<>();
        for (Record rec : records) taken.add(rec.model_dict());
        List<String> pool = candidates(space, o, li, records, taken, r);
        if (pool.isEmpty()) return List.of();
        int firstIndex = records.stream().mapToInt(Record::index).max().orElse(0) + 1;
        boolean initial = li == 0 && records.size() < o.init();
        List<Proposal> picks = new ArrayList<>();
        if (o.random() || initial || records.stream().allMatch(x -> Double.isNaN(x.val_loss()))) {
            String why = o.random() ? "random" : "init";
            if (initial && !o.random()) n = Math.min(n, o.init() - records.size()); // exactly init random models, then the surrogate
            for (int k = 0; k < n && !pool.isEmpty(); k++) {
                String d = pool.remove(r.nextInt(pool.size()));
                picks.add(proposal(firstIndex + k, level, why, d, enc, records, o, Double.NaN, Double.NaN));
            }
            return picks;
        }
        // surrogate: observed points, plus each earlier pick of this round at its predicted mean
        List<double[]> xs = new ArrayList<>();
        List<Double> ys = new ArrayList<>();
        for (Record rec : records)
            if (!Double.isNaN(rec.val_loss())) {
                xs.add(enc.encode(rec.model_dict()));
                ys.add(rec.val_loss());
            }
        double bestY = ys.stream().mapToDouble(Double::doubleValue).min().orElseThrow();
        List<double[]> poolX = new ArrayList<>();
        for (String d : pool) poolX.add(enc.encode(d));
        NormalDistribution std = new NormalDistribution();
        for (int k = 0; k < n && !pool.isEmpty(); k++) {
            GaussianProcess gp = GaussianProcess.fit(xs.toArray(new double[0][]), ys.stream().mapToDouble(Double::doubleValue).toArray());
            int pick = -1;
            double bestEi = Double.NEGATIVE_INFINITY;
            GaussianProcess.Prediction pickPred = null;
            for (int c = 0; c < pool.size(); c++) {
                GaussianProcess.Prediction p = gp.predict(poolX.get(c));
                double ei = expectedImprovement(bestY, p, std);
                if (ei > bestEi) {
                    bestEi = ei;
                    pick = c;
                    pickPred = p;
                }
            }
            String d = pool.remove(pick);
            double[] x = poolX.remove(pick);
            picks.add(proposal(firstIndex + k, level, "ei", d, enc, records, o, pickPred.mean(), pickPred.sd()));
            xs.add(x);
            ys.add(pickPred.mean());
        }
        return picks;
    }

    /** E[max(best − f, 0)] under the surrogate's normal belief about f (lower loss is better). */
    static double expectedImprovement(double best, GaussianProcess.Prediction p, NormalDistribution std) {
        double gap = best - p.mean();
        if (p.sd() <= 0) return Math.max(gap, 0);
        double z = gap / p.sd();
        return gap * std.cumulativeProbability(z) + p.sd() * std.density(z);
    }

    /**
     * Untrained candidates: a sample of the space at the first level; at the next levels, refinements of the best
     * {@code top} models of the levels before (a fixed neighbourhood, as the reference's next graph library), cut into
     * stacks of this level's size.
     */
    static List<String> candidates(DesignSpace space, Options o, int li, List<Record> records, Set<String> taken, Random r) {
        int level = o.levels().get(li);
        List<String> pool = new ArrayList<>();
        if (li == 0) {
            long size = space.size(level);
            int want = (int) Math.min(size, o.pool() + taken.size());
            for (String d : space.modelDicts(level, want >= size ? 0 : want, r.nextLong())) if (!taken.contains(d)) pool.add(d);
        } else {
            List<Record> parents = records.stream().filter(x -> x.level() > level && !Double.isNaN(x.val_loss())) // the levels before
                    .sorted(Comparator.comparingDouble(Record::val_loss)).limit(o.top()).toList();
            Set<String> seen = new HashSet<>(taken);
            for (Record p : parents)
                for (String d : space.refinements(p.model_dict(), level, Math.max(1, o.pool() / parents.size()), r))
                    if (seen.add(d)) pool.add(d);
        }
        return pool;
    }

    private static Proposal proposal(int index, int level, String strategy, String dict, Encoding enc, List<Record> records, Options o,
                                     double mean, double sd) {
        if ("none".equals(o.transfer()) || records.isEmpty())
            return new Proposal(index, level, strategy, dict, null, null, null, mean, sd);
        double[] x = enc.encode(dict);
        Record nearest = null;
        double d = Double.POSITIVE_INFINITY;
        for (Record rec : records) {
            double dist = Encoding.distance(x, enc.encode(rec.model_dict()));
            if (dist < d) {
                d = dist;
                nearest = rec;
            }
        }
        return new Proposal(index, level, strategy, dict, nearest.index(), nearest.run(), o.transfer(), mean, sd);
    }
}
