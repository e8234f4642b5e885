package org.tinker.config;

import java.util.ServiceLoader;

/**
 * A check of {@link ModelParams} that needs what only a model knows (the shape a FlexiBERT {@code model_dict} must have,
 * the per-hierarchy settings of the hierarchical transformer). The model package provides them through
 * {@link ServiceLoader} ({@code META-INF/services}), so this package depends on none of it.
 */
public interface ModelCheck {
    /** The field at fault and what was expected of it. */
    record Problem(String field, String expected) {}

    /** Null when {@code mp} is fine as far as this check goes. */
    Problem problem(ModelParams mp);

    /** Every check found on the class path, in turn; the first problem, or null. */
    static Problem firstProblem(ModelParams mp) {
        for (ModelCheck c : ServiceLoader.load(ModelCheck.class)) {
            Problem p = c.problem(mp);
            if (p != null) return p;
        }
        return null;
    }
}
