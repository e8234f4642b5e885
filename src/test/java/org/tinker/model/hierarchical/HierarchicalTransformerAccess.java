package org.tinker.model.hierarchical;

import ai.djl.ndarray.NDArray;

/** Test access to package-private helpers. */
public final class HierarchicalTransformerAccess {
    private HierarchicalTransformerAccess() {}

    public static NDArray toTokenPositions(NDArray x, int s, int t) {
        return HierarchicalTransformer.toTokenPositions(x, s, t);
    }
}
