package org.tinker.train;

import static org.junit.jupiter.api.Assertions.*;

import ai.djl.ndarray.NDManager;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tinker.config.ConfigError;
import org.tinker.config.ModelParams;
import org.tinker.model.LM;

/** The parameter estimate behind the too-large-model refusal: exact for the GPT layouts, and never overflowing. */
class ModelBudgetTest {
    @Test
    void estimateIsTheExactCountOfTheGptLayouts() {
        ModelParams base = ModelParams.DEFAULTS.with("n_layers", 2).with("n_heads", 2).with("dim", 16)
                .with("max_seq_len", 12).with("tokenizer_source_name", "char").with("custom_tokenizer_ntokens", 100);
        List<ModelParams> variants = List.of(base, base.with("tie_embed_deembed", true), base.with("activation", "swiglu"),
                base.with("norm", "rmsnorm"), base.with("final_norm", false), base.with("pos_encoding", "rotary"),
                base.with("layer_architecture", "custom-transformer").with("individual_head_params", true));
        try (NDManager m = NDManager.newBaseManager()) {
            for (ModelParams mp : variants)
                try (LM lm = new LM(mp, 37, m, 1)) {
                    assertEquals(lm.numParameters(), ModelBudget.parameters(mp, 37), 0.0, mp.toString());
                }
        }
    }

    @Test
    void absurdSizesAreEstimatedWithoutOverflowAndRefused() {
        ModelParams wide = ModelParams.DEFAULTS.with("dim", 1_000_000_000);
        assertTrue(ModelBudget.parameters(wide, 0) > 1e18, "8 x dim^2 per layer, in doubles");
        var spec = TestRuns.spec("[ModelParams]\ndim = 1e9\n");
        ConfigError e = assertThrows(ConfigError.class, () -> ModelBudget.check(spec, 0, 1));
        assertTrue(e.getMessage().startsWith("test.txt: model too large to train here: about 6.4e+19 parameters (n_layers=8, dim=1000000000"),
                e.getMessage());
        ModelBudget.check(TestRuns.spec(TestRuns.PTB_TINY), 10_000, 32); // a tiny model passes
    }
}
