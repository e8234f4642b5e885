package org.tinker.track;

import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32;

/**
 * W&B's {@code .wandb} transaction log: LevelDB's log format (32 KiB blocks of chunks, each with a 7-byte header:
 * checksum, length, type FULL/FIRST/MIDDLE/LAST) after W&B's own 7-byte file header (":W&B", magic 0xBEE1,
 * version 0). W&B computes the chunk checksum as plain CRC-32 (IEEE, as zlib) over the type byte and the payload,
 * not LevelDB's masked CRC-32C. A block's last &lt;7 bytes are zero padding. Every record is one serialized
 * {@code Record} protobuf ({@link WandbProto}).
 */
final class TransactionLog {
    private TransactionLog() {}

    static final int BLOCK = 32 * 1024, HEADER = 7;
    static final int FULL = 1, FIRST = 2, MIDDLE = 3, LAST = 4;
    static final byte[] IDENT = {':', 'W', '&', 'B'};
    static final int MAGIC = 0xBEE1, VERSION = 0;

    static long checksum(int type, byte[] data, int off, int len) {
        CRC32 c = new CRC32();
        c.update(type);
        c.update(data, off, len);
        return c.getValue();
    }

    /** Appends records to a new file (the file must not exist: a transaction log is never overwritten). */
    static final class Writer implements Closeable {
        private final OutputStream out;
        private long pos;

        Writer(Path file) throws IOException {
            out = Files.newOutputStream(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            byte[] h = {IDENT[0], IDENT[1], IDENT[2], IDENT[3], (byte) (MAGIC & 0xff), (byte) (MAGIC >>> 8), VERSION};
            out.write(h);
            pos = h.length;
            out.flush();
        }

        /** Writes one record (split across blocks as needed) and flushes it to the file. */
        synchronized void write(byte[] record) throws IOException {
            ByteArrayOutputStream buf = new ByteArrayOutputStream(record.length + 2 * HEADER + 8);
            int done = 0;
            boolean first = true;
            do {
                int left = BLOCK - (int) (pos % BLOCK);
                if (left < HEADER) { // too small for a header: pad the block with zeros
                    buf.write(new byte[left], 0, left);
                    pos += left;
                    left = BLOCK;
                }
                int n = Math.min(record.length - done, left - HEADER);
                boolean last = done + n == record.length;
                int type = first && last ? FULL : first ? FIRST : last ? LAST : MIDDLE;
                long crc = checksum(type, record, done, n);
                buf.write((int) crc);
                buf.write((int) (crc >>> 8));
                buf.write((int) (crc >>> 16));
                buf.write((int) (crc >>> 24));
                buf.write(n & 0xff);
                buf.write(n >>> 8);
                buf.write(type);
                buf.write(record, done, n);
                pos += HEADER + n;
                done += n;
                first = false;
            } while (done < record.length);
            buf.writeTo(out);
            out.flush();
        }

        @Override
        public synchronized void close() throws IOException {
            out.close();
        }
    }

    /**
     * Every complete record of a file, in order. A torn tail (a process killed mid-write) ends the list; a
     * checksum mismatch or a bad header is an IOException naming the offset.
     */
    static List<byte[]> read(Path file) throws IOException {
        List<byte[]> records = new ArrayList<>();
        try (InputStream in = Files.newInputStream(file)) {
            byte[] all = in.readAllBytes();
            if (all.length < HEADER || all[0] != IDENT[0] || all[1] != IDENT[1] || all[2] != IDENT[2] || all[3] != IDENT[3])
                throw new IOException(file + ": not a W&B transaction log (no :W&B header)");
            int magic = (all[4] & 0xff) | (all[5] & 0xff) << 8;
            if (magic != MAGIC || all[6] != VERSION)
                throw new IOException(file + ": unsupported W&B transaction log (magic " + Integer.toHexString(magic) + ", version " + all[6] + ")");
            int pos = HEADER;
            ByteArrayOutputStream pending = null;
            while (true) {
                int left = BLOCK - pos % BLOCK;
                if (left < HEADER) pos += left;
                if (pos + HEADER > all.length) break;
                long crc = (all[pos] & 0xffL) | (all[pos + 1] & 0xffL) << 8 | (all[pos + 2] & 0xffL) << 16 | (all[pos + 3] & 0xffL) << 24;
                int len = (all[pos + 4] & 0xff) | (all[pos + 5] & 0xff) << 8;
                int type = all[pos + 6];
                if (crc == 0 && len == 0 && type == 0) break; // zeroed tail
                int start = pos + HEADER;
                if (start + len > all.length) break; // torn last chunk
                if (type < FULL || type > LAST || checksum(type, all, start, len) != crc)
                    throw new IOException(file + ": corrupt record at byte " + pos + " (checksum mismatch)");
                pos = start + len;
                switch (type) {
                    case FULL -> records.add(java.util.Arrays.copyOfRange(all, start, start + len));
                    case FIRST -> {
                        pending = new ByteArrayOutputStream();
                        pending.write(all, start, len);
                    }
                    case MIDDLE, LAST -> {
                        if (pending == null) throw new IOException(file + ": corrupt record at byte " + (start - HEADER) + " (continuation without start)");
                        pending.write(all, start, len);
                        if (type == LAST) {
                            records.add(pending.toByteArray());
                            pending = null;
                        }
                    }
                    default -> throw new EOFException();
                }
            }
        }
        return records;
    }
}
