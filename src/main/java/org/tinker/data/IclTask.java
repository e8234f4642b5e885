package org.tinker.data;

import java.util.List;
import org.tinker.config.ConfigError;

/**
 * A few-shot classification task for in-context evaluation (`runner tint icl`; docs/models/tint.md, "ICL evaluation"):
 * episodes of labelled demonstrations and one query, each a line "prompt label-word". The same episodes, written as
 * text, are the task's training samples in {@link SyntheticTasks}.
 */
public interface IclTask {
    /** One classified input: the prompt text, then the label word {@code labelWords().get(label)}. */
    record Example(String prompt, int label) {}

    /** k demonstrations and the query they come with. */
    record Episode(List<Example> demos, Example query) {}

    String name();

    /** The label words, index = class; each is one token (with its leading space) of the tokenizer the task is made for. */
    List<String> labelWords();

    /**
     * An episode of {@code k} demonstrations: whatever defines the query's label mapping and the query itself are drawn
     * from {@code queries}, the demonstrations from {@code demos}, so that one query stream can be paired with
     * demonstrations of several sizes.
     */
    Episode episode(PyRandom queries, PyRandom demos, int k);

    /** A demonstration as text: the prompt followed by its label word. */
    default String line(Example e) {
        return e.prompt() + labelWords().get(e.label());
    }

    /** The ICL tasks by name. */
    static IclTask named(String name) {
        if (KeywordIcl.TASK.name().equals(name)) return KeywordIcl.TASK;
        throw new ConfigError("--task=" + name + ": expected an ICL classification task: " + KeywordIcl.TASK.name());
    }
}
