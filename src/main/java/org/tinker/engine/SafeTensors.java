package org.tinker.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A strict reader and a writer of the safetensors format (8-byte little-endian header length, a JSON header of
 * {@code name → {dtype, shape, data_offsets}} plus optional {@code __metadata__}, then the raw little-endian data).
 * Every offset, size and dtype is checked, so a truncated or corrupted file fails with one clear line naming it.
 */
public final class SafeTensors {
    private SafeTensors() {}

    /** Header length above this is treated as corruption (the format's own limit is 100 MB). */
    private static final long MAX_HEADER = 100L << 20;

    /** One tensor's header entry; {@code begin} and {@code end} count from {@link Header#dataStart}. */
    public record Entry(String name, DataType dtype, long[] shape, long begin, long end) {}

    /** A checked header: the byte where the data starts, and the tensors in file (header) order. */
    public record Header(long dataStart, List<Entry> entries) {}

    /** Reads every tensor of a file into {@code manager}, in file (header) order. */
    public static LinkedHashMap<String, NDArray> read(Path file, NDManager manager) {
        return read(file, manager, null);
    }

    /**
     * Reads every tensor of a file into {@code manager}, in file (header) order; with {@code expected}, every tensor's
     * name, shape and dtype is checked against it before anything is allocated.
     */
    public static LinkedHashMap<String, NDArray> read(Path file, NDManager manager, ExpectedTensors expected) {
        if (!Files.isRegularFile(file)) throw new FormatError(file + ": no such file (expected a safetensors file)");
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            Header h = header(file, ch);
            if (expected != null) // every tensor as config.json says, before anything is allocated
                for (Entry e : h.entries()) expected.check(file, e.name(), e.shape(), e.dtype());
            LinkedHashMap<String, NDArray> out = new LinkedHashMap<>();
            for (Entry e : h.entries()) {
                long bytes = e.end() - e.begin();
                if (bytes > Integer.MAX_VALUE - 8) throw bad(file, "tensor " + e.name() + " has " + bytes + " bytes, more than one buffer holds");
                ByteBuffer data = ByteBuffer.allocateDirect((int) bytes).order(ByteOrder.LITTLE_ENDIAN);
                readFully(ch, data, h.dataStart() + e.begin());
                data.flip();
                NDArray a = manager.create(data, new Shape(e.shape()), e.dtype());
                a.setName(e.name());
                out.put(e.name(), a);
            }
            return out;
        } catch (IOException e) {
            throw new FormatError(file + ": cannot read (" + e.getMessage() + ")");
        }
    }

    /**
     * The checked header of a safetensors file, without reading its data: every entry has a known dtype, non-negative
     * dimensions, offsets {@code 0 <= begin <= end <= data length} whose size is exactly dtype × shape, and no two
     * tensors share a byte. Anything else is one line naming the file.
     */
    public static Header header(Path file) {
        if (!Files.isRegularFile(file)) throw new FormatError(file + ": no such file (expected a safetensors file)");
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return header(file, ch);
        } catch (IOException e) {
            throw new FormatError(file + ": cannot read (" + e.getMessage() + ")");
        }
    }

    private static Header header(Path file, FileChannel ch) throws IOException {
        long size = ch.size();
        if (size < 8) throw bad(file, "the file is " + size + " bytes, shorter than the 8-byte header length");
        ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, lenBuf, 0);
        long headerLen = lenBuf.flip().getLong();
        if (headerLen <= 0 || headerLen > MAX_HEADER || 8 + headerLen > size)
            throw bad(file, "header length " + headerLen + " does not fit a file of " + size + " bytes (truncated or not safetensors)");
        ByteBuffer hb = ByteBuffer.allocate((int) headerLen);
        readFully(ch, hb, 8);
        JsonObject header;
        try {
            header = JsonParser.parseString(new String(hb.array(), StandardCharsets.UTF_8)).getAsJsonObject();
        } catch (RuntimeException e) {
            throw bad(file, "the JSON header is corrupt");
        }
        long dataStart = 8 + headerLen, dataLen = size - dataStart;
        List<Entry> entries = new ArrayList<>();
        for (Map.Entry<String, JsonElement> e : header.entrySet()) {
            if (e.getKey().equals("__metadata__")) continue;
            String name = e.getKey();
            DataType dt;
            long[] shape;
            long begin, end;
            try {
                JsonObject t = e.getValue().getAsJsonObject();
                dt = dtype(t.get("dtype").getAsString());
                var sh = t.get("shape").getAsJsonArray();
                shape = new long[sh.size()];
                for (int i = 0; i < shape.length; i++) shape[i] = sh.get(i).getAsLong();
                var off = t.get("data_offsets").getAsJsonArray();
                if (off.size() != 2) throw new IllegalStateException("data_offsets of " + off.size() + " values");
                begin = off.get(0).getAsLong();
                end = off.get(1).getAsLong();
            } catch (FormatError ce) {
                throw bad(file, "tensor " + name + ": " + ce.getMessage());
            } catch (RuntimeException re) {
                throw bad(file, "tensor " + name + ": malformed header entry " + e.getValue());
            }
            long bytes;
            try {
                long n = 1;
                for (long d : shape) {
                    if (d < 0) throw bad(file, "tensor " + name + ": negative dimension");
                    n = Math.multiplyExact(n, d);
                }
                bytes = Math.multiplyExact(n, (long) dt.getNumOfBytes());
            } catch (ArithmeticException ae) {
                throw bad(file, "tensor " + name + ": shape " + java.util.Arrays.toString(shape) + " overflows");
            }
            if (begin < 0 || end < begin || end - begin != bytes)
                throw bad(file, "tensor " + name + ": offsets [" + begin + ", " + end + ") do not match " + dt + " " + new Shape(shape)
                        + " (expected 0 <= begin and end - begin = " + bytes + ")");
            if (end > dataLen)
                throw bad(file, "tensor " + name + " ends at byte " + end + " but the data is only " + dataLen + " bytes (truncated file)");
            entries.add(new Entry(name, dt, shape, begin, end));
        }
        // no byte belongs to two tensors (a crafted header could alias one tensor's data as another's)
        List<Entry> byBegin = new ArrayList<>(entries.stream().filter(x -> x.end() > x.begin()).toList());
        byBegin.sort(java.util.Comparator.comparingLong(Entry::begin));
        for (int i = 1; i < byBegin.size(); i++) {
            Entry a = byBegin.get(i - 1), b = byBegin.get(i);
            if (b.begin() < a.end())
                throw bad(file, "tensors " + a.name() + " [" + a.begin() + ", " + a.end() + ") and " + b.name() + " [" + b.begin() + ", "
                        + b.end() + ") overlap (expected disjoint data_offsets)");
        }
        return new Header(dataStart, entries);
    }

    /** The DJL dtype of a safetensors header's dtype string (F32, F64, F16, BF16, I64, I32, I8, ...). */
    public static DataType dtype(String s) {
        return switch (s) {
            case "F32" -> DataType.FLOAT32;
            case "F64" -> DataType.FLOAT64;
            case "F16" -> DataType.FLOAT16;
            case "BF16" -> DataType.BFLOAT16;
            case "I64" -> DataType.INT64;
            case "I32" -> DataType.INT32;
            case "I8" -> DataType.INT8;
            case "U8" -> DataType.UINT8;
            case "BOOL" -> DataType.BOOLEAN;
            default -> throw new FormatError("unsupported dtype " + s);
        };
    }

    static String dtypeName(DataType d) {
        return switch (d) {
            case FLOAT32 -> "F32";
            case FLOAT64 -> "F64";
            case FLOAT16 -> "F16";
            case BFLOAT16 -> "BF16";
            case INT64 -> "I64";
            case INT32 -> "I32";
            case INT8 -> "I8";
            case UINT8 -> "U8";
            case BOOLEAN -> "BOOL";
            default -> throw new IllegalArgumentException("no safetensors dtype for " + d);
        };
    }

    /**
     * Writes tensors (keys sorted, as torch's safetensors does) with {@code __metadata__ = {"format": "pt"}} so that
     * Hugging Face transformers accepts the file. Written to a temporary file and renamed into place.
     */
    public static void write(Path file, Map<String, NDArray> tensors) throws IOException {
        TreeMap<String, NDArray> sorted = new TreeMap<>(tensors);
        JsonObject header = new JsonObject();
        JsonObject meta = new JsonObject();
        meta.addProperty("format", "pt");
        header.add("__metadata__", meta);
        List<byte[]> blobs = new ArrayList<>();
        long offset = 0;
        for (Map.Entry<String, NDArray> e : sorted.entrySet()) {
            NDArray a = e.getValue();
            byte[] b = new byte[0];
            ByteBuffer bb = a.toByteBuffer();
            bb.order(ByteOrder.LITTLE_ENDIAN);
            b = new byte[bb.remaining()];
            bb.get(b);
            JsonObject t = new JsonObject();
            t.addProperty("dtype", dtypeName(a.getDataType()));
            var sh = new com.google.gson.JsonArray();
            for (long d : a.getShape().getShape()) sh.add(d);
            t.add("shape", sh);
            var off = new com.google.gson.JsonArray();
            off.add(offset);
            off.add(offset + b.length);
            t.add("data_offsets", off);
            header.add(e.getKey(), t);
            offset += b.length;
            blobs.add(b);
        }
        byte[] h = header.toString().getBytes(StandardCharsets.UTF_8);
        int pad = (8 - h.length % 8) % 8; // align the data to 8 bytes, padding the header with spaces
        byte[] hp = new byte[h.length + pad];
        System.arraycopy(h, 0, hp, 0, h.length);
        for (int i = h.length; i < hp.length; i++) hp[i] = ' ';
        Path abs = file.toAbsolutePath();
        Files.createDirectories(abs.getParent());
        Path tmp = Files.createTempFile(abs.getParent(), "." + abs.getFileName() + ".", ".tmp");
        try (OutputStream os = new java.io.BufferedOutputStream(Files.newOutputStream(tmp), 1 << 20)) {
            os.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(hp.length).array());
            os.write(hp);
            for (byte[] b : blobs) os.write(b);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        Files.move(tmp, abs, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos);
            if (n < 0) throw new IOException("unexpected end of file");
            pos += n;
        }
    }

    private static FormatError bad(Path file, String what) {
        return new FormatError(file + ": not a valid safetensors file: " + what);
    }
}
