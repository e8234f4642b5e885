package org.tinker.engine;

import ai.djl.ndarray.types.DataType;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What a weights file may hold, from {@code config.json}: every tensor's name and shape, and the dtypes allowed.
 * Readers check each tensor against it before allocating anything, so a small hostile file cannot make them
 * allocate more than the model config.json describes (issue 19, item 1).
 *
 * @param where  the config the expectations come from (for messages)
 * @param shapes tensor name → shape (names without the optional {@code transformer.} prefix)
 */
public record ExpectedTensors(String where, Map<String, long[]> shapes) {

    /** Prefixes a name may carry (GPT2LMHeadModel vs GPT2Model files). */
    private static final String PREFIX = "transformer.";

    /** The shape config.json gives a tensor of this name, or null when it has none. */
    public long[] shape(String name) {
        long[] s = shapes.get(name);
        if (s == null && name.startsWith(PREFIX)) s = shapes.get(name.substring(PREFIX.length()));
        return s;
    }

    /** Elements of all the tensors config.json describes: the most a file's storages may hold together. */
    public long totalElements() {
        long n = 0;
        for (long[] s : shapes.values()) n += numel(s);
        return n;
    }

    /** The most elements any one tensor may have. */
    public long maxElements() {
        long n = 0;
        for (long[] s : shapes.values()) n = Math.max(n, numel(s));
        return n;
    }

    static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) n = Math.multiplyExact(n, d);
        return n;
    }

    /**
     * Refuses (one line naming {@code file}) a tensor config.json does not describe, of another shape, or of a dtype
     * weights do not come in (floats; the causal mask {@code attn.bias} may also be uint8 or bool).
     */
    public void check(Object file, String name, long[] shape, DataType dtype) {
        long[] want = shape(name);
        if (want == null)
            throw new FormatError(file + ": unexpected tensor " + name + " (" + where + " describes no such tensor; refused before reading it)");
        if (!Arrays.equals(want, shape))
            throw new FormatError(file + ": tensor " + name + " has shape " + Arrays.toString(shape) + ", expected " + Arrays.toString(want)
                    + " from " + where + " (refused before reading it)");
        boolean ok = dtype.isFloating() || (name.endsWith("attn.bias") && (dtype == DataType.UINT8 || dtype == DataType.BOOLEAN));
        if (!ok) throw new FormatError(file + ": tensor " + name + " has dtype " + dtype + ", expected a floating-point type (refused before reading it)");
    }
}
