package org.tinker;

import static com.tngtech.archunit.library.Architectures.layeredArchitecture;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/**
 * The packages form one-way layers, checked on the compiled classes (imports, inline names, calls, field types):
 *
 * <pre>
 *   engine   config                    tensors and file formats; typed params — neither names anything of the project
 *        data                          corpora, tokenizers, batches
 *        model                         the LM, its block, bodies, decoding
 *        gpt2                          Hugging Face GPT-2/OPT checkpoints in and out
 *        tint                          TinT, which simulates a (GPT-2) model inside its forward pass
 *        runs                          what a run leaves on disk: folders, checkpoints, train_stats, grid state
 *        search                        architecture search over a FlexiBERT design space (surrogate, rounds, its log)
 *   train   explore   track   search   the training loop; looking inside saved runs; W&amp;B; architecture search
 *        cli                           the runner's commands
 * </pre>
 *
 * A layer may use the layers below it and never one above or beside it: explore and track do not reach into the
 * trainer, so a saved run can be opened without it.
 */
class LayeringTest {
    static final JavaClasses CLASSES = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("org.tinker");

    @Test
    void packagesDependOnlyOnTheLayersBelowThem() {
        layeredArchitecture().consideringOnlyDependenciesInLayers()
                .layer("engine").definedBy("org.tinker.engine..")
                .layer("config").definedBy("org.tinker.config..")
                .layer("data").definedBy("org.tinker.data..")
                .layer("model").definedBy("org.tinker.model..")
                .layer("gpt2").definedBy("org.tinker.gpt2..")
                .layer("tint").definedBy("org.tinker.tint..")
                .layer("runs").definedBy("org.tinker.runs..")
                .layer("search").definedBy("org.tinker.search..")
                .layer("train").definedBy("org.tinker.train..")
                .layer("explore").definedBy("org.tinker.explore..")
                .layer("track").definedBy("org.tinker.track..")
                .layer("search").definedBy("org.tinker.search..")
                .layer("cli").definedBy("org.tinker.cli..")
                .whereLayer("engine").mayNotAccessAnyLayer()
                .whereLayer("config").mayNotAccessAnyLayer()
                .whereLayer("data").mayOnlyAccessLayers("engine", "config")
                .whereLayer("model").mayOnlyAccessLayers("engine", "config", "data")
                .whereLayer("gpt2").mayOnlyAccessLayers("engine", "config", "data", "model")
                .whereLayer("tint").mayOnlyAccessLayers("engine", "config", "data", "model", "gpt2")
                .whereLayer("runs").mayOnlyAccessLayers("engine", "config", "data", "model")
                .whereLayer("search").mayOnlyAccessLayers("engine", "config", "data", "model")
                .whereLayer("train").mayOnlyAccessLayers("engine", "config", "data", "model", "gpt2", "runs")
                .whereLayer("explore").mayOnlyAccessLayers("engine", "config", "data", "model", "gpt2", "runs")
                .whereLayer("track").mayOnlyAccessLayers("engine", "config", "data", "model", "runs")
                .whereLayer("search").mayOnlyAccessLayers("engine", "config", "data", "model")
                .whereLayer("cli").mayNotBeAccessedByAnyLayer()
                .check(CLASSES);
    }
}
