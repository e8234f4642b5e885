package org.tinker.data;

/**
 * A task's samples, ready for a {@link DataModule}.
 *
 * @param name the canonical task name ({@code wikitext} becomes {@code wikitext-2})
 * @param synthetic true for the generated tasks of {@link SyntheticTasks}
 * @param splits train / valid / test samples, already cut (see {@link SplitRule}); {@code hasOwnSplits} tells
 *     whether the data came with splits of its own
 */
public record LoadedTask(String name, boolean synthetic, Splits splits) {}
