package org.tinker.track;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tinker.config.ConfigError;
import org.tinker.config.RunSpec;
import org.tinker.runs.StatsListener;
import org.tinker.train.TestRuns;

/** Settings as the official client resolves them: env first, then netrc for the base URL's host. */
class WandbSettingsTest {
    @Test
    void apiKeyFromEnvBeatsNetrcAndNetrcMatchesHostAndPort(@TempDir Path home) throws Exception {
        Files.writeString(home.resolve(".netrc"), """
                machine api.wandb.ai
                  login user
                  password netrc-cloud-key
                # a local server
                machine 127.0.0.1:8080 login user password "local key"
                default login x password default-key
                """);
        Map<String, String> env = new HashMap<>();
        assertEquals("netrc-cloud-key", WandbSettings.fromEnv(env, home).apiKey());
        env.put("WANDB_BASE_URL", "http://127.0.0.1:8080/");
        WandbSettings local = WandbSettings.fromEnv(env, home);
        assertEquals("http://127.0.0.1:8080", local.baseUrl());
        assertEquals("local key", local.apiKey());
        env.put("WANDB_BASE_URL", "http://127.0.0.1:9999");
        assertEquals("default-key", WandbSettings.fromEnv(env, home).apiKey(), "no machine entry: the default one");
        env.put("WANDB_API_KEY", "env-key");
        assertEquals("env-key", WandbSettings.fromEnv(env, home).apiKey(), "WANDB_API_KEY comes first");
        // $NETRC names another file
        Path other = home.resolve("other-netrc");
        Files.writeString(other, "machine api.wandb.ai login user password other-key\n");
        Map<String, String> env2 = new HashMap<>(Map.of("NETRC", other.toString()));
        assertEquals("other-key", WandbSettings.fromEnv(env2, home).apiKey());
    }

    @Test
    void onlineWithoutKeyGoesOfflineWithAHint(@TempDir Path home) {
        WandbSettings s = WandbSettings.fromEnv(Map.of(), home);
        assertEquals(WandbSettings.Mode.OFFLINE, s.mode());
        assertTrue(s.keyMissing());
        assertTrue(s.missingKeyHint().contains("WANDB_API_KEY"));
        assertTrue(s.missingKeyHint().contains("machine api.wandb.ai"));
        assertTrue(s.missingKeyHint().contains("WANDB_MODE=offline"));
        WandbSettings off = WandbSettings.fromEnv(Map.of("WANDB_MODE", "offline"), home);
        assertEquals(WandbSettings.Mode.OFFLINE, off.mode());
        assertFalse(off.keyMissing(), "offline asked for: no hint");
    }

    @Test
    void everyDocumentedVariable(@TempDir Path home) {
        WandbSettings s = WandbSettings.fromEnv(Map.ofEntries(Map.entry("WANDB_API_KEY", "k"), Map.entry("WANDB_ENTITY", "team"),
                Map.entry("WANDB_PROJECT", "proj"), Map.entry("WANDB_MODE", "dryrun"), Map.entry("WANDB_DIR", "/tmp/x"),
                Map.entry("WANDB_RUN_ID", "abc123"), Map.entry("WANDB_RESUME", "must"), Map.entry("WANDB_NAME", "my run"),
                Map.entry("WANDB_NOTES", "n"), Map.entry("WANDB_TAGS", "a, b,,c"), Map.entry("WANDB_RUN_GROUP", "g")), home);
        assertEquals(WandbSettings.Mode.OFFLINE, s.mode());
        assertEquals("team", s.entity());
        assertEquals("proj", s.project());
        assertEquals(Path.of("/tmp/x"), s.dir());
        assertEquals("abc123", s.runId());
        assertEquals("must", s.resume());
        assertEquals("my run", s.name());
        assertEquals("n", s.notes());
        assertEquals(List.of("a", "b", "c"), s.tags());
        assertEquals("g", s.group());
        assertEquals(WandbSettings.Mode.DISABLED, WandbSettings.fromEnv(Map.of("WANDB_MODE", "disabled"), home).mode());
        assertEquals(WandbSettings.Mode.ONLINE, WandbSettings.fromEnv(Map.of("WANDB_MODE", "run", "WANDB_API_KEY", "k"), home).mode());
        assertThrows(ConfigError.class, () -> WandbSettings.fromEnv(Map.of("WANDB_MODE", "sometimes"), home));
        assertThrows(ConfigError.class, () -> WandbSettings.fromEnv(Map.of("WANDB_RESUME", "maybe"), home));
        assertThrows(ConfigError.class, () -> WandbSettings.fromEnv(Map.of("WANDB_RUN_ID", "a/b"), home));
        // the end of a run keeps retrying for WANDB_FINISH_TIMEOUT seconds; unset, the run's wandb_finish_timeout_s decides
        // (WandbListener), and anything else (wandb-sync) waits 10 minutes
        assertNull(s.timing().finishWait());
        assertEquals(Duration.ofMinutes(10), s.timing().finishWaitOrDefault());
        assertEquals(Duration.ofMillis(90_500),
                WandbSettings.fromEnv(Map.of("WANDB_FINISH_TIMEOUT", "90.5"), home).timing().finishWait());
        assertThrows(ConfigError.class, () -> WandbSettings.fromEnv(Map.of("WANDB_FINISH_TIMEOUT", "soon"), home));
    }

    @Test
    void aRunsFinishWaitIsItsConfigsUnlessWandbFinishTimeoutIsSet(@TempDir Path dir) {
        RunSpec spec = TestRuns.spec(TestRuns.set(TestRuns.PTB_TINY, "wandb_finish_timeout_s", "42.5"));
        for (String env : new String[] {null, "7"}) {
            Map<String, String> vars = new HashMap<>(Map.of("WANDB_MODE", "offline", "WANDB_DIR", dir.toString()));
            if (env != null) vars.put("WANDB_FINISH_TIMEOUT", env);
            WandbListener l = new WandbListener(WandbSettings.fromEnv(vars, dir), null, WandbProtocolTest.out());
            l.onStart(new StatsListener.RunStart(spec, dir.resolve("run"), false, -1, null));
            assertEquals(env == null ? Duration.ofMillis(42_500) : Duration.ofSeconds(7), l.current().finishWait());
            l.onEnd(null);
        }
    }

    @Test
    void runPageUrls(@TempDir Path home) {
        assertEquals("https://wandb.ai/e/p/runs/r", WandbSettings.fromEnv(Map.of(), home).runUrl("e", "p", "r"));
        assertEquals("http://127.0.0.1:8080/e/p/runs/r",
                WandbSettings.fromEnv(Map.of("WANDB_BASE_URL", "http://127.0.0.1:8080"), home).runUrl("e", "p", "r"));
    }
}
