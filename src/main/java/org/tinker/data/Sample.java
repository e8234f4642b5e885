package org.tinker.data;

/**
 * One raw sample of a task.
 *
 * @param text the sample's text
 * @param lossFromChar the loss counts only tokens that start at or after this character (0 = all);
 *     maskedcopy uses it to leave out the part before {@code ::}
 */
public record Sample(String text, int lossFromChar) {
    public Sample(String text) {
        this(text, 0);
    }
}
