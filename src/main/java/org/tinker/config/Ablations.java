package org.tinker.config;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The one place where {@code --ablate} variants are defined. With --ablate, every grid point also runs
 * once per ablation below, with the ablation's values laid over its own. Add a line to add an ablation.
 */
public final class Ablations {
    private Ablations() {}

    /** An ablation: a name and the flattened params ({@code mp.x}) it overrides. */
    public record Ablation(String name, Map<String, Object> overrides) {}

    public static final List<Ablation> ALL = List.of(
            new Ablation("no-positions", Map.of("mp.pos_encoding", "none")),
            new Ablation("pre-norm", Map.of("mp.norm_first", Boolean.TRUE)),
            new Ablation("tied-head", Map.of("mp.tie_embed_deembed", Boolean.TRUE)));

    public static Map<String, Object> asMap(Ablation a) {
        return new LinkedHashMap<>(a.overrides());
    }
}
