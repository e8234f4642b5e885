package org.tinker.model;

import ai.djl.ndarray.NDArray;

/**
 * What a hook knows about where it is called from.
 *
 * @param layer        the block index, or -1 for hook points outside the blocks ({@code embed}, {@code ln_f.out})
 * @param ids          the input ids of this pass {@code [B,T]} (when decoding with a cache: the new tokens only)
 * @param attnRequests {@link ForwardOptions#attnRequests()} of the current forward pass, unchanged (may be null)
 * @param training     whether the model is in training mode (dropout active)
 */
public record HookContext(int layer, NDArray ids, Object attnRequests, boolean training) {}
