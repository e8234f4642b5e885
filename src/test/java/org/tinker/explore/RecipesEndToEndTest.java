package org.tinker.explore;

import static org.junit.jupiter.api.Assertions.*;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.tinker.cli.Main;
import org.tinker.data.DataModule;
import org.tinker.model.Evaluation;
import org.tinker.model.Generation;
import org.tinker.model.LM;
import org.tinker.model.ModelRecipe;
import org.tinker.model.ModelRecipes;
import org.tinker.train.Experiment;
import org.tinker.train.TestRuns;
import org.tinker.train.Trainer;

/**
 * A recipe named in a config is part of the model wherever it runs: train a small PTB model with each shipped recipe, on
 * both layer architectures, and the validation loss the trainer recorded is what {@code runner verify} and the explorer
 * recompute from the saved run — and not what the same weights give without the recipe.
 */
class RecipesEndToEndTest {
    @TempDir static Path saved;

    static List<Arguments> recipes() {
        return ModelRecipes.ALL.stream().flatMap(e -> List.of("torch-transformer", "custom-transformer").stream()
                .map(arch -> Arguments.of(e.example(), arch))).toList();
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("recipes")
    void recordedValidationIsReproducedWithTheRecipeAndOnlyWithIt(String recipe, String arch) {
        var spec = TestRuns.spec(TestRuns.set(TestRuns.PTB_TINY, "n_layers", "2")
                + "layer_architecture = \"" + arch + "\"\nrecipes = \"" + recipe + "\"\n");
        Trainer.Result r = Experiment.run(spec, Experiment.Setup.quiet(Path.of("."), saved, true));
        String ts = r.finalCheckpoint().getParent().getFileName().toString();
        Runs runs = new Runs(saved, Path.of("."), Device.cpu());
        try (LoadedRun run = runs.get(ts, "final", true)) {
            assertEquals(recipe, run.modelParams().recipes(), "the recipe is saved with the run");
            int bs = run.trainParams().batch_size();
            double recorded = run.recordedValLoss();
            double verified = Evaluation.evaluate(run.lm(), run.data(), DataModule.Split.VALID, bs)[0];
            double explored = run.explorer().perplexities(run.data(), DataModule.Split.VALID, bs, true, false).mean();
            assertEquals(recorded, verified, 1e-5, "runner verify's recomputation");
            assertEquals(recorded, explored, 1e-5, "Explorer.perplexities on the validation split");
            assertTrue(Verify.verify(runs, ts, "final").ok());

            // the same weights without the recipe are another model
            try (NDManager m = NDManager.newBaseManager();
                 LM plain = new LM(run.modelParams().with("recipes", ""), run.lm().vocabSize(), m, 0)) {
                plain.loadParameters(run.lm().parameters());
                double without = Evaluation.evaluate(plain, run.data(), DataModule.Split.VALID, bs)[0];
                assertTrue(Math.abs(without - recorded) > 1e-4, recipe + ": without it " + without + ", with it " + recorded);
            }

            // greedy sampling with and without the cache (where the recipe allows one) gives the same text
            int[] prompt = run.tokenizer().encodePrompt("the");
            int[] cached = Generation.sample(run.lm(), prompt, 24, 0, null, null, -1, new Random(0), true);
            int[] uncached = Generation.sample(run.lm(), prompt, 24, 0, null, null, -1, new Random(0), false);
            assertArrayEquals(uncached, cached, recipe);
            // and the explorer says whether a cache was used: not for a recipe that looks at the whole input
            var g = run.explorer().generate(prompt, Explorer.Sampling.defaults().maxLen(12).temperature(0).cache(true));
            assertEquals(run.lm().recipes().stream().allMatch(ModelRecipe::causal), g.cached(), recipe);
        }
        // runner list names the recipe beside the model, so the points of a recipe grid can be told apart
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        java.io.PrintStream old = System.out;
        System.setOut(new java.io.PrintStream(out, true));
        try {
            assertEquals(0, Main.run("list", "--saved-models=" + saved));
        } finally {
            System.setOut(old);
        }
        String line = out.toString().lines().filter(l -> l.startsWith(ts)).findFirst().orElseThrow();
        assertTrue(line.contains(" + " + recipe), line);
    }
}
