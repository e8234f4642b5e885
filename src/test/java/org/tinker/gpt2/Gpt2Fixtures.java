package org.tinker.gpt2;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import java.net.URISyntaxException;
import java.nio.file.Path;
import org.junit.jupiter.api.function.Executable;
import org.tinker.config.ConfigError;
import org.tinker.engine.FormatError;

/** Paths of the GPT-2 fixtures copied into the test resources, and comparison helpers. */
final class Gpt2Fixtures {
    /**
     * Runs a load that must be refused with one of the two one-line user errors: a {@link ConfigError} (a missing or
     * mistaken file) or a {@link FormatError} (a file that is not what its format promises).
     */
    static RuntimeException refusal(Executable load) {
        RuntimeException e = assertThrows(RuntimeException.class, load);
        assertTrue(e instanceof ConfigError || e instanceof FormatError, "a user error, not " + e);
        return e;
    }

    private Gpt2Fixtures() {}

    static Path resource(String name) {
        try {
            return Path.of(Gpt2Fixtures.class.getResource("/" + name).toURI());
        } catch (URISyntaxException | NullPointerException e) {
            throw new IllegalStateException("test resource " + name + " missing", e);
        }
    }

    static Path randomGpt2() {
        return resource("fixtures/gpt2/random-gpt2");
    }

    static Path randomGpt2Bin() {
        return resource("fixtures/gpt2/random-gpt2-bin");
    }

    static Path malicious() {
        return resource("fixtures/gpt2/malicious-bin");
    }

    static Path tinyLogits() {
        return resource("fixtures/gpt2/tiny-gpt2-logits.safetensors");
    }

    static Path tinyGpt2() {
        return resource("tiny-gpt2");
    }

    static double maxAbsDiff(NDArray a, NDArray b) {
        if (!a.getShape().equals(b.getShape())) throw new AssertionError("shape " + a.getShape() + " vs " + b.getShape());
        double[] x = a.toType(DataType.FLOAT64, true).toDoubleArray();
        double[] y = b.toType(DataType.FLOAT64, true).toDoubleArray();
        double m = 0;
        for (int i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
        return m;
    }
}
