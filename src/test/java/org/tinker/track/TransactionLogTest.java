package org.tinker.track;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.zip.CRC32;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The .wandb block log, byte for byte as W&B's datastore writes it: header, 32 KiB blocks, chunk types, CRC-32, padding. */
class TransactionLogTest {
    @Test
    void headerAndFirstChunkAreLaidOutAsTheOfficialClientWritesThem(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("run-x.wandb");
        try (TransactionLog.Writer w = new TransactionLog.Writer(f)) {
            w.write(new byte[] {1, 2, 3});
        }
        byte[] b = Files.readAllBytes(f);
        assertEquals(7 + 7 + 3, b.length);
        assertArrayEquals(new byte[] {':', 'W', '&', 'B', (byte) 0xE1, (byte) 0xBE, 0}, java.util.Arrays.copyOf(b, 7));
        ByteBuffer h = ByteBuffer.wrap(b, 7, 7).order(ByteOrder.LITTLE_ENDIAN);
        CRC32 crc = new CRC32(); // zlib.crc32(data, zlib.crc32(chr(type))) in datastore.py
        crc.update(new byte[] {1, 1, 2, 3});
        assertEquals((int) crc.getValue(), h.getInt());
        assertEquals(3, h.getShort());
        assertEquals(1, h.get(), "FULL");
        assertThrows(java.nio.file.FileAlreadyExistsException.class, () -> new TransactionLog.Writer(f), "never overwritten");
    }

    @Test
    void recordsSpanningBlocksAndBlockTailsReadBackExactly(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("run-x.wandb");
        Random rnd = new Random(1);
        List<byte[]> written = new ArrayList<>();
        // sizes that leave 0..6 bytes at a block's end (padding), fill a block exactly, and span three blocks
        int[] sizes = {32768 - 7 - 7 - 3, 10, 0, 70000, 5, 32761 - 7, 100, 40000};
        try (TransactionLog.Writer w = new TransactionLog.Writer(f)) {
            for (int n : sizes) {
                byte[] r = new byte[n];
                rnd.nextBytes(r);
                written.add(r);
                w.write(r);
            }
        }
        List<byte[]> read = TransactionLog.read(f);
        assertEquals(written.size(), read.size());
        for (int i = 0; i < written.size(); i++) assertArrayEquals(written.get(i), read.get(i), "record " + i);
        // a chunk type per block start: the second block starts with padding-free header of a FIRST/MIDDLE/LAST/FULL chunk
        byte[] b = Files.readAllBytes(f);
        for (int block = 32768; block + 7 <= b.length; block += 32768) assertTrue(b[block + 6] >= 1 && b[block + 6] <= 4, "block at " + block);
        // a flipped payload byte is caught by the checksum
        b[100] ^= 1;
        Files.write(f, b);
        assertThrows(java.io.IOException.class, () -> TransactionLog.read(f));
    }

    @Test
    void aTornTailEndsTheRecords(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("run-x.wandb");
        try (TransactionLog.Writer w = new TransactionLog.Writer(f)) {
            w.write(new byte[] {9});
            w.write(new byte[50000]);
        }
        byte[] b = Files.readAllBytes(f);
        Files.write(f, java.util.Arrays.copyOf(b, 40000)); // killed in the middle of the second record
        assertEquals(1, TransactionLog.read(f).size());
    }
}
