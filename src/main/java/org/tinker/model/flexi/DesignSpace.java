package org.tinker.model.flexi;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.tinker.config.PyLiteral;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * A FlexiBERT design space (the reference's {@code design_space/*.yaml} fields) expanded into model dicts:
 * <pre>
 *   architecture:
 *     encoder_layers: [2, 4]
 *     hidden_size: [128, 256]
 *     num_heads: [2, 4]
 *     operation_types: [sa, l, c]
 *     operation_parameters: {sa: [sdp, wma], l: [dft, dct], c: [5, 9]}
 *     number_of_feed-forward_stacks: [1, 3]
 *     feed-forward_hidden: [512, 1024]
 * </pre>
 * As in the reference's graph library, layers come in stacks of {@code layersPerStack} identical layers; every stack
 * independently picks a width, a head count, an operation with its parameter, and a feed-forward stack of
 * {@code nff} layers of one hidden size. Other top-level keys (the reference's {@code datasets}) are ignored.
 */
public final class DesignSpace {
    private final List<Integer> layers, hidden, heads, nff, ffHidden;
    private final List<String[]> ops; // {op, param}

    private DesignSpace(List<Integer> layers, List<Integer> hidden, List<Integer> heads, List<String[]> ops, List<Integer> nff,
                        List<Integer> ffHidden) {
        this.layers = layers;
        this.hidden = hidden;
        this.heads = heads;
        this.ops = ops;
        this.nff = nff;
        this.ffHidden = ffHidden;
    }

    @SuppressWarnings("unchecked")
    public static DesignSpace parse(String yamlText, String where) {
        Object root;
        try {
            root = new Yaml(new SafeConstructor(new LoaderOptions())).load(yamlText);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(where + ": not valid YAML: " + e.getMessage());
        }
        if (!(root instanceof Map<?, ?> top) || !(top.get("architecture") instanceof Map<?, ?> arch))
            throw new IllegalArgumentException(where + ": expected a mapping with an 'architecture' section");
        Map<String, Object> a = (Map<String, Object>) arch;
        List<Integer> layers = ints(a, "encoder_layers", where), hidden = ints(a, "hidden_size", where),
                heads = ints(a, "num_heads", where), nff = ints(a, "number_of_feed-forward_stacks", where),
                ff = ints(a, "feed-forward_hidden", where);
        List<String[]> ops = new ArrayList<>();
        Object types = a.get("operation_types");
        if (!(types instanceof List<?> tl) || tl.isEmpty()) throw new IllegalArgumentException(where + ": architecture.operation_types must be a non-empty list");
        if (!(a.get("operation_parameters") instanceof Map<?, ?> params))
            throw new IllegalArgumentException(where + ": architecture.operation_parameters must map each operation type to its parameters");
        for (Object t : tl) {
            String op = String.valueOf(t);
            if (!(params.get(op) instanceof List<?> pl) || pl.isEmpty())
                throw new IllegalArgumentException(where + ": operation_parameters has no list for '" + op + "'");
            for (Object p : pl) ops.add(new String[] {op, String.valueOf(p)});
        }
        return new DesignSpace(layers, hidden, heads, ops, nff, ff);
    }

    private static List<Integer> ints(Map<String, Object> a, String key, String where) {
        Object v = a.get(key);
        List<?> l = v instanceof List<?> x ? x : v == null ? null : List.of(v);
        if (l == null || l.isEmpty()) throw new IllegalArgumentException(where + ": architecture." + key + " is missing");
        List<Integer> out = new ArrayList<>();
        for (Object o : l) {
            if (!(o instanceof Integer i) || i < 1) throw new IllegalArgumentException(where + ": architecture." + key + " takes positive integers, got " + o);
            out.add(i);
        }
        return out;
    }

    /** Choices for one stack. */
    private record Stack(int h, int n, String[] op, int nff, int ff) {}

    private List<Stack> stackChoices() {
        List<Stack> out = new ArrayList<>();
        for (int h : hidden)
            for (int n : heads)
                for (String[] op : ops)
                    for (int k : nff)
                        for (int f : ffHidden)
                            if (h % n == 0 || op[0].equals("l")) out.add(new Stack(h, n, op, k, f));
        return out;
    }

    /** How many model dicts the space holds (with stacks of {@code layersPerStack} layers). */
    public long size(int layersPerStack) {
        long per = stackChoices().size(), total = 0;
        for (int l : layers) if (l % layersPerStack == 0) total += (long) Math.pow(per, l / layersPerStack);
        return total;
    }

    /**
     * Every model dict of the space, or {@code sample} of them drawn without replacement with {@code seed}
     * (sample ≤ 0: all; refuses more than 10,000).
     */
    public List<String> modelDicts(int layersPerStack, int sample, long seed) {
        if (layersPerStack < 1) throw new IllegalArgumentException("layers per stack must be >= 1");
        List<Stack> choices = stackChoices();
        long size = size(layersPerStack);
        if (size == 0) throw new IllegalArgumentException("no encoder_layers value is a multiple of " + layersPerStack + " layers per stack");
        List<long[]> picks = new ArrayList<>(); // {layers, index}
        if (sample <= 0 || sample >= size) {
            if (size > 10_000) throw new IllegalArgumentException("the space holds " + size + " models; draw a sample");
            for (int l : layers) if (l % layersPerStack == 0)
                for (long i = 0; i < (long) Math.pow(choices.size(), l / layersPerStack); i++) picks.add(new long[] {l, i});
        } else {
            Random r = new Random(seed);
            java.util.Set<String> seen = new java.util.HashSet<>();
            List<Integer> ls = layers.stream().filter(l -> l % layersPerStack == 0).toList();
            while (picks.size() < sample) {
                int l = ls.get(r.nextInt(ls.size()));
                long count = (long) Math.pow(choices.size(), l / layersPerStack);
                long i = Math.floorMod(r.nextLong(), count);
                if (seen.add(l + ":" + i)) picks.add(new long[] {l, i});
            }
        }
        List<String> out = new ArrayList<>();
        for (long[] p : picks) out.add(dict((int) p[0], p[1], layersPerStack, choices));
        return Collections.unmodifiableList(out);
    }

    private static String dict(int l, long index, int perStack, List<Stack> choices) {
        List<Stack> perLayer = new ArrayList<>();
        long rest = index;
        for (int s = 0; s < l / perStack; s++) {
            Stack st = choices.get((int) (rest % choices.size()));
            rest /= choices.size();
            for (int k = 0; k < perStack; k++) perLayer.add(st);
        }
        return dict(perLayer);
    }

    /** The model dict of these layers, one stack choice per layer. */
    private static String dict(List<Stack> perLayer) {
        List<String> o = new ArrayList<>(), h = new ArrayList<>(), n = new ArrayList<>(), f = new ArrayList<>(), p = new ArrayList<>();
        for (Stack st : perLayer) {
            o.add("'" + st.op()[0] + "'");
            h.add(String.valueOf(st.h()));
            n.add(String.valueOf(st.n()));
            f.add("[" + String.join(", ", Collections.nCopies(st.nff(), String.valueOf(st.ff()))) + "]");
            p.add(st.op()[1].matches("\\d+") ? st.op()[1] : "'" + st.op()[1] + "'");
        }
        return "{'l': " + perLayer.size() + ", 'o': [" + String.join(", ", o) + "], 'h': [" + String.join(", ", h) + "], 'n': ["
                + String.join(", ", n) + "], 'f': [" + String.join(", ", f) + "], 'p': [" + String.join(", ", p) + "]}";
    }

    /** The operations of the space with their parameters, as {@code op/param} ({@code sa/sdp}, {@code c/9}), in file order. */
    public List<String> operations() {
        return ops.stream().map(o -> o[0] + "/" + o[1]).toList();
    }

    /** The largest value the space offers for a field: {@code layers}, {@code hidden}, {@code heads}, {@code nff} or {@code ff}. */
    public int max(String field) {
        List<Integer> l = switch (field) {
            case "layers" -> layers;
            case "hidden" -> hidden;
            case "heads" -> heads;
            case "nff" -> nff;
            case "ff" -> ffHidden;
            default -> throw new IllegalArgumentException("no design-space field " + field);
        };
        return Collections.max(l);
    }

    /**
     * The next level of the hierarchy (the reference's {@code hierarchical.py}): {@code count} distinct models around
     * {@code parent}, cut into stacks of {@code layersPerStack} layers (fewer than the parent's, so its stacks split),
     * each child re-drawing one or two of its stacks from the space's stack choices and keeping the others as the
     * parent has them. Fewer when the neighbourhood holds fewer.
     */
    public List<String> refinements(String parent, int layersPerStack, int count, Random r) {
        FlexiSpec p = FlexiSpec.parse(parent);
        if (layersPerStack < 1 || p.layers() % layersPerStack != 0)
            throw new IllegalArgumentException(p.layers() + " layers do not cut into stacks of " + layersPerStack);
        List<Stack> choices = stackChoices();
        int stacks = p.layers() / layersPerStack;
        List<Stack> own = parentStacks(p);
        String self = dict(own);
        LinkedHashSet<String> out = new LinkedHashSet<>();
        for (int tries = 0; out.size() < count && tries < 50 * count; tries++) {
            Stack[] layerStacks = own.toArray(new Stack[0]);
            int changes = 1 + r.nextInt(Math.min(2, stacks));
            for (int c = 0; c < changes; c++) {
                int s = r.nextInt(stacks);
                Stack pick = choices.get(r.nextInt(choices.size()));
                for (int k = 0; k < layersPerStack; k++) layerStacks[s * layersPerStack + k] = pick;
            }
            String child = dict(List.of(layerStacks));
            if (!child.equals(self)) out.add(child);
        }
        return List.copyOf(out);
    }

    private static List<Stack> parentStacks(FlexiSpec p) {
        List<Stack> out = new ArrayList<>();
        for (int i = 0; i < p.layers(); i++)
            out.add(new Stack(p.hidden()[i], p.heads()[i], new String[] {p.ops().get(i), p.params().get(i)}, p.ff()[i].length, p.ff()[i][0]));
        return out;
    }

    /** A config section selecting every dict as a grid axis: {@code layer_architecture = "flexi"} and {@code model_dict = [...]}. */
    public static String configSection(List<String> dicts) {
        List<String> quoted = dicts.stream().map(PyLiteral::repr).toList(); // one line: a config value is one line
        return "[ModelParams]\nlayer_architecture = \"flexi\"\nmodel_dict = [" + String.join(", ", quoted) + "]\n";
    }
}
