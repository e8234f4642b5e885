package org.tinker.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.tinker.config.ModelParams;
import org.junit.jupiter.api.Test;

/** keyword-icl: one label mapping per episode, balanced demonstrations, and training samples in the same format. */
class KeywordIclTest {
    static final KeywordIcl TASK = KeywordIcl.TASK;

    /** 0 when the keyword's set gives the label (positive → " positive"), 1 when the episode flips it. */
    static int flip(String line) {
        String[] p = line.split(" = ");
        int sentiment = KeywordIcl.POSITIVE.contains(p[0]) ? 0 : 1;
        assertTrue(sentiment == 0 || KeywordIcl.NEGATIVE.contains(p[0]), line);
        return (" " + p[1]).equals(KeywordIcl.LABELS.get(sentiment)) ? 0 : 1;
    }

    @Test
    void episodesAreBalancedWithOneMappingEach() {
        PyRandom q = new PyRandom(1), d = new PyRandom(2);
        int[] flips = new int[2];
        for (int i = 0; i < 200; i++) {
            int k = i % 6;
            IclTask.Episode e = TASK.episode(q, d, k);
            int f = flip(TASK.line(e.query())), positive = 0;
            flips[f]++;
            for (IclTask.Example x : e.demos()) {
                assertEquals(f, flip(TASK.line(x)), "the demonstrations share the query's mapping");
                if (KeywordIcl.POSITIVE.contains(x.prompt().split(" ")[0])) positive++;
            }
            assertTrue(positive == k / 2 || positive == (k + 1) / 2, "balanced: " + positive + " of " + k);
        }
        assertTrue(flips[0] > 70 && flips[1] > 70, "both mappings, about half each: " + flips[0] + "/" + flips[1]);
        // the same seeds, the same episodes
        assertEquals(TASK.episode(new PyRandom(1), new PyRandom(2), 4), TASK.episode(new PyRandom(1), new PyRandom(2), 4));
    }

    @Test
    void trainingSamplesAreEpisodesAsText() {
        List<Sample> samples = SyntheticTasks.generate("keyword-icl", 300);
        int longest = 0;
        for (Sample s : samples) {
            String[] lines = s.text().split("\n");
            longest = Math.max(longest, lines.length);
            for (String l : lines) assertEquals(flip(lines[0]), flip(l), s.text());
        }
        assertEquals(10, longest, "0–9 demonstrations and the query");
        assertEquals("keyword-icl", IclTask.named("keyword-icl").name());
    }

    /** The label words are one GPT-2 token each, as the ICL evaluation needs. */
    @Test
    void labelWordsAreSingleGpt2Tokens() {
        Tokenizer gpt2 = Tokenizers.named(ModelParams.TokenizerKind.GPT2);
        for (String w : TASK.labelWords()) assertEquals(1, gpt2.encode(w).length, w);
    }
}
