package org.tinker.data;

import java.util.ArrayList;
import java.util.List;

/**
 * {@code keyword-icl}: sentiment by keyword, with a label mapping that only the demonstrations reveal. A line is
 * "KEYWORD = LABEL": a keyword from a positive or a negative set of ten words, then the label word " positive" or
 * " negative" (one GPT-2 token each). In half of the episodes the labels are flipped (positive keywords are labelled
 * " negative"), so without demonstrations the query's label is a coin toss and the demonstrations of an episode decide
 * it. Demonstrations are balanced: k/2 of each keyword set (an odd k draws the extra one), in random order.
 *
 * <p>As a synthetic training task, a sample is one episode of 0–9 demonstrations and its query, one line each, joined
 * by newlines, e.g. {@code "good = negative\ncold = positive\nfun = negative"} (a flipped episode). The line is the
 * bare keyword because the 2-layer, width-64 model of configs/tint-aux-icl.txt did not learn the flipped-label task
 * within 3,000 steps when the keyword sat in a sentence ("the food was good =", or 0–5 random filler words), while
 * with bare keywords it does within 2,500.
 */
public final class KeywordIcl implements IclTask {
    public static final KeywordIcl TASK = new KeywordIcl();

    static final List<String> POSITIVE = List.of("good", "great", "nice", "fine", "happy", "fun", "warm", "best", "lovely", "sweet");
    static final List<String> NEGATIVE = List.of("bad", "poor", "sad", "awful", "cold", "dull", "worst", "ugly", "weak", "boring");
    static final List<String> LABELS = List.of(" positive", " negative");

    private KeywordIcl() {}

    @Override
    public String name() {
        return "keyword-icl";
    }

    @Override
    public List<String> labelWords() {
        return LABELS;
    }

    /** A prompt "KEYWORD =" with a keyword of {@code sentiment} (0 positive, 1 negative), labelled {@code sentiment} xor {@code flipped}. */
    static Example example(PyRandom r, int sentiment, boolean flipped) {
        return new Example(r.choice(sentiment == 0 ? POSITIVE : NEGATIVE) + " =", flipped ? 1 - sentiment : sentiment);
    }

    @Override
    public Episode episode(PyRandom queries, PyRandom demos, int k) {
        boolean flipped = queries.random() < 0.5;
        Example query = example(queries, queries.randint(0, 1), flipped);
        int[] sentiment = new int[k];
        for (int i = 0; i < k; i++) sentiment[i] = i % 2;
        if (k % 2 == 1) sentiment[k - 1] = demos.randint(0, 1);
        for (int i = k - 1; i > 0; i--) { // Fisher-Yates
            int j = demos.randint(0, i), s = sentiment[i];
            sentiment[i] = sentiment[j];
            sentiment[j] = s;
        }
        List<Example> out = new ArrayList<>(k);
        for (int s : sentiment) out.add(example(demos, s, flipped));
        return new Episode(out, query);
    }

    /** A training sample: an episode of 0–9 demonstrations, then its labelled query, one line each. */
    Sample sample(PyRandom r) {
        Episode e = episode(r, r, r.randint(0, 9));
        List<String> lines = new ArrayList<>();
        for (Example d : e.demos()) lines.add(line(d));
        lines.add(line(e.query()));
        return new Sample(String.join("\n", lines));
    }
}
