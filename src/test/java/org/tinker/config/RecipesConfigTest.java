package org.tinker.config;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Recipes as a config names them ({@code [ModelParams] recipes}, {@code [TrainParams] callbacks}): checked against the
 * books found on the class path (model and training recipes, and src/recipes/java) when the file is read, so a mistake
 * is one line naming the file, the line, the key and the known recipes.
 */
class RecipesConfigTest {

    static List<RunSpec> runs(String text) {
        return ConfigFileTest.runs(text);
    }

    /** The error's message, checked to be one line. */
    static String error(String text) {
        String m = ConfigFileTest.error(text);
        assertFalse(m.contains("\n"), "one line: " + m);
        return m;
    }

    @Test
    void unknownRecipeNamesFileLineKeyAndTheKnownOnes() {
        String m = error("[ModelParams]\nn_heads = 2\nrecipes = \"sharpen(2)\"\n");
        assertTrue(m.startsWith("configs/x.txt:3: recipes=\"sharpen(2)\" in [ModelParams]: expected "), m);
        assertTrue(m.contains("unknown recipe 'sharpen'"), m);
        for (String known : List.of("relu_after_layer(l)", "square_mlp_output", "scale_attention_scores(c)",
                "scale_attention_scores_if_token(c, id)"))
            assertTrue(m.contains(known), known + " in " + m);
        assertTrue(m.contains("or a class recipes.Sharpen implementing org.tinker.model.ModelRecipe"), m);
    }

    @Test
    void callbackWithoutItsArgumentSaysHowManyItTakes() {
        String m = error("[TrainParams]\nepochs = 1\ncallbacks = \"freeze_random_layers; corrupt_inputs\"\n");
        assertTrue(m.startsWith("configs/x.txt:3: callbacks=\"freeze_random_layers; corrupt_inputs\" in [TrainParams]: expected "), m);
        assertTrue(m.contains("corrupt_inputs(frac) takes 1 argument(s), got corrupt_inputs"), m);
    }

    @Test
    void unknownCallbackNamesTheShippedOnes() {
        String m = error("[TrainParams]\ncallbacks = \"warmup_dropout\"\n");
        assertTrue(m.startsWith("configs/x.txt:2: callbacks="), m);
        assertTrue(m.contains("unknown callback 'warmup_dropout': known are freeze_random_layers, corrupt_inputs(frac), "
                + "track_max_param(every), or a class recipes.WarmupDropout implementing org.tinker.train.TrainingCallback"), m);
    }

    @Test
    void badArgumentValuesAreCaughtWhenTheFileIsRead() {
        assertTrue(error("[TrainParams]\ncallbacks = \"corrupt_inputs(1.5)\"\n").contains("corrupt_inputs needs a fraction in [0, 1], got 1.5"));
        assertTrue(error("[TrainParams]\ncallbacks = \"track_max_param(2.5)\"\n").contains("track_max_param needs an integer"));
        assertTrue(error("[ModelParams]\nrecipes = \"per_head_temperature(-1, 2)\"\n").contains("positive temperatures"));
    }

    @Test
    void aRecipeMustHookIntoThisModel() {
        String m = error("[ModelParams]\nn_layers = 2\nrecipes = \"relu_after_layer(5)\"\n");
        assertTrue(m.startsWith("configs/x.txt:3: recipes=\"relu_after_layer(5)\" in [ModelParams]: expected "), m);
        assertTrue(m.contains("no hook point matches 'blocks.5.resid_post'"), m);
        assertEquals(1, runs("[ModelParams]\nn_layers = 6\nrecipes = \"relu_after_layer(5)\"\n").size(), "6 layers have a block 5");
    }

    @Test
    void syntaxErrorIsOneLine() {
        String m = error("[ModelParams]\nrecipes = \"relu_after_layer(0\"\n");
        assertTrue(m.startsWith("configs/x.txt:2: recipes=\"relu_after_layer(0\" in [ModelParams]"), m);
        assertTrue(m.contains("lacks its closing ')'"), m);
        assertTrue(error("[ModelParams]\nrecipes = \"square_mlp_output;; relu_after_layer(0)\"\n").contains("empty entry"));
        assertTrue(error("[TrainParams]\ncallbacks = \"corrupt_inputs(a lot)\"\n").contains("'a lot' of corrupt_inputs is not a finite number"));
    }

    @Test
    void aListOfRecipesIsAGridAxis() {
        List<RunSpec> rs = runs("[ModelParams]\nn_heads = 2\nrecipes = [\"scale_attention_scores(1.0)\", \"scale_attention_scores(4.0)\"]\n");
        assertEquals(2, rs.size());
        assertEquals(List.of("scale_attention_scores(1.0)", "scale_attention_scores(4.0)"), rs.stream().map(r -> r.mp().recipes()).toList());
        assertTrue(rs.get(1).describe().contains("scale_attention_scores(4.0)"), rs.get(1).describe());
        // a grid of callbacks too, each point checked
        rs = runs("[TrainParams]\ncallbacks = [\"\", \"corrupt_inputs(0.2); track_max_param(10)\"]\n");
        assertEquals(List.of("", "corrupt_inputs(0.2); track_max_param(10)"), rs.stream().map(r -> r.tp().callbacks()).toList());
        assertTrue(error("[TrainParams]\ncallbacks = [\"\", \"corrupt_inputs\"]\n").startsWith("configs/x.txt:2: callbacks=\"corrupt_inputs\""));
    }

    @Test
    void aResearchersOwnRecipeIsFoundByNameAndGridded() {
        // recipes.PerHeadTemperature lives in src/recipes/java, outside tinker's packages
        List<RunSpec> rs = runs("[ModelParams]\nn_heads = 2\nrecipes = [\"\", \"per_head_temperature(0.5, 2.0)\"]\n");
        assertEquals(List.of("", "per_head_temperature(0.5, 2.0)"), rs.stream().map(r -> r.mp().recipes()).toList());
        assertTrue(error("[ModelParams]\nrecipes = \"per_head_temperature(0.5)\"\n")
                .contains("recipes.PerHeadTemperature has no public constructor taking 1 number(s)"));
        // a class of the recipes package that is not a model recipe is named as such
        assertTrue(error("[TrainParams]\ncallbacks = \"per_head_temperature(0.5, 2.0)\"\n")
                .contains("recipes.PerHeadTemperature (for per_head_temperature) is not a TrainingCallback"));
    }

    @Test
    void savedParamsAreCheckedWhenReadBack() {
        // a run folder's train_params.json with a callback this build lacks fails at that file, not mid-run
        String json = Params.toJson(TrainParams.DEFAULTS.with("callbacks", "track_max_param(5)"));
        assertEquals("track_max_param(5)", ((TrainParams) Params.fromJson(Params.Section.TRAIN, json, "x.json")).callbacks());
        ConfigError e = assertThrows(ConfigError.class, () -> Params.fromJson(Params.Section.TRAIN,
                json.replace("track_max_param(5)", "track_min_param(5)"), "run/train_params.json"));
        assertTrue(e.getMessage().startsWith("run/train_params.json"), e.getMessage());
        assertTrue(e.getMessage().contains("unknown callback 'track_min_param'"), e.getMessage());
    }
}
