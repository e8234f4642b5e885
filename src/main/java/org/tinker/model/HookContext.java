package org.tinker.model;

/**
 * What a hook knows about where it is called from.
 *
 * @param layer        the block index, or -1 for hook points outside the blocks ({@code ln_f.out})
 * @param attnRequests {@link ForwardOptions#attnRequests()} of the current forward pass, unchanged (may be null)
 * @param training     whether the model is in training mode (dropout active)
 */
public record HookContext(int layer, Object attnRequests, boolean training) {}
