package org.tinker.explore;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.tinker.config.ConfigError;
import org.tinker.engine.SafeTensors;
import org.tinker.model.LM;

/**
 * Loads a {@code model.safetensors} into an existing {@link LM} one tensor at a time, straight from a memory
 * mapping of the file: only the bytes of the tensor being copied are mapped, copied into the parameter (on
 * whatever device it lives), and unmapped again before the next one. Peak memory is the model's parameters
 * plus the largest single tensor, instead of the parameters plus a full decoded copy of the file (plus the
 * stream's buffers) as with {@code NDList.decode} — transformer-utils' {@code low_memory_load} idea, in Java.
 *
 * <p>Format (safetensors): 8-byte little-endian header length N, N bytes of JSON
 * {@code {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}}, then the data, offsets
 * relative to its start.
 */
public final class LowMemoryLoad {
    private LowMemoryLoad() {}

    /** One tensor's entry in the header. */
    public record Entry(String name, DataType dtype, Shape shape, long begin, long end) {}

    /**
     * The header of a safetensors file, in file order, with absolute offsets; checked by
     * {@link org.tinker.engine.SafeTensors#header} (negative, oversized and overlapping data_offsets are refused).
     */
    public static List<Entry> header(Path file) {
        var h = SafeTensors.header(file);
        List<Entry> out = new ArrayList<>();
        for (var e : h.entries())
            out.add(new Entry(e.name(), e.dtype(), new Shape(e.shape()), h.dataStart() + e.begin(), h.dataStart() + e.end()));
        return out;
    }

    /** Copies every tensor of {@code file} into the LM's parameter of the same name (names and shapes must match). */
    public static void load(LM lm, Path file) {
        if (!Files.isRegularFile(file)) throw new ConfigError(file + ": no such file (expected a safetensors checkpoint)");
        List<Entry> entries = header(file);
        Map<String, NDArray> params = lm.parameters();
        List<String> problems = new ArrayList<>();
        TreeSet<String> inFile = new TreeSet<>();
        for (Entry e : entries) {
            inFile.add(e.name());
            NDArray p = params.get(e.name());
            if (p == null) problems.add("unexpected " + e.name());
            else if (!p.getShape().equals(e.shape())) problems.add(e.name() + " has shape " + e.shape() + ", expected " + p.getShape());
            else if (e.end() - e.begin() != e.shape().size() * e.dtype().getNumOfBytes()) problems.add(e.name() + ": data size does not match its shape");
        }
        for (String name : params.keySet()) if (!inFile.contains(name)) problems.add("missing " + name);
        if (!problems.isEmpty()) throw new ConfigError(file + ": cannot load parameters: " + String.join("; ", problems));
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            for (Entry e : entries) {
                NDArray p = params.get(e.name());
                if (e.end() == e.begin()) continue;
                MappedByteBuffer mapped = ch.map(FileChannel.MapMode.READ_ONLY, e.begin(), e.end() - e.begin());
                try {
                    mapped.order(ByteOrder.LITTLE_ENDIAN);
                    // The temporary tensor may alias the mapping; index_put_ copies it into the parameter's own
                    // storage (NDArray.set(buffer) would make the parameter point at the mapping itself).
                    try (NDManager tmp = p.getManager().newSubManager()) {
                        NDArray raw = tmp.create(mapped, e.shape(), e.dtype());
                        if (e.dtype() != p.getDataType()) raw = raw.toType(p.getDataType(), false);
                        int d = e.shape().dimension();
                        long[] zeros = new long[d], ones = new long[d];
                        java.util.Arrays.fill(ones, 1);
                        JniUtils.indexSet((PtNDArray) p, (PtNDArray) raw.toDevice(p.getDevice(), false), zeros,
                                e.shape().getShape(), ones);
                    }
                } finally {
                    unmap(mapped);
                }
            }
        } catch (IOException e) {
            throw new ConfigError(file + ": cannot read (" + e.getMessage() + ")");
        }
    }

    private static final Method INVOKE_CLEANER;
    private static final Object UNSAFE;

    static {
        Method m = null;
        Object u = null;
        try {
            Class<?> c = Class.forName("sun.misc.Unsafe");
            Field f = c.getDeclaredField("theUnsafe");
            f.setAccessible(true);
            u = f.get(null);
            m = c.getMethod("invokeCleaner", ByteBuffer.class);
        } catch (ReflectiveOperationException | RuntimeException ignored) {
            // without it a mapping is released when the buffer is garbage-collected
        }
        INVOKE_CLEANER = m;
        UNSAFE = u;
    }

    /** Unmaps now (instead of at some later GC), so mapped pages stop counting towards resident memory. */
    private static void unmap(MappedByteBuffer b) {
        if (INVOKE_CLEANER == null) return;
        try {
            INVOKE_CLEANER.invoke(UNSAFE, b);
        } catch (ReflectiveOperationException | RuntimeException ignored) {
            // best effort
        }
    }
}
