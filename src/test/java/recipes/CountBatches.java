package recipes;

import ai.djl.ndarray.NDArray;
import java.util.concurrent.atomic.AtomicLong;
import org.tinker.train.TrainingCallback;

/** A researcher's own training callback, found by name ({@code callbacks = "count_batches"}): counts the batches it sees. */
public final class CountBatches implements TrainingCallback {
    public static final AtomicLong SEEN = new AtomicLong();

    @Override
    public NDArray inputs(NDArray inputs, Step step) {
        SEEN.incrementAndGet();
        return inputs;
    }
}
