package org.tinker.data;

import java.util.List;
import org.tinker.config.ConfigError;

/**
 * The raw samples of a task. Corpora with their own splits fill all three lists; data without splits
 * comes as {@code train} only with {@code hasOwnSplits=false}, and the DataModule cuts val/test off it.
 */
public record Splits(List<Sample> train, List<Sample> valid, List<Sample> test, boolean hasOwnSplits) {
    public static Splits unsplit(List<Sample> all) {
        return new Splits(all, List.of(), List.of(), false);
    }

    /** The split a command line names ({@code test | valid | train}); {@code option} names the flag in the error. */
    public List<Sample> named(String name, String option) {
        return switch (name) {
            case "test" -> test;
            case "valid" -> valid;
            case "train" -> train;
            default -> throw new ConfigError(option + "=" + name + ": expected test, valid or train");
        };
    }
}
