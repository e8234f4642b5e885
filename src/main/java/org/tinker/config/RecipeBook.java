package org.tinker.config;

import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;

/**
 * The recipes one config field may name, so that a config with an unknown name or bad arguments fails when it is read,
 * at its file and line. The books live where their recipes do (model hooks in {@code org.tinker.model}, training-loop
 * callbacks in {@code org.tinker.train}) and are found with {@link ServiceLoader} ({@code META-INF/services}), so this
 * package depends on none of them.
 */
public interface RecipeBook {
    /** The params field whose recipes this book knows: {@code recipes} ([ModelParams]) or {@code callbacks} ([TrainParams]). */
    String field();

    /** The names it knows, with their arguments, e.g. {@code scale_attention_scores(c)}. */
    List<String> known();

    /**
     * Null when {@code call} names a known recipe with fitting arguments for a run with these params (the record of the
     * field's section, e.g. a layer index below n_layers); otherwise what is wrong, in a few words.
     */
    String problem(RecipeCall call, Record params);

    /**
     * Checks every call of a field's text against the books of that field (and a researcher's own classes, see
     * {@link RecipeCall#construct}). Returns null when all is well, else a one-line reason naming the known recipes.
     */
    static String check(String field, String text, Record params) {
        List<RecipeCall> calls;
        try {
            calls = RecipeCall.parseAll(text);
        } catch (IllegalArgumentException e) {
            return e.getMessage();
        }
        if (calls.isEmpty()) return null;
        List<RecipeBook> books = new ArrayList<>();
        for (RecipeBook b : ServiceLoader.load(RecipeBook.class)) if (b.field().equals(field)) books.add(b);
        for (RecipeCall c : calls) {
            String problem = null;
            for (RecipeBook b : books) {
                problem = b.problem(c, params);
                if (problem == null) break;
            }
            if (problem != null) return problem;
        }
        return null;
    }
}
