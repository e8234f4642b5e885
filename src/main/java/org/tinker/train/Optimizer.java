package org.tinker.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import java.util.Map;

/** What the {@link Trainer} steps: {@link AdamW}, or {@link Muon} (which holds an AdamW for the parameters it leaves). */
public interface Optimizer extends AutoCloseable {
    /**
     * One step with these gradients by parameter name (already clipped); a parameter without one (frozen) is left
     * untouched.
     */
    void step(double lr, Map<String, NDArray> grads);

    /** Optimizer steps taken. */
    long steps();

    /** The state a checkpoint saves, each tensor named {@code {param}.{what}} (torch's names where torch has one). */
    NDList stateTensors();

    /** Reads back what {@link #stateTensors} wrote. */
    void restore(Map<String, NDArray> byName, long steps);

    @Override
    void close();

    /** Adds a copy of each per-parameter state tensor to {@code out}, named {@code {param}{suffix}}. */
    static void saveState(Map<String, NDArray> state, String suffix, NDList out) {
        state.forEach((name, a) -> {
            NDArray c = a.duplicate();
            c.setName(name + suffix);
            out.add(c);
        });
    }

    /** Overwrites each per-parameter state tensor, in place, with its saved copy {@code {param}{suffix}}. */
    static void restoreState(Map<String, NDArray> state, String suffix, Map<String, NDArray> saved) {
        state.forEach((name, a) -> a.set(saved.get(name + suffix).toType(a.getDataType(), false).toByteBuffer()));
    }
}
