package org.tinker.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * Reads a {@code torch.save(state_dict)} checkpoint ({@code pytorch_model.bin}, zip serialization) without
 * executing anything. The pickle is interpreted by a small stack machine that knows only the opcodes such
 * files use and only these globals: {@code collections.OrderedDict}, {@code torch._utils._rebuild_tensor_v2},
 * {@code torch._utils._rebuild_parameter} and the typed {@code torch.*Storage} classes. Any other global
 * (for instance {@code posix.system}) makes the whole file refused with a {@link FormatError} naming it,
 * before any object is built; nothing is ever called or imported. Storages are read from the zip's
 * {@code data/} entries; tensors are rebuilt from (storage, offset, size, stride) with the strides honoured,
 * and tensors that share one storage (tied weights) come out as copies with the same values.
 */
public final class TorchPickle {
    private TorchPickle() {}

    private static final Set<String> STORAGES = Set.of("FloatStorage", "DoubleStorage", "HalfStorage", "BFloat16Storage",
            "LongStorage", "IntStorage", "ShortStorage", "CharStorage", "ByteStorage", "BoolStorage");

    /** A reference to a global the pickle asked for (only allowed ones are ever made). */
    private record Global(String module, String name) {
        String full() {
            return module + "." + name;
        }
    }

    private record Mark() {}

    private static final Object MARK = new Mark();

    /** A storage named by a persistent id: (dtype, zip entry key, element count). */
    private record Storage(DataType dtype, String key, long numel) {}

    /** An un-materialised tensor: storage view. */
    private record TensorRef(Storage storage, long offset, long[] size, long[] stride) {}

    /** A "tuple" on the pickle stack. */
    private record Tup(List<Object> items) {}

    /** Without a config: a file's storages may inflate to at most this many bytes, or 16 times the file's size. */
    private static final long GENERIC_FLOOR = 64L << 20;

    /** Reads all tensors of the checkpoint into {@code manager}, by state-dict key, in file order (generic bounds). */
    public static LinkedHashMap<String, NDArray> read(Path file, NDManager manager) {
        return read(file, manager, null);
    }

    /**
     * Reads all tensors of the checkpoint into {@code manager}, by state-dict key, in file order. Every read is
     * bounded before anything is allocated: the pickle by a size limit, each storage by the element count its
     * persistent id declares (a zip entry that declares or inflates to more is refused, the reading stopping at the
     * bound), all storages together by what {@code expected} describes (without it, by 64 MB or 16 times the file's
     * size), and each tensor view by its storage and by the name, shape and dtype {@code expected} gives it.
     */
    public static LinkedHashMap<String, NDArray> read(Path file, NDManager manager, ExpectedTensors expected) {
        if (!Files.isRegularFile(file)) throw new FormatError(file + ": no such file (expected a torch.save checkpoint)");
        try (ZipFile zip = new ZipFile(file.toFile())) {
            String prefix = null;
            for (Enumeration<? extends ZipEntry> en = zip.entries(); en.hasMoreElements(); ) {
                String n = en.nextElement().getName();
                if (n.endsWith("/data.pkl") && n.indexOf('/') == n.length() - "/data.pkl".length()) prefix = n.substring(0, n.length() - "data.pkl".length());
            }
            if (prefix == null) throw new FormatError(file + ": not a torch zip checkpoint (no */data.pkl inside)");
            long pklLimit = expected == null ? 16L << 20 : (1L << 20) + 1024L * expected.shapes().size();
            byte[] pkl = readEntry(file, zip, zip.getEntry(prefix + "data.pkl"), pklLimit, false, "the pickle");
            Object root = new Machine(pkl, file).run();
            if (!(root instanceof LinkedHashMap<?, ?> dict))
                throw new FormatError(file + ": expected the pickle to hold a state dict (a dict of tensors)");
            // every check before the first storage is read
            Map<String, Storage> storages = new LinkedHashMap<>();
            long storageBytes = 0, storageElems = 0;
            long byteCap = expected == null ? Math.max(GENERIC_FLOOR, 16 * Files.size(file)) : Long.MAX_VALUE;
            long elemCap = expected == null ? Long.MAX_VALUE : expected.totalElements();
            for (Map.Entry<?, ?> e : dict.entrySet()) {
                if (!(e.getKey() instanceof String key) || !(e.getValue() instanceof TensorRef t))
                    throw new FormatError(file + ": expected the state dict to map names to tensors, got " + e.getKey());
                if (expected != null) expected.check(file, key, t.size(), t.storage().dtype());
                checkView(file, key, t, expected == null);
                Storage s = t.storage(), seen = storages.get(s.key());
                if (seen != null) {
                    if (!seen.equals(s)) throw new FormatError(file + ": storage data/" + s.key() + " is declared twice with different types or sizes (corrupt checkpoint)");
                    continue;
                }
                storages.put(s.key(), s);
                storageElems += s.numel();
                storageBytes += s.numel() * s.dtype().getNumOfBytes();
                if (storageElems > elemCap)
                    throw new FormatError(file + ": the storages hold more than the " + elemCap + " elements " + expected.where()
                            + " describes (at data/" + s.key() + " of " + key + "; refused before reading them)");
                if (storageBytes > byteCap)
                    throw new FormatError(file + ": the storages would inflate to more than " + byteCap + " bytes (64 MB or 16 times the file; at data/"
                            + s.key() + " of " + key + "; refused before reading them)");
            }
            Map<String, byte[]> storageCache = new HashMap<>();
            LinkedHashMap<String, NDArray> out = new LinkedHashMap<>();
            for (Map.Entry<String, TensorRef> e : refs(dict).entrySet()) {
                String key = e.getKey();
                TensorRef t = e.getValue();
                byte[] data = storageCache.get(t.storage().key());
                if (data == null) {
                    ZipEntry ze = zip.getEntry(prefix + "data/" + t.storage().key());
                    if (ze == null) throw new FormatError(file + ": storage data/" + t.storage().key() + " of " + key + " is missing");
                    data = readEntry(file, zip, ze, t.storage().numel() * t.storage().dtype().getNumOfBytes(), true, "the storage of " + key);
                    storageCache.put(t.storage().key(), data);
                }
                out.put(key, materialise(file, key, t, data, manager));
            }
            return out;
        } catch (java.util.zip.ZipException e) {
            throw new FormatError(file + ": not a valid torch checkpoint (corrupt zip: " + e.getMessage() + ")");
        } catch (IOException e) {
            throw new FormatError(file + ": cannot read (" + e.getMessage() + ")");
        }
    }

    private static LinkedHashMap<String, TensorRef> refs(Map<?, ?> dict) {
        LinkedHashMap<String, TensorRef> r = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : dict.entrySet()) r.put((String) e.getKey(), (TensorRef) e.getValue());
        return r;
    }

    /**
     * Reads a zip entry of at most {@code limit} bytes ({@code exact}: of exactly that many): refused when its
     * header declares more, and when it inflates to more, the reading stopping at {@code limit} + 1 bytes.
     */
    static byte[] readEntry(Path file, ZipFile zip, ZipEntry ze, long limit, boolean exact, String what) throws IOException {
        String name = ze.getName();
        if (limit > Integer.MAX_VALUE - 16)
            throw new FormatError(file + ": " + what + " (" + name + ") would need " + limit + " bytes, more than one array holds");
        long declared = ze.getSize();
        if (declared > limit || (exact && declared >= 0 && declared != limit))
            throw new FormatError(file + ": zip entry " + name + " declares " + declared + " bytes, expected " + (exact ? "" : "at most ")
                    + limit + " for " + what + " (refused before reading it)");
        byte[] buf = new byte[(int) (exact ? limit : Math.min(limit, declared >= 0 ? declared : Math.min(limit, 1 << 16)))];
        int n = 0;
        try (InputStream in = zip.getInputStream(ze)) {
            while (true) {
                if (n == buf.length) {
                    if (n >= limit) {
                        if (in.read() >= 0)
                            throw new FormatError(file + ": zip entry " + name + " inflates to more than the " + limit + " bytes expected for "
                                    + what + " (refused; reading stopped there)");
                        break;
                    }
                    buf = java.util.Arrays.copyOf(buf, (int) Math.min(limit, Math.max(16, 2L * buf.length)));
                }
                int r = in.read(buf, n, buf.length - n);
                if (r < 0) break;
                n += r;
            }
        }
        if (exact && n != limit)
            throw new FormatError(file + ": " + what + " holds " + n + " bytes, expected " + limit + " (truncated)");
        return n == buf.length ? buf : java.util.Arrays.copyOf(buf, n);
    }

    /**
     * Refuses a view that reaches outside its storage (negative or too large offset, size or stride), and without a
     * config ({@code noLargerThanStorage}) one with more elements than its storage (a stride-0 expansion).
     */
    private static void checkView(Path file, String key, TensorRef t, boolean noLargerThanStorage) {
        long numel = t.storage().numel(), off = t.offset();
        String bad = file + ": tensor " + key + " is a view (offset " + off + ", size " + java.util.Arrays.toString(t.size()) + ", stride "
                + java.util.Arrays.toString(t.stride()) + ") ";
        if (numel < 0 || numel > (Long.MAX_VALUE >> 4))
            throw new FormatError(file + ": storage of " + key + " declares " + numel + " elements (corrupt checkpoint)");
        long n = 1, last = off;
        if (off < 0) throw new FormatError(bad + "with a negative offset (corrupt checkpoint)");
        for (int d = 0; d < t.size().length; d++) {
            long sz = t.size()[d], st = t.stride()[d];
            if (sz < 0 || st < 0) throw new FormatError(bad + "with a negative size or stride (corrupt checkpoint)");
            if (sz == 0) return; // no element is read
            n = Math.multiplyHigh(n, sz) != 0 || n * sz < 0 ? Long.MAX_VALUE : n * sz;
            long reach = Math.multiplyHigh(sz - 1, st) != 0 || (sz - 1) * st < 0 ? Long.MAX_VALUE : (sz - 1) * st;
            last = last > Long.MAX_VALUE - reach ? Long.MAX_VALUE : last + reach;
        }
        if (last >= numel)
            throw new FormatError(bad + "reaching element " + last + " of a storage of " + numel + " (corrupt checkpoint; refused before reading it)");
        if (noLargerThanStorage && n > numel)
            throw new FormatError(bad + "of " + n + " elements over a storage of " + numel + " (refused before allocating it)");
        if (n > (Integer.MAX_VALUE - 16) / t.storage().dtype().getNumOfBytes())
            throw new FormatError(bad + "of " + n + " elements, more than one buffer holds");
    }

    private static NDArray materialise(Path file, String key, TensorRef t, byte[] data, NDManager manager) {
        int es = t.storage().dtype().getNumOfBytes();
        long n = 1;
        for (long d : t.size()) n *= d;
        ByteBuffer buf = ByteBuffer.allocateDirect((int) (n * es)).order(ByteOrder.LITTLE_ENDIAN);
        int dims = t.size().length;
        long[] idx = new long[dims];
        for (long i = 0; i < n; i++) {
            long off = t.offset();
            for (int d = 0; d < dims; d++) off += idx[d] * t.stride()[d];
            if (off < 0 || (off + 1) * es > data.length)
                throw new FormatError(file + ": tensor " + key + " reaches outside its storage (corrupt checkpoint)");
            buf.put(data, (int) (off * es), es);
            for (int d = dims - 1; d >= 0; d--) {
                if (++idx[d] < t.size()[d]) break;
                idx[d] = 0;
            }
        }
        buf.flip();
        NDArray a = manager.create(buf, new Shape(t.size()), t.storage().dtype());
        a.setName(key);
        return a;
    }

    /** The restricted unpickler. */
    private static final class Machine {
        private final byte[] b;
        private final Path file;
        private int pos;
        private final ArrayList<Object> stack = new ArrayList<>();
        private final HashMap<Integer, Object> memo = new HashMap<>();

        Machine(byte[] b, Path file) {
            this.b = b;
            this.file = file;
        }

        private FormatError refuse(String what) {
            return new FormatError(file + ": refused to load the pickle: " + what
                    + " (only tensor data is accepted; nothing was executed)");
        }

        private int u8() {
            need(1);
            return b[pos++] & 0xFF;
        }

        private void need(int n) {
            if (pos + n > b.length) throw new FormatError(file + ": the pickle ends early (truncated or corrupt checkpoint)");
        }

        private int le(int n) {
            need(n);
            long v = 0;
            for (int i = 0; i < n; i++) v |= (long) (b[pos + i] & 0xFF) << (8 * i);
            pos += n;
            return (int) v;
        }

        private String str(int n) {
            if (n < 0) throw new FormatError(file + ": corrupt pickle (negative length)");
            need(n);
            String s = new String(b, pos, n, StandardCharsets.UTF_8);
            pos += n;
            return s;
        }

        private String line() {
            int start = pos;
            while (pos < b.length && b[pos] != '\n') pos++;
            need(1);
            String s = new String(b, start, pos - start, StandardCharsets.UTF_8);
            pos++;
            return s;
        }

        private Object pop() {
            if (stack.isEmpty()) throw new FormatError(file + ": corrupt pickle (stack underflow)");
            return stack.remove(stack.size() - 1);
        }

        private List<Object> popMark() {
            int m = stack.size() - 1;
            while (m >= 0 && stack.get(m) != MARK) m--;
            if (m < 0) throw new FormatError(file + ": corrupt pickle (no MARK)");
            List<Object> items = new ArrayList<>(stack.subList(m + 1, stack.size()));
            while (stack.size() > m) stack.remove(stack.size() - 1);
            return items;
        }

        private Global global(String module, String name) {
            boolean ok = (module.equals("collections") && name.equals("OrderedDict"))
                    || (module.equals("torch._utils") && (name.equals("_rebuild_tensor_v2") || name.equals("_rebuild_parameter")))
                    || (module.equals("torch") && STORAGES.contains(name));
            if (!ok) throw refuse("it references the global " + module + "." + name);
            return new Global(module, name);
        }

        Object run() {
            if (b.length == 0) throw new FormatError(file + ": empty pickle");
            while (true) {
                int op = u8();
                switch (op) {
                    case 0x80 -> u8();                                  // PROTO
                    case 0x95 -> pos += 8;                              // FRAME
                    case '.' -> {                                       // STOP
                        return pop();
                    }
                    case '}' -> stack.add(new LinkedHashMap<Object, Object>()); // EMPTY_DICT
                    case ')' -> stack.add(new Tup(List.of()));          // EMPTY_TUPLE
                    case ']' -> stack.add(new ArrayList<Object>());     // EMPTY_LIST
                    case '(' -> stack.add(MARK);                        // MARK
                    case 'N' -> stack.add(null);                        // NONE
                    case 0x88 -> stack.add(Boolean.TRUE);               // NEWTRUE
                    case 0x89 -> stack.add(Boolean.FALSE);              // NEWFALSE
                    case 'K' -> stack.add((long) u8());                 // BININT1
                    case 'M' -> stack.add((long) le(2));                // BININT2
                    case 'J' -> stack.add((long) le(4));                // BININT
                    case 0x8a -> {                                      // LONG1
                        int n = u8();
                        need(n);
                        long v = 0;
                        for (int i = 0; i < n; i++) v |= (long) (b[pos + i] & 0xFF) << (8 * i);
                        if (n > 0 && n < 8 && (b[pos + n - 1] & 0x80) != 0) v -= 1L << (8 * n);
                        pos += n;
                        stack.add(v);
                    }
                    case 'G' -> {                                       // BINFLOAT
                        need(8);
                        stack.add(ByteBuffer.wrap(b, pos, 8).order(ByteOrder.BIG_ENDIAN).getDouble());
                        pos += 8;
                    }
                    case 'X' -> stack.add(str(le(4)));                  // BINUNICODE
                    case 0x8c -> stack.add(str(u8()));                  // SHORT_BINUNICODE
                    case 'U' -> stack.add(str(u8()));                   // SHORT_BINSTRING
                    case 'T' -> stack.add(str(le(4)));                  // BINSTRING
                    case 'q' -> memo.put(u8(), peek());                 // BINPUT
                    case 'r' -> memo.put(le(4), peek());                // LONG_BINPUT
                    case 0x94 -> memo.put(memo.size(), peek());         // MEMOIZE
                    case 'h' -> stack.add(memoGet(u8()));               // BINGET
                    case 'j' -> stack.add(memoGet(le(4)));              // LONG_BINGET
                    case 't' -> stack.add(new Tup(popMark()));          // TUPLE
                    case 0x85 -> stack.add(new Tup(java.util.Arrays.asList(pop())));    // TUPLE1
                    case 0x86 -> {                                      // TUPLE2
                        Object y = pop(), x = pop();
                        stack.add(new Tup(java.util.Arrays.asList(x, y)));
                    }
                    case 0x87 -> {                                      // TUPLE3
                        Object z = pop(), y = pop(), x = pop();
                        stack.add(new Tup(java.util.Arrays.asList(x, y, z)));
                    }
                    case 'c' -> {                                       // GLOBAL
                        String module = line();
                        String name = line();
                        stack.add(global(module, name));
                    }
                    case 0x93 -> {                                      // STACK_GLOBAL
                        Object name = pop(), module = pop();
                        stack.add(global(String.valueOf(module), String.valueOf(name)));
                    }
                    case 'Q' -> stack.add(persistent(pop()));           // BINPERSID
                    case 'R' -> {                                       // REDUCE
                        Object args = pop(), fn = pop();
                        stack.add(reduce(fn, args));
                    }
                    case 'b' -> {                                       // BUILD: state of an OrderedDict (e.g. _metadata): ignored
                        pop();
                        Object target = peek();
                        if (!(target instanceof LinkedHashMap) && !(target instanceof TensorRef))
                            throw refuse("BUILD on a " + describe(target));
                    }
                    case 's' -> {                                       // SETITEM
                        Object v = pop(), k = pop();
                        dict(peek()).put(k, v);
                    }
                    case 'u' -> {                                       // SETITEMS
                        List<Object> items = popMark();
                        Map<Object, Object> d = dict(peek());
                        for (int i = 0; i + 1 < items.size(); i += 2) d.put(items.get(i), items.get(i + 1));
                    }
                    case 'a' -> {                                       // APPEND
                        Object v = pop();
                        list(peek()).add(v);
                    }
                    case 'e' -> {                                       // APPENDS
                        List<Object> items = popMark();
                        list(peek()).addAll(items);
                    }
                    default -> throw refuse(String.format("unsupported pickle opcode 0x%02x at byte %d", op, pos - 1));
                }
            }
        }

        private Object peek() {
            if (stack.isEmpty()) throw new FormatError(file + ": corrupt pickle (stack underflow)");
            return stack.get(stack.size() - 1);
        }

        private Object memoGet(int i) {
            if (!memo.containsKey(i)) throw new FormatError(file + ": corrupt pickle (memo " + i + " unset)");
            return memo.get(i);
        }

        @SuppressWarnings("unchecked")
        private Map<Object, Object> dict(Object o) {
            if (o instanceof LinkedHashMap<?, ?> m) return (Map<Object, Object>) m;
            throw refuse("SETITEM on a " + describe(o));
        }

        @SuppressWarnings("unchecked")
        private List<Object> list(Object o) {
            if (o instanceof ArrayList<?> l) return (List<Object>) l;
            throw refuse("APPEND on a " + describe(o));
        }

        private static String describe(Object o) {
            return o == null ? "None" : o instanceof Global g ? g.full() : o.getClass().getSimpleName();
        }

        /** torch's persistent id: ('storage', StorageType, key, location, numel). */
        private Object persistent(Object pid) {
            if (!(pid instanceof Tup t) || t.items().size() < 5 || !"storage".equals(t.items().get(0))
                    || !(t.items().get(1) instanceof Global g) || !(t.items().get(2) instanceof String key)
                    || !(t.items().get(4) instanceof Long numel))
                throw refuse("a persistent id that is not a torch storage");
            if (!g.module().equals("torch") || !STORAGES.contains(g.name())) throw refuse("storage type " + g.full());
            if (!key.matches("[0-9A-Za-z_]+")) throw refuse("storage key '" + key + "'");
            return new Storage(storageType(g.name()), key, numel);
        }

        private static DataType storageType(String name) {
            return switch (name) {
                case "FloatStorage" -> DataType.FLOAT32;
                case "DoubleStorage" -> DataType.FLOAT64;
                case "HalfStorage" -> DataType.FLOAT16;
                case "BFloat16Storage" -> DataType.BFLOAT16;
                case "LongStorage" -> DataType.INT64;
                case "IntStorage" -> DataType.INT32;
                case "ShortStorage" -> DataType.INT16;
                case "CharStorage" -> DataType.INT8;
                case "ByteStorage" -> DataType.UINT8;
                default -> DataType.BOOLEAN;
            };
        }

        private Object reduce(Object fn, Object args) {
            if (!(fn instanceof Global g)) throw refuse("a call of " + describe(fn));
            if (!(args instanceof Tup t)) throw refuse("a call with non-tuple arguments");
            List<Object> a = t.items();
            switch (g.full()) {
                case "collections.OrderedDict" -> {
                    if (!a.isEmpty()) throw refuse("OrderedDict built from arguments");
                    return new LinkedHashMap<Object, Object>();
                }
                case "torch._utils._rebuild_tensor_v2" -> {
                    // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
                    if (a.size() < 4 || !(a.get(0) instanceof Storage s) || !(a.get(1) instanceof Long off)
                            || !(a.get(2) instanceof Tup size) || !(a.get(3) instanceof Tup stride)
                            || size.items().size() != stride.items().size())
                        throw refuse("malformed _rebuild_tensor_v2 arguments");
                    return new TensorRef(s, off, longs(size), longs(stride));
                }
                case "torch._utils._rebuild_parameter" -> {
                    if (a.isEmpty() || !(a.get(0) instanceof TensorRef tr)) throw refuse("malformed _rebuild_parameter arguments");
                    return tr;
                }
                default -> throw refuse("a call of " + g.full());
            }
        }

        private long[] longs(Tup t) {
            long[] r = new long[t.items().size()];
            for (int i = 0; i < r.length; i++) {
                if (!(t.items().get(i) instanceof Long l)) throw refuse("a non-integer tensor size or stride");
                r[i] = l;
            }
            return r;
        }
    }
}
