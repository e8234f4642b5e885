package org.tinker.search;

import static org.junit.jupiter.api.Assertions.*;

import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tinker.model.flexi.DesignSpace;
import org.tinker.model.flexi.FlexiSpec;
import org.tinker.search.SearchLog.Proposal;
import org.tinker.search.SearchLog.Record;

/**
 * The search on a synthetic objective over a real design space (the reference's kind of space, 20,880 models at two
 * layers per stack): a known function of the model dict plus noise stands in for training, so the surrogate's value
 * can be checked against random sampling at the same budget over many seeds in well under a second each.
 */
class SearchTest {
    static final DesignSpace SPACE = DesignSpace.parse("""
            architecture:
              encoder_layers: [2, 4]
              hidden_size: [64, 128, 256]
              num_heads: [2, 4]
              operation_types: [sa, l, c]
              operation_parameters: {sa: [sdp, wma], l: [dft, dct], c: [5, 9]}
              number_of_feed-forward_stacks: [1, 2]
              feed-forward_hidden: [256, 512]
            """, "space.yaml");
    static final PrintStream QUIET = new PrintStream(OutputStream.nullOutputStream());

    /**
     * A "validation loss" that rewards depth, width and attention, penalises the parameter-free linear mixers and
     * likes a wider FF stack in the later layers: every field of the dict matters, the best model is one of 20,880.
     */
    static double objective(String dict) {
        FlexiSpec s = FlexiSpec.parse(dict);
        double loss = 2.0 - (s.layers() == 4 ? 0.15 : 0);
        for (int i = 0; i < s.layers(); i++) {
            double w = 1.0 / s.layers();
            loss += w * switch (s.ops().get(i) + "/" + s.params().get(i)) {
                case "sa/sdp" -> -0.20;
                case "sa/wma" -> -0.25;
                case "c/9" -> -0.10;
                case "c/5" -> -0.05;
                default -> 0.15;
            };
            loss -= w * 0.12 * (Math.log(s.hidden()[i] / 64.0) / Math.log(2));
            loss -= w * (i >= s.layers() / 2 ? 0.06 : 0.02) * s.ff()[i].length * (s.ff()[i][0] / 256.0);
        }
        return loss;
    }

    /** Trains by evaluating the objective with Gaussian noise; remembers what it trained, as saved runs would. */
    static final class Synthetic implements RoundTrainer {
        final Map<String, Double> saved; // model dict → loss: the "saved runs"
        final Random noise;
        int trained;
        int failAfter = Integer.MAX_VALUE; // simulates a kill after this many trainings

        Synthetic(Map<String, Double> saved, long seed) {
            this.saved = saved;
            this.noise = new Random(seed);
        }

        @Override
        public List<Outcome> train(int round, List<Proposal> proposals) {
            List<Outcome> out = new ArrayList<>();
            for (Proposal p : proposals) {
                Double v = saved.get(p.model_dict());
                if (v == null) { // not trained yet
                    if (trained == failAfter) throw new IllegalStateException("killed");
                    v = objective(p.model_dict()) + 0.01 * noise.nextGaussian();
                    saved.put(p.model_dict(), v);
                    trained++;
                }
                out.add(new Outcome("run-" + p.index(), v, 1000, 0.0));
            }
            return out;
        }
    }

    static Search.Options options(int budget, long seed, boolean random) {
        return new Search.Options(budget, 4, 2, seed, List.of(2), random, 500, 3, "OD");
    }

    static double bestTrue(List<Record> rs) {
        return objective(Search.best(rs).model_dict());
    }

    @Test
    void surrogateSearchBeatsRandomSamplingAtEqualBudgetInMostSeeds(@TempDir Path dir) {
        int wins = 0;
        List<String> lines = new ArrayList<>();
        for (long seed = 1; seed <= 10; seed++) {
            List<Record> s = Search.run(SPACE, options(16, seed, false), new SearchLog(dir.resolve("s" + seed)), new Synthetic(new HashMap<>(), seed), QUIET);
            List<Record> r = Search.run(SPACE, options(16, seed, true), new SearchLog(dir.resolve("r" + seed)), new Synthetic(new HashMap<>(), seed), QUIET);
            assertEquals(16, s.size());
            assertEquals(16, r.size());
            assertEquals(4, s.stream().filter(x -> x.strategy().equals("init")).count(), "--init random models first");
            assertTrue(s.stream().skip(4).allMatch(x -> x.strategy().equals("ei")));
            if (bestTrue(s) < bestTrue(r)) wins++;
            lines.add(String.format("seed %d: search %.4f, random %.4f", seed, bestTrue(s), bestTrue(r)));
        }
        System.out.println("synthetic objective, budget 16 (4 random + 6 rounds of 2), best true loss found:\n" + String.join("\n", lines)
                + "\nsearch better in " + wins + " of 10 seeds");
        assertTrue(wins >= 7, "search found the better model in only " + wins + " of 10 seeds:\n" + String.join("\n", lines));
    }

    @Test
    void everyModelAfterTheFirstStartsFromItsNearestTrainedNeighbour(@TempDir Path dir) {
        List<Record> rs = Search.run(SPACE, options(8, 3, false), new SearchLog(dir), new Synthetic(new HashMap<>(), 3), QUIET);
        Encoding enc = new Encoding(SPACE);
        for (Record r : rs) {
            if (r.round() == 1) {
                assertNull(r.neighbour_index(), "nothing is trained before the first round");
                continue;
            }
            List<Record> before = rs.stream().filter(x -> x.round() < r.round()).toList();
            double nearest = before.stream().mapToDouble(x -> Encoding.distance(enc.encode(x.model_dict()), r.embedding())).min().orElseThrow();
            Record n = rs.stream().filter(x -> x.index() == r.neighbour_index()).findFirst().orElseThrow();
            assertEquals(nearest, Encoding.distance(enc.encode(n.model_dict()), r.embedding()), 1e-12);
            assertEquals("run-" + n.index(), r.neighbour_run());
            assertEquals("OD", r.transfer());
        }
    }

    @Test
    void aKilledSearchContinuesWithoutTrainingAnyModelTwice(@TempDir Path dir) throws Exception {
        Map<String, Double> saved = new HashMap<>();
        Synthetic first = new Synthetic(saved, 5);
        first.failAfter = 7; // dies inside round 4, after one of its two models trained
        SearchLog log = new SearchLog(dir);
        assertThrows(IllegalStateException.class, () -> Search.run(SPACE, options(12, 5, false), log, first, QUIET));
        List<Record> before = log.read();
        assertEquals(6, before.size(), "three whole rounds recorded");
        assertEquals(4, log.proposals(4).size() + 2, "round 4 was written before it trained");
        // a kill in the middle of an append leaves half a line: dropped on reading, replaced by the next append
        Files.writeString(log.file(), Files.readString(log.file()) + "{\"index\": 7, \"rou");

        Synthetic second = new Synthetic(saved, 6);
        List<Record> after = Search.run(SPACE, options(12, 5, false), log, second, QUIET);
        assertEquals(12, after.size());
        assertEquals(12, new HashSet<>(after.stream().map(Record::model_dict).toList()).size(), "no model twice");
        assertEquals(12, first.trained + second.trained, "every model trained exactly once over both processes");
        assertEquals(keys(before), keys(after.subList(0, 6)), "what was recorded stays as it was");
        assertEquals(log.proposals(4).stream().map(Proposal::model_dict).toList(),
                after.stream().filter(x -> x.round() == 4).map(Record::model_dict).toList(), "round 4 finished as proposed");
        assertEquals(12, log.read().size());
        assertEquals(keys(after), keys(Search.run(SPACE, options(12, 5, false), log, second, QUIET)), "a finished search trains nothing more");
        assertEquals(12, first.trained + second.trained);
    }

    private static List<String> keys(List<Record> rs) {
        return rs.stream().map(r -> r.index() + " " + r.round() + " " + r.model_dict() + " " + r.neighbour_index() + " " + r.run() + " "
                + r.val_loss() + " " + java.util.Arrays.toString(r.embedding())).toList();
    }

    @Test
    void theNextLevelRefinesTheBestModelsInStacksOfOneLayer(@TempDir Path dir) {
        Search.Options o = new Search.Options(6, 4, 2, 2, List.of(2, 1), false, 300, 2, "OD");
        List<Record> rs = Search.run(SPACE, o, new SearchLog(dir), new Synthetic(new HashMap<>(), 2), QUIET);
        assertEquals(12, rs.size());
        List<Record> level1 = rs.stream().filter(r -> r.level() == 1).toList();
        assertEquals(6, level1.size());
        List<String> parents = rs.stream().filter(r -> r.level() == 2).sorted((a, b) -> Double.compare(a.val_loss(), b.val_loss()))
                .limit(2).map(Record::model_dict).toList();
        for (Record r : level1) {
            FlexiSpec child = FlexiSpec.parse(r.model_dict());
            boolean nearAParent = parents.stream().map(FlexiSpec::parse).anyMatch(p -> p.layers() == child.layers() && differingLayers(p, child) <= 2);
            assertTrue(nearAParent, r.model_dict() + " is a refinement of one of " + parents);
        }
        assertTrue(level1.stream().anyMatch(r -> { // some child breaks a stack of two: its layers 0 and 1 (or 2 and 3) differ
            FlexiSpec s = FlexiSpec.parse(r.model_dict());
            return !s.ops().get(0).equals(s.ops().get(1)) || s.hidden()[0] != s.hidden()[1] || !s.params().get(0).equals(s.params().get(1))
                    || s.heads()[0] != s.heads()[1] || s.ff()[0].length != s.ff()[1].length || s.ff()[0][0] != s.ff()[1][0];
        }), "stacks of one layer");
    }

    private static int differingLayers(FlexiSpec a, FlexiSpec b) {
        int n = 0;
        for (int i = 0; i < a.layers(); i++)
            if (!a.ops().get(i).equals(b.ops().get(i)) || !a.params().get(i).equals(b.params().get(i)) || a.hidden()[i] != b.hidden()[i]
                    || a.heads()[i] != b.heads()[i] || !java.util.Arrays.equals(a.ff()[i], b.ff()[i])) n++;
        return n;
    }

    @Test
    void aDivergedModelIsRecordedWithItsNanLossAndNeverWins(@TempDir Path dir) {
        SearchLog log = new SearchLog(dir);
        Record ok = new Record(1, 1, 2, "init", SPACE.modelDicts(2, 1, 0).get(0), new double[] {1, 0.5}, null, null, null, "a", 2.5, 10, 1.0);
        Record nan = new Record(2, 1, 2, "init", SPACE.modelDicts(2, 2, 0).get(1), new double[] {1, 0.25}, 1, "a", "OD", "b", Double.NaN, 10, 1.0);
        log.append(List.of(ok, nan));
        List<Record> back = log.read();
        assertEquals(2, back.size());
        assertTrue(Double.isNaN(back.get(1).val_loss()));
        assertEquals(1, Search.best(back).index());
    }

    @Test
    void theGaussianProcessInterpolatesWhatItSawAndIsUnsureFarAway() {
        Encoding enc = new Encoding(SPACE);
        List<String> dicts = SPACE.modelDicts(2, 20, 9);
        double[][] x = new double[15][];
        double[] y = new double[15];
        for (int i = 0; i < 15; i++) {
            x[i] = enc.encode(dicts.get(i));
            y[i] = objective(dicts.get(i));
        }
        GaussianProcess gp = GaussianProcess.fit(x, y);
        for (int i = 0; i < 15; i++) {
            GaussianProcess.Prediction p = gp.predict(x[i]);
            assertEquals(y[i], p.mean(), 0.05, "seen point " + i);
        }
        double seenSd = gp.predict(x[0]).sd();
        double[] far = new double[enc.dimension()];
        java.util.Arrays.fill(far, 3.0);
        assertTrue(gp.predict(far).sd() > 5 * seenSd, "uncertain away from the data");
    }
}
