package org.tinker.config;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading config files: the grammar, the grid, and every class of user mistake. */
class ConfigFileTest {

    static List<RunSpec> runs(String text) {
        return Grid.expand(List.of(ConfigFile.parse("configs/x.txt", text)), List.of(), null, false);
    }

    static String error(String text) {
        return assertThrows(ConfigError.class, () -> runs(text)).getMessage();
    }

    @Test
    void readsAllValueKindsIntoTypedRecords() {
        RunSpec r = runs("""
                [DataParams]
                dataset_name = "copy"   # a comment
                debug_crop = None
                [TrainParams]
                lr = 3e-4
                val_check_epoch_frac = 1.0
                no_wandb = True
                [ModelParams]
                dim = 64
                n_heads = 4
                tokenizer_source_name = 'char'
                """).get(0);
        assertEquals("copy", r.dp().dataset_name());
        assertNull(r.dp().debug_crop());
        assertEquals(3e-4, r.tp().lr());
        assertEquals(1.0, r.tp().val_check_epoch_frac());
        assertTrue(r.tp().no_wandb());
        assertEquals(64, r.mp().dim());
        assertEquals("char", r.mp().tokenizer_source_name().spelling());
        assertEquals(ModelParams.DEFAULTS.n_layers(), r.mp().n_layers(), "unset keys keep their defaults");
    }

    @Test
    void acceptsTheReferencesBareSectionLines() {
        RunSpec r = runs("DataParams\ndataset_name=\"ptb\"\ndebug_crop=100\nTrainParams\nepochs=5\nModelParams\nn_layers=1\nn_heads=1\ndim=123\n").get(0);
        assertEquals(100, r.dp().debug_crop());
        assertEquals(5, r.tp().epochs());
        assertEquals(123, r.mp().dim());
    }

    @Test
    void intValueOfValCheckStaysAnInteger() {
        assertEquals(20, runs("[TrainParams]\nval_check_epoch_frac=20\n").get(0).tp().val_check_epoch_frac());
    }

    @Test
    void everySectionsListsExpandIntoOrderedCartesianProduct() {
        List<RunSpec> rs = runs("""
                [DataParams]
                dataset_name = ["copy", "sort"]
                [TrainParams]
                lr = [0.001, 0.003]
                [ModelParams]
                dim = [128, 256]
                n_heads = 4
                """);
        assertEquals(8, rs.size());
        assertEquals("run 1/8 [configs/x.txt]: dataset_name=copy lr=0.001 dim=128", rs.get(0).header());
        assertEquals("dataset_name=copy lr=0.001 dim=256", rs.get(1).describe(), "last axis varies fastest");
        assertEquals("dataset_name=sort lr=0.003 dim=256", rs.get(7).describe());
        for (int i = 0; i < 8; i++) assertEquals(i + 1, rs.get(i).index());
    }

    @Test
    void tuplesAreOneValueNotAnAxis() {
        assertEquals(List.of(1L, 2L), ((PyLiteral.Tuple) PyLiteral.parse("(1, 2)")).items());
        assertEquals(1, runs("[TrainParams]\nlr=0.1\n").size());
    }

    @Test
    void setOverridesJoinTheGridAndTaskOverridesDataset() {
        ConfigFile f = ConfigFile.parse("configs/x.txt", "[ModelParams]\ndim=64\nn_heads=4\n");
        List<RunSpec> rs = Grid.expand(List.of(f),
                List.of(Grid.Override.parse("mp.dim=32"), Grid.Override.parse("tp.lr=[0.001,0.003]"),
                        Grid.Override.parse("DataParams.lines_per_sample=2")), "wikitext-2", false);
        assertEquals(2, rs.size());
        assertEquals(32, rs.get(0).mp().dim());
        assertEquals(0.003, rs.get(1).tp().lr());
        assertEquals(2, rs.get(1).dp().lines_per_sample());
        assertEquals("wikitext-2", rs.get(0).dp().dataset_name());
    }

    @Test
    void ablateAddsEachAblationPerGridPoint() {
        List<RunSpec> rs = Grid.expand(List.of(ConfigFile.parse("c", "[ModelParams]\ndim=[32,64]\nn_heads=4\n")),
                List.of(), null, true);
        // at the defaults only no-positions, pre-norm, tied-head and gelu-mlp change something (no recipe is on to switch off)
        assertEquals(2 * 5, rs.size());
        assertNull(rs.get(0).ablation());
        assertEquals("no-positions", rs.get(1).ablation());
        assertEquals("none", rs.get(1).mp().pos_encoding().spelling());
        assertEquals(32, rs.get(1).mp().dim());
        assertEquals(List.of("no-positions", "pre-norm", "tied-head", "gelu-mlp"),
                rs.subList(1, 5).stream().map(RunSpec::ablation).toList());
        assertEquals(rs.size(), Grid.count(List.of(ConfigFile.parse("c", "[ModelParams]\ndim=[32,64]\nn_heads=4\n")), List.of(), true));
    }

    @Test
    void ablateSwitchesEachRecipeOffAndSkipsWhatTheConfigAlreadyHas() {
        String modern = "[TrainParams]\noptimizer = \"muon\"\nrandom_seed = [0, 1]\n[ModelParams]\nn_heads=4\nnorm_first = True\n"
                + "activation = \"relu2\"\nqk_norm = True\nzero_init_proj = True\nlogit_softcap = 30\nunet_skips = True\n";
        List<RunSpec> rs = Grid.expand(List.of(ConfigFile.parse("m", modern)), List.of(), null, true);
        List<String> names = rs.subList(0, rs.size() / 2).stream().map(r -> String.valueOf(r.ablation())).toList();
        assertEquals(List.of("null", "no-positions", "tied-head", "adamw", "no-qk-norm", "gelu-mlp", "no-zero-init", "no-softcap",
                "no-unet-skips"), names, "pre-norm is left out: the config is pre-norm already");
        assertEquals(TrainParams.Optimizer.ADAMW, rs.get(3).tp().optimizer());
        assertEquals(0.0, rs.get(7).mp().logit_softcap());
        assertTrue(rs.get(7).mp().unet_skips(), "an ablation changes only its own values");
        assertEquals(rs.size(), Grid.count(List.of(ConfigFile.parse("m", modern)), List.of(), true));
    }

    @Test
    void unknownKeySuggestsTheClosestName() {
        assertEquals("configs/x.txt:3: unknown key 'dimm' in [ModelParams] (did you mean 'dim'?)",
                error("[ModelParams]\nn_heads=1\ndimm = 5\n"));
    }

    @Test
    void keyInTheWrongSectionSaysWhereItBelongs() {
        assertEquals("configs/x.txt:2: unknown key 'lr' in [ModelParams] (it belongs in [TrainParams])",
                error("[ModelParams]\nlr = 0.1\n"));
    }

    @Test
    void tintSettingsAreNotPartOfATrainingConfig() {
        // runner tint's own section: not in a config file, not in a training --set, nor named as where a key belongs
        assertEquals("configs/x.txt:3: [TintParams] is not part of a training config (runner tint reads it from its flags and --set tint.KEY=VALUE)",
                error("[ModelParams]\ndim=4\n[TintParams]\ninner_lr = 1e-3\n"));
        Grid.Override o = Grid.Override.parse("tint.inner_lr=1e-3");
        assertEquals(Params.Section.TINT, o.section());
        assertTrue(assertThrows(ConfigError.class, () -> Grid.expand(List.of(ConfigFile.parse("x", "[ModelParams]\n")), List.of(o), null, false))
                .getMessage().startsWith("--set tint.inner_lr=1e-3: [TintParams] is not a training setting"));
        assertEquals("configs/x.txt:2: unknown key 'epsilon' in [ModelParams]", error("[ModelParams]\nepsilon = 1e-5\n"));
    }

    @Test
    void unknownSection() {
        assertTrue(error("[ModelParam]\ndim=4\n").startsWith("configs/x.txt:1: unknown section 'ModelParam'"));
    }

    @Test
    void keyBeforeSection() {
        assertTrue(error("dim=4\n").startsWith("configs/x.txt:1: key 'dim' comes before any section header"));
    }

    @Test
    void wrongType() {
        assertEquals("configs/x.txt:2: n_layers=\"two\" in [ModelParams]: expected an integer",
                error("[ModelParams]\nn_layers = \"two\"\n"));
        assertEquals("configs/x.txt:2: no_wandb=1 in [TrainParams]: expected True or False",
                error("[TrainParams]\nno_wandb = 1\n"));
    }

    @Test
    void unquotedStringAndLowercaseBooleans() {
        assertTrue(error("[DataParams]\ndataset_name = ptb\n").contains("strings need quotes"));
        assertTrue(error("[TrainParams]\nno_wandb = true\n").contains("True or False"));
    }

    @Test
    void duplicateKey() {
        assertEquals("configs/x.txt:3: duplicate key 'dim' in [ModelParams] (first set on line 2)",
                error("[ModelParams]\ndim=4\ndim=8\n"));
    }

    @Test
    void malformedList() {
        assertTrue(error("[ModelParams]\ndim=[4, 8\n").startsWith("configs/x.txt:2: dim in [ModelParams]: malformed list"));
        assertTrue(error("[ModelParams]\ndim=[4 8]\n").contains("malformed list"));
    }

    @Test
    void twoEqualsSigns() {
        assertTrue(error("[ModelParams]\ndim=4=5\n").contains("one 'key = value' per line"));
    }

    @Test
    void outOfRangeValues() {
        assertEquals("configs/x.txt:3: dim=123 in [ModelParams]: expected a multiple of n_heads=8",
                error("[ModelParams]\nn_heads=8\ndim=123\n"));
        assertEquals("configs/x.txt:2: lr=-0.1 in [TrainParams]: expected a positive learning rate",
                error("[TrainParams]\nlr=-0.1\n"));
        assertTrue(error("[TrainParams]\nlr_scheduler_type=\"cosine\"\n").contains("expected one of [Cosine"));
        assertTrue(error("[ModelParams]\nlayer_architecture=\"rnn\"\n").contains("layer_architecture"));
        assertTrue(error("[TrainParams]\ndropout=1.5\n").contains("a probability"));
    }

    @Test
    void outOfRangeValueInsideAGridNamesTheLineOfTheList() {
        assertTrue(error("[ModelParams]\nn_heads=4\ndim=[64, 66]\n").startsWith("configs/x.txt:3: dim=66"));
    }

    @Test
    void badSetFlag() {
        assertTrue(assertThrows(ConfigError.class, () -> Grid.Override.parse("mp.dimm=3")).getMessage()
                .startsWith("--set mp.dimm=3: unknown key 'dimm' in [ModelParams] (did you mean 'dim'?)"));
        assertTrue(assertThrows(ConfigError.class, () -> Grid.Override.parse("xx.dim=3")).getMessage().contains("unknown section"));
        assertTrue(assertThrows(ConfigError.class, () -> Grid.Override.parse("dim=3")).getMessage().contains("section.key=value"));
    }

    @Test
    void configNameRunsAlsoEveryDashFileSorted(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("exp.txt"), "[ModelParams]\ndim=8\nn_heads=1\n");
        Files.writeString(dir.resolve("exp-b.txt"), "[ModelParams]\ndim=[8,16]\nn_heads=1\n");
        Files.writeString(dir.resolve("exp-a.txt"), "[ModelParams]\ndim=24\nn_heads=1\n");
        Files.writeString(dir.resolve("expx.txt"), "[ModelParams]\ndim=32\nn_heads=1\n");
        List<RunSpec> rs = Grid.expand(Grid.filesFor(dir, "exp"), List.of(), null, false);
        assertEquals(List.of("exp", "exp-a", "exp-b", "exp-b"), rs.stream().map(RunSpec::configName).toList());
        assertEquals(List.of(8, 24, 8, 16), rs.stream().map(r -> r.mp().dim()).toList());
        assertTrue(assertThrows(ConfigError.class, () -> Grid.filesFor(dir, "nope")).getMessage().contains("nope.txt: no such config"));
    }

    @Test
    void paramsRoundTripThroughJson() {
        RunSpec r = runs("[TrainParams]\nval_check_epoch_frac=20\n[DataParams]\ndebug_crop=None\n").get(0);
        for (Params.Section s : Params.Section.ofRun()) {
            Record rec = s == Params.Section.DATA ? r.dp() : s == Params.Section.TRAIN ? r.tp() : r.mp();
            assertEquals(rec, Params.fromJson(s, Params.toJson(rec), "x.json"));
        }
        TintParams t = TintParams.DEFAULTS.with("dtype", "float32").with("inner_lr", 1e-3);
        assertEquals(t, Params.fromJson(Params.Section.TINT, Params.toJson(t), "tint.json"));
        // saved params are pretty-printed, one key a line: a bad value is named by its line
        String bad = Params.toJson(t).replace("\"n_forward_backward\": 1", "\"n_forward_backward\": 0");
        assertEquals("tint.json:3: n_forward_backward=0 in [TintParams]: expected a positive number of steps",
                assertThrows(ConfigError.class, () -> Params.fromJson(Params.Section.TINT, bad, "tint.json")).getMessage());
    }

    @Test
    void flattenedConfigUsesSectionPrefixes() {
        var flat = runs("[ModelParams]\ndim=64\nn_heads=4\n").get(0).flat();
        assertEquals(64, flat.get("mp.dim"));
        assertTrue(flat.containsKey("dp.dataset_name") && flat.containsKey("tp.lr"));
    }
}
