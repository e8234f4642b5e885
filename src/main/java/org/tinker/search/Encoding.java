package org.tinker.search;

import java.util.List;
import org.tinker.model.flexi.DesignSpace;
import org.tinker.model.flexi.FlexiSpec;

/**
 * A model dict of a design space as a fixed-length vector, what the surrogate compares models by. One block per layer
 * slot up to the space's deepest model, in order:
 * <pre>
 *   [ l / max_l,
 *     for each layer slot i < max_l:  present(0|1), one-hot of o[i]/p[i] over the space's operations,
 *                                     h[i] / max_h, n[i] / max_n, len(f[i]) / max_nff, f[i][0] / max_ff ]
 * </pre>
 * A layer slot the model does not have is all zeros. Layers rather than stacks, so that models of every level of the
 * hierarchy (stacks of 2 layers, then of 1) share one vector space and one surrogate.
 */
public final class Encoding {
    private final List<String> ops;
    private final int maxLayers, maxHidden, maxHeads, maxNff, maxFf;

    public Encoding(DesignSpace space) {
        ops = space.operations();
        maxLayers = space.max("layers");
        maxHidden = space.max("hidden");
        maxHeads = space.max("heads");
        maxNff = space.max("nff");
        maxFf = space.max("ff");
    }

    /** The length of every vector. */
    public int dimension() {
        return 1 + maxLayers * perLayer();
    }

    private int perLayer() {
        return 1 + ops.size() + 4;
    }

    public double[] encode(String modelDict) {
        FlexiSpec s = FlexiSpec.parse(modelDict);
        if (s.layers() > maxLayers)
            throw new IllegalArgumentException("model_dict has " + s.layers() + " layers, the space at most " + maxLayers);
        double[] v = new double[dimension()];
        v[0] = (double) s.layers() / maxLayers;
        for (int i = 0; i < s.layers(); i++) {
            int at = 1 + i * perLayer();
            v[at] = 1;
            int op = ops.indexOf(s.ops().get(i) + "/" + s.params().get(i));
            if (op >= 0) v[at + 1 + op] = 1; // an operation outside the space (a hand-written dict) has no one-hot bit
            int k = at + 1 + ops.size();
            v[k] = (double) s.hidden()[i] / maxHidden;
            v[k + 1] = (double) s.heads()[i] / maxHeads;
            v[k + 2] = (double) s.ff()[i].length / maxNff;
            v[k + 3] = (double) s.ff()[i][0] / maxFf;
        }
        return v;
    }

    /** Euclidean distance between two encodings (the neighbour a model is warm-started from is the nearest). */
    public static double distance(double[] a, double[] b) {
        double d = 0;
        for (int i = 0; i < a.length; i++) d += (a[i] - b[i]) * (a[i] - b[i]);
        return Math.sqrt(d);
    }
}
