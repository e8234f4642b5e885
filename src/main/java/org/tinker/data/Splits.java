package org.tinker.data;

import java.util.List;

/**
 * The raw samples of a task. Corpora with their own splits fill all three lists; data without splits
 * comes as {@code train} only with {@code hasOwnSplits=false}, and the DataModule cuts val/test off it.
 */
public record Splits(List<Sample> train, List<Sample> valid, List<Sample> test, boolean hasOwnSplits) {
    public static Splits unsplit(List<Sample> all) {
        return new Splits(all, List.of(), List.of(), false);
    }
}
