package org.tinker.gpt2;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.Deflater;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tinker.engine.FormatError;
import org.tinker.engine.SafeTensors;
import org.tinker.engine.TorchPickle;
import org.tinker.model.WithBaseManager;

/**
 * Issue 19, item 1: small hostile weights files (a zip entry that inflates to hundreds of MB, a stride-0 view, a
 * storage larger than the model) beside the random-gpt2 fixture's config.json are refused in one line naming the
 * file, before the inflated size is ever allocated.
 */
class BoundedReadTest extends WithBaseManager {
    static final long BOMB = 200L << 20; // 200 MB of zeros: ~200 KB deflated

    // ---- a minimal pickle writer: OrderedDict of _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()) ----

    record T(String name, String storageKey, long numel, long offset, long[] size, long[] stride) {}

    static byte[] pickle(T... tensors) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.write(0x80);
        b.write(2);
        b.write('}');
        b.write('(');
        for (T t : tensors) {
            str(b, t.name());
            b.writeBytes("ctorch._utils\n_rebuild_tensor_v2\n".getBytes(StandardCharsets.US_ASCII));
            b.write('(');
            b.write('(');
            str(b, "storage");
            b.writeBytes("ctorch\nFloatStorage\n".getBytes(StandardCharsets.US_ASCII));
            str(b, t.storageKey());
            str(b, "cpu");
            integer(b, t.numel());
            b.write('t');
            b.write('Q');
            integer(b, t.offset());
            b.write('(');
            for (long s : t.size()) integer(b, s);
            b.write('t');
            b.write('(');
            for (long s : t.stride()) integer(b, s);
            b.write('t');
            b.write(0x89);
            b.writeBytes("ccollections\nOrderedDict\n".getBytes(StandardCharsets.US_ASCII));
            b.write(')');
            b.write('R');
            b.write('t');
            b.write('R');
        }
        b.write('u');
        b.write('.');
        return b.toByteArray();
    }

    static void str(ByteArrayOutputStream b, String s) {
        byte[] u = s.getBytes(StandardCharsets.UTF_8);
        b.write('X');
        le4(b, u.length);
        b.writeBytes(u);
    }

    static void integer(ByteArrayOutputStream b, long v) {
        if (v < 0 || v > Integer.MAX_VALUE) throw new IllegalArgumentException("test pickle: " + v);
        b.write('J');
        le4(b, (int) v);
    }

    static void le4(ByteArrayOutputStream b, int v) {
        for (int i = 0; i < 4; i++) b.write(v >>> (8 * i));
    }

    /** A torch-style zip: archive/data.pkl and archive/data/KEY entries, deflated; zeros entries of the given sizes. */
    static void zip(Path file, byte[] pkl, long pklZeros, String key, byte[] storage, long storageZeros) throws IOException {
        try (ZipOutputStream z = new ZipOutputStream(Files.newOutputStream(file))) {
            z.setLevel(Deflater.BEST_COMPRESSION);
            z.putNextEntry(new ZipEntry("archive/data.pkl"));
            if (pkl != null) z.write(pkl);
            zeros(z, pklZeros);
            z.closeEntry();
            if (key != null) {
                z.putNextEntry(new ZipEntry("archive/data/" + key));
                if (storage != null) z.write(storage);
                zeros(z, storageZeros);
                z.closeEntry();
            }
        }
    }

    static void zeros(OutputStream o, long n) throws IOException {
        byte[] chunk = new byte[1 << 20];
        for (long w = 0; w < n; w += chunk.length) o.write(chunk, 0, (int) Math.min(chunk.length, n - w));
    }

    /** Overwrites the central directory's uncompressed size of every entry named {@code name} (a lying header). */
    static void lieAboutSize(Path file, String name, int size) throws IOException {
        byte[] z = Files.readAllBytes(file);
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        boolean patched = false;
        for (int i = 0; i + 46 < z.length; i++) {
            if (z[i] != 0x50 || z[i + 1] != 0x4b || z[i + 2] != 1 || z[i + 3] != 2) continue;
            int nameLen = (z[i + 28] & 0xFF) | (z[i + 29] & 0xFF) << 8;
            if (nameLen == n.length && java.util.Arrays.equals(z, i + 46, i + 46 + nameLen, n, 0, nameLen)) {
                for (int k = 0; k < 4; k++) z[i + 24 + k] = (byte) (size >>> (8 * k));
                patched = true;
            }
        }
        assertTrue(patched, "test setup: no central directory entry " + name);
        Files.write(file, z);
    }

    static Path folder(Path tmp) throws IOException {
        Files.createDirectories(tmp);
        Files.copy(Gpt2Fixtures.randomGpt2().resolve("config.json"), tmp.resolve("config.json"));
        return tmp;
    }

    static long allocated() {
        return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean()).getCurrentThreadAllocatedBytes();
    }

    /** Loads {@code dir} expecting a one-line refusal naming the weights file and holding {@code words}; heap allocated in MB. */
    static long refused(Path dir, String... words) {
        Path bin = dir.resolve("pytorch_model.bin");
        long before = allocated();
        RuntimeException e;
        try (NDManager m = base.newSubManager()) {
            e = Gpt2Fixtures.refusal(() -> Gpt2Pretrained.load(dir, m));
        }
        long mb = (allocated() - before) >> 20;
        String msg = e.getMessage();
        assertFalse(msg.contains("\n"), "one line: " + msg);
        assertTrue(msg.startsWith(bin.toString()), "names the file: " + msg);
        for (String w : words) assertTrue(msg.contains(w), "'" + w + "' in: " + msg);
        assertTrue(mb < 32, "allocated " + mb + " MB for: " + msg);
        return mb;
    }

    static final long[] WTE = {1000, 64};
    static final long[] WTE_STRIDE = {64, 1};

    @Test
    void aStorageEntryThatDeclaresMoreThanItsTensorIsRefusedBeforeReading(@TempDir Path tmp) throws IOException {
        Path dir = folder(tmp);
        zip(dir.resolve("pytorch_model.bin"), pickle(new T("transformer.wte.weight", "0", 64000, 0, WTE, WTE_STRIDE)), 0, "0", null, BOMB);
        assertTrue(Files.size(dir.resolve("pytorch_model.bin")) < 1 << 20, "a small file");
        refused(dir, "archive/data/0", "declares " + BOMB + " bytes", "expected 256000");
    }

    @Test
    void aStorageEntryThatLiesAboutItsSizeStopsAtTheBound(@TempDir Path tmp) throws IOException {
        Path dir = folder(tmp);
        Path bin = dir.resolve("pytorch_model.bin");
        zip(bin, pickle(new T("transformer.wte.weight", "0", 64000, 0, WTE, WTE_STRIDE)), 0, "0", null, BOMB);
        lieAboutSize(bin, "archive/data/0", 256000);
        refused(dir, "archive/data/0", "inflates to more than the 256000 bytes", "reading stopped");
    }

    @Test
    void aPickleEntryThatInflatesHugeIsRefused(@TempDir Path tmp) throws IOException {
        Path dir = folder(tmp);
        Path bin = dir.resolve("pytorch_model.bin");
        zip(bin, null, 64L << 20, null, null, 0);
        refused(dir, "archive/data.pkl", "the pickle", "at most");
        lieAboutSize(bin, "archive/data.pkl", 1000);
        refused(dir, "archive/data.pkl", "inflates to more than");
    }

    @Test
    void aStorageLargerThanTheModelIsRefusedBeforeReading(@TempDir Path tmp) throws IOException {
        Path dir = folder(tmp);
        // 2^28 elements declared (1 GB), the entry itself small: refused on the declaration, nothing read
        zip(dir.resolve("pytorch_model.bin"), pickle(new T("transformer.wte.weight", "0", 1L << 28, 0, WTE, WTE_STRIDE)), 0, "0", null, 0);
        refused(dir, "storages hold more than", "config.json");
    }

    @Test
    void strideZeroAndOutOfStorageViewsAreRefusedBeforeAllocating(@TempDir Path tmp) throws IOException {
        Path dir = folder(tmp);
        Path bin = dir.resolve("pytorch_model.bin");
        // a one-element storage viewed as 2^28 elements (stride 0): not the shape config.json gives wte
        zip(bin, pickle(new T("transformer.wte.weight", "0", 1, 0, new long[] {1 << 14, 1 << 14}, new long[] {0, 0})), 0, "0", new byte[4], 0);
        refused(dir, "transformer.wte.weight", "[16384, 16384]", "expected [1000, 64]");
        // the right shape, but reaching past a 10-element storage
        zip(bin, pickle(new T("transformer.wte.weight", "0", 10, 0, WTE, WTE_STRIDE)), 0, "0", new byte[40], 0);
        refused(dir, "transformer.wte.weight", "reaching element 63999 of a storage of 10");
        // a negative-looking offset past the storage
        zip(bin, pickle(new T("transformer.wte.weight", "0", 64000, 1, WTE, WTE_STRIDE)), 0, "0", new byte[256000], 0);
        refused(dir, "reaching element 64000");
        // a tensor config.json does not describe
        zip(bin, pickle(new T("transformer.h.7.mlp.c_fc.weight", "0", 1, 0, new long[] {1}, new long[] {1})), 0, "0", new byte[4], 0);
        refused(dir, "unexpected tensor transformer.h.7.mlp.c_fc.weight");
        // without a config (generic read): a stride-0 expansion beyond its storage is refused too
        zip(bin, pickle(new T("x", "0", 1, 0, new long[] {1 << 14, 1 << 14}, new long[] {0, 0})), 0, "0", new byte[4], 0);
        long before = allocated();
        try (NDManager m = base.newSubManager()) {
            RuntimeException e = assertThrows(FormatError.class, () -> TorchPickle.read(bin, m));
            assertTrue(e.getMessage().contains("268435456 elements over a storage of 1"), e.getMessage());
        }
        assertTrue(allocated() - before < 32 << 20);
    }

    @Test
    void aSafetensorsTensorOfTheWrongShapeIsRefusedBeforeReading(@TempDir Path tmp) throws IOException {
        Path dir = folder(tmp);
        Path st = dir.resolve("model.safetensors");
        try (NDManager m = base.newSubManager()) {
            SafeTensors.write(st, java.util.Map.of("transformer.wte.weight", m.zeros(new ai.djl.ndarray.types.Shape(1000, 65))));
            RuntimeException e = Gpt2Fixtures.refusal(() -> Gpt2Pretrained.load(dir, m));
            assertTrue(e.getMessage().startsWith(st.toString()) && e.getMessage().contains("expected [1000, 64]"), e.getMessage());
        }
    }

    @Test
    void honestCheckpointsStillLoad() {
        try (NDManager m = base.newSubManager()) {
            Gpt2Pretrained.load(Gpt2Fixtures.randomGpt2Bin(), m).close();
            Gpt2Pretrained.load(Gpt2Fixtures.randomGpt2(), m).close();
        }
    }
}
