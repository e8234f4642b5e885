package org.tinker.model;

import ai.djl.ndarray.NDArray;

/**
 * What one forward pass returns. All arrays live in the manager of the {@code ids} that were passed in.
 *
 * @param logits     {@code [B, T, V]} unnormalised next-token scores
 * @param attns      {@code [B, L, H, T, T]} attention patterns (after softmax, before dropout), or null
 *                   unless {@link ForwardOptions#getAttns()} was set. For a hierarchical or flexi body, the layers
 *                   {@link Inspection#attentionLayers} names ({@link ModelBody.Output#attns()})
 * @param embeddings {@code [B, L+1, T, D]}: the input to each block, then the last block's output (before
 *                   {@code ln_f}), or null unless {@link ForwardOptions#getEmbeddings()} was set; for a body, its
 *                   residual stream ({@link ModelBody.Output#residuals()})
 */
public record LMOutput(NDArray logits, NDArray attns, NDArray embeddings) {}
