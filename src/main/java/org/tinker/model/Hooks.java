package org.tinker.model;

import ai.djl.ndarray.NDArray;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.tinker.config.ModelParams;

/**
 * Interventions at named points of the model's computation, in the style of TransformerLens. Every GPT block stack has
 * them (both layer architectures, every path: training, evaluation, cached decoding, the stepwise runner).
 *
 * <p>Hook points: {@code embed} [B,T,D] (token embedding plus positions, the input of block 0), then per block {@code l}:
 * <pre>
 *   blocks.l.resid_pre     [B,T,D]   the block's input
 *   blocks.l.attn.scores   [B,H,T,T] q·kᵀ/√d_head, before the causal mask and softmax
 *   blocks.l.attn.pattern  [B,H,T,T] after softmax (before attention dropout)
 *   blocks.l.attn.out      [B,T,D]   attention output after c_proj (before dropout and the residual add)
 *   blocks.l.resid_mid     [B,T,D]   the residual stream between attention and MLP
 *   blocks.l.mlp.out       [B,T,D]   MLP output (before dropout and the residual add)
 *   blocks.l.resid_post    [B,T,D]   the block's output
 * </pre>
 * and {@code ln_f.out} [B,T,D] after the final LayerNorm (when the model has one).
 *
 * <p>A name may use {@code *} for the layer index ({@code blocks.*.attn.scores}). Several hooks on one point
 * run in the order they were added, each seeing the previous one's result. A hook returns the tensor to
 * carry on with: the value unchanged to just look, or a replacement to intervene. Whatever it creates
 * should be created from {@code value} (e.g. {@code Ops.mul(value, 2)}; not {@code value.mul(2)}, see {@link org.tinker.engine.Ops#mul}) so it lives in the forward pass's scope.
 */
public final class Hooks {

    /** One intervention. */
    @FunctionalInterface
    public interface Hook {
        NDArray apply(String name, NDArray value, HookContext ctx);
    }

    private record Entry(String spec, Pattern pattern, Hook hook) {}

    private final List<Entry> entries = new ArrayList<>();
    /** The hook-point list these hooks last passed {@link #checkAgainst}; cleared when a hook is added. */
    private List<String> checkedAgainst;
    /** name → hooks matching it, filled lazily so the forward pass pays one map lookup per hook point. */
    private final Map<String, List<Hook>> resolved = new LinkedHashMap<>();

    public Hooks() {}

    /** Adds {@code hook} at {@code name} (which may contain {@code *} for a layer index); returns this. */
    public synchronized Hooks add(String name, Hook hook) {
        String regex = Pattern.quote(name).replace("*", "\\E[0-9]+\\Q");
        entries.add(new Entry(name, Pattern.compile(regex), hook));
        resolved.clear();
        checkedAgainst = null;
        return this;
    }

    public synchronized boolean isEmpty() {
        return entries.isEmpty();
    }

    /** The names (patterns) hooks were added under, in order. */
    public synchronized List<String> names() {
        return entries.stream().map(Entry::spec).toList();
    }

    /** True when some hook would run at {@code name}. */
    public boolean has(String name) {
        return !matching(name).isEmpty();
    }

    /** Runs every hook registered for {@code name} on {@code value}, returning the final replacement. */
    public NDArray run(String name, NDArray value, HookContext ctx) {
        for (Hook h : matching(name)) {
            value = h.apply(name, value, ctx);
            if (value == null) throw new IllegalStateException("hook at '" + name + "' returned null");
        }
        return value;
    }

    private synchronized List<Hook> matching(String name) {
        return resolved.computeIfAbsent(name, n -> entries.stream()
                .filter(e -> e.pattern().matcher(n).matches()).map(Entry::hook).toList());
    }

    /** Checks every added name against the points a model offers, so a typo fails loudly. */
    synchronized void checkAgainst(List<String> points) {
        if (checkedAgainst == points) return; // the same model's list again (every pass of a training run): done once
        for (Entry e : entries) {
            if (points.stream().noneMatch(p -> e.pattern().matcher(p).matches()))
                throw new IllegalArgumentException("no hook point matches '" + e.spec() + "'; this model has e.g. "
                        + points.subList(0, Math.min(points.size(), 8)) + " … (" + points.size() + " in all)");
        }
        checkedAgainst = points;
    }

    /** Hooks of {@code first}, then those of {@code then} (either may be null); null when there are none. */
    public static Hooks both(Hooks first, Hooks then) {
        if (first == null || first.isEmpty()) return then == null || then.isEmpty() ? null : then;
        if (then == null || then.isEmpty()) return first;
        Hooks out = new Hooks();
        synchronized (first) {
            out.entries.addAll(first.entries);
        }
        synchronized (then) {
            out.entries.addAll(then.entries);
        }
        return out;
    }

    /** Every hook point of a GPT block stack with these params, in the order a pass reaches them. */
    public static List<String> points(ModelParams mp) {
        List<String> out = new ArrayList<>(List.of(EMBED));
        for (int l = 0; l < mp.n_layers(); l++)
            out.addAll(List.of(residPre(l), attnScores(l), attnPattern(l), attnOut(l), residMid(l), mlpOut(l), residPost(l)));
        if (mp.final_norm()) out.add(LN_F_OUT);
        return out;
    }

    /** Hook-point names, so callers needn't spell strings. */
    public static final String EMBED = "embed";
    public static String residPre(int layer) { return "blocks." + layer + ".resid_pre"; }
    public static String attnScores(int layer) { return "blocks." + layer + ".attn.scores"; }
    public static String attnPattern(int layer) { return "blocks." + layer + ".attn.pattern"; }
    public static String attnOut(int layer) { return "blocks." + layer + ".attn.out"; }
    public static String residMid(int layer) { return "blocks." + layer + ".resid_mid"; }
    public static String mlpOut(int layer) { return "blocks." + layer + ".mlp.out"; }
    public static String residPost(int layer) { return "blocks." + layer + ".resid_post"; }
    public static final String LN_F_OUT = "ln_f.out";
}
