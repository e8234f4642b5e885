package org.tinker.tint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import org.junit.jupiter.api.Test;
import org.tinker.config.ConfigError;
import org.tinker.config.TintParams;

/** The TinT keys of an input.json go through the params machinery: typed, range-checked, a mistake named by file, line and key. */
class TintSettingsTest {
    @Test
    void fixtureKeysAreReadAndMistakesNamedByTheirLine() throws IOException {
        String json = Files.readString(TintFixtures.ROOT.resolve("default32/input.json"));
        TintParams p = TintSettings.fromJson(json, "default32/input.json");
        assertEquals(TintParams.Dtype.FLOAT32, p.dtype());
        assertEquals(TintParams.DEFAULTS.with("dtype", "float32"), p, "default32 gives the original's defaults, in float32");
        assertEquals("in.json:18: dtype=\"float16\" in [TintParams]: expected one of [float32, float64]", assertThrows(ConfigError.class,
                () -> TintSettings.fromJson(json.replace("\"float32\"", "\"float16\""), "in.json")).getMessage());
        assertEquals("in.json:12: n_forward_backward=0 in [TintParams]: expected a positive number of steps", assertThrows(ConfigError.class,
                () -> TintSettings.fromJson(json.replace("\"n_forward_backward\": 1", "\"n_forward_backward\": 0"), "in.json")).getMessage());
        assertTrue(assertThrows(ConfigError.class, () -> TintSettings.fromJson(json.replace("\"inner_lr\": 0.0001", "\"inner_lr\": \"fast\""), "in.json"))
                .getMessage().startsWith("in.json:10: inner_lr=\"fast\" in [TintParams]: expected a number"));
    }

    @Test
    void reuseSetsBothFlagsUnlessOneIsGiven() {
        TintParams off = TintSettings.fromJson("{\"reuse\": false}", "j");
        assertFalse(off.reuse_forward_blocks() || off.reuse_backward_blocks());
        TintParams mixed = TintSettings.fromJson("{\"reuse\": false, \"reuse_forward_blocks\": true}", "j");
        assertTrue(mixed.reuse_forward_blocks() && !mixed.reuse_backward_blocks());
        assertTrue(assertThrows(ConfigError.class, () -> TintSettings.fromJson("{\n\"reuse\": 1}", "j")).getMessage()
                .startsWith("j:2: reuse=1: expected true or false"));
    }
}
