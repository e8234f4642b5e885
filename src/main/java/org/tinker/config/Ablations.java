package org.tinker.config;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The one place where {@code --ablate} variants are defined. With --ablate, every grid point also runs
 * once per ablation below, with the ablation's values laid over its own. Add a line to add an ablation.
 * An ablation that would change nothing in a config (its values are the config's already, e.g. {@code adamw} on a
 * config that never named Muon) is left out for that config's points: each of today's recipes can switch itself off
 * here without adding a duplicate run to every older config.
 */
public final class Ablations {
    private Ablations() {}

    /** An ablation: a name and the flattened params ({@code mp.x}) it overrides. */
    public record Ablation(String name, Map<String, Object> overrides) {}

    public static final List<Ablation> ALL = List.of(
            new Ablation("no-positions", Map.of("mp.pos_encoding", "none")),
            new Ablation("pre-norm", Map.of("mp.norm_first", Boolean.TRUE)),
            new Ablation("tied-head", Map.of("mp.tie_embed_deembed", Boolean.TRUE)),
            // today's recipes (configs/shakespeare-char-modern.txt), each switched off
            new Ablation("adamw", Map.of("tp.optimizer", "adamw")),
            new Ablation("no-qk-norm", Map.of("mp.qk_norm", Boolean.FALSE)),
            new Ablation("gelu-mlp", Map.of("mp.activation", "gelu")),
            new Ablation("no-zero-init", Map.of("mp.zero_init_proj", Boolean.FALSE)),
            new Ablation("no-softcap", Map.of("mp.logit_softcap", 0.0)),
            new Ablation("no-unet-skips", Map.of("mp.unet_skips", Boolean.FALSE)));

    /**
     * Whether {@code a} changes a config whose given values (section → key → value) are these: some value it sets differs
     * from the config's (or, where the config does not set it, from the default), or the config varies it (a list).
     */
    static boolean changes(Ablation a, Map<Params.Section, ? extends Map<String, Params.Located>> given) {
        for (Map.Entry<String, Object> e : a.overrides().entrySet()) {
            Params.Section s = Params.Section.named(e.getKey().substring(0, e.getKey().indexOf('.')));
            String key = e.getKey().substring(e.getKey().indexOf('.') + 1);
            Params.Located l = given.get(s).get(key);
            Object current = l != null ? l.value() : Params.toMap(s.defaults).get(key);
            if (current instanceof List<?> || !same(current, e.getValue())) return true;
        }
        return false;
    }

    private static boolean same(Object a, Object b) {
        if (a instanceof Number x && b instanceof Number y) return x.doubleValue() == y.doubleValue();
        return java.util.Objects.equals(a, b);
    }

    public static Map<String, Object> asMap(Ablation a) {
        return new LinkedHashMap<>(a.overrides());
    }
}
