package org.tinker.data;

import java.math.BigInteger;
import java.util.List;

/**
 * The random number generator of CPython's {@code random} module (MT19937 with Python's seeding and its
 * {@code random()}, {@code getrandbits}, {@code randint} and {@code choices} algorithms), so that the synthetic
 * tasks draw the same numbers as the reference's {@code random.seed(0)}. Checked against Python 3.11 output in
 * the tests. Not thread-safe.
 */
public final class PyRandom {
    private static final int N = 624;
    private static final int M = 397;
    private static final int MATRIX_A = 0x9908b0df;
    private static final int UPPER_MASK = 0x80000000;
    private static final int LOWER_MASK = 0x7fffffff;

    private final int[] mt = new int[N];
    private int mti = N + 1;

    /** Same state as Python's {@code random.seed(seed)} for a non-negative int seed below 2^32. */
    public PyRandom(long seed) {
        if (seed < 0 || seed > 0xffffffffL) throw new IllegalArgumentException("seed must be in [0, 2^32): " + seed);
        initByArray(new int[] {(int) seed});
    }

    private void initGenrand(int s) {
        mt[0] = s;
        for (mti = 1; mti < N; mti++) {
            mt[mti] = 1812433253 * (mt[mti - 1] ^ (mt[mti - 1] >>> 30)) + mti;
        }
    }

    private void initByArray(int[] key) {
        initGenrand(19650218);
        int i = 1;
        int j = 0;
        for (int k = Math.max(N, key.length); k > 0; k--) {
            mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >>> 30)) * 1664525)) + key[j] + j;
            i++;
            j++;
            if (i >= N) {
                mt[0] = mt[N - 1];
                i = 1;
            }
            if (j >= key.length) j = 0;
        }
        for (int k = N - 1; k > 0; k--) {
            mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >>> 30)) * 1566083941)) - i;
            i++;
            if (i >= N) {
                mt[0] = mt[N - 1];
                i = 1;
            }
        }
        mt[0] = 0x80000000;
    }

    /** 32 random bits (as an unsigned value in the low 32 bits of an int). */
    private int nextInt32() {
        if (mti >= N) {
            int kk;
            int y;
            for (kk = 0; kk < N - M; kk++) {
                y = (mt[kk] & UPPER_MASK) | (mt[kk + 1] & LOWER_MASK);
                mt[kk] = mt[kk + M] ^ (y >>> 1) ^ ((y & 1) != 0 ? MATRIX_A : 0);
            }
            for (; kk < N - 1; kk++) {
                y = (mt[kk] & UPPER_MASK) | (mt[kk + 1] & LOWER_MASK);
                mt[kk] = mt[kk + (M - N)] ^ (y >>> 1) ^ ((y & 1) != 0 ? MATRIX_A : 0);
            }
            y = (mt[N - 1] & UPPER_MASK) | (mt[0] & LOWER_MASK);
            mt[N - 1] = mt[M - 1] ^ (y >>> 1) ^ ((y & 1) != 0 ? MATRIX_A : 0);
            mti = 0;
        }
        int y = mt[mti++];
        y ^= (y >>> 11);
        y ^= (y << 7) & 0x9d2c5680;
        y ^= (y << 15) & 0xefc60000;
        y ^= (y >>> 18);
        return y;
    }

    /** Python's {@code random.random()}: a double in [0, 1) with 53 random bits. */
    public double random() {
        long a = Integer.toUnsignedLong(nextInt32()) >>> 5;
        long b = Integer.toUnsignedLong(nextInt32()) >>> 6;
        return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
    }

    /** Python's {@code random.getrandbits(k)}: k random bits, least significant 32-bit word drawn first. */
    public BigInteger getrandbits(int k) {
        if (k < 0) throw new IllegalArgumentException("k < 0");
        if (k == 0) return BigInteger.ZERO;
        if (k <= 32) return BigInteger.valueOf(Integer.toUnsignedLong(nextInt32()) >>> (32 - k));
        BigInteger r = BigInteger.ZERO;
        int shift = 0;
        for (int left = k; left > 0; left -= 32, shift += 32) {
            long w = Integer.toUnsignedLong(nextInt32());
            if (left < 32) w >>>= (32 - left);
            r = r.or(BigInteger.valueOf(w).shiftLeft(shift));
        }
        return r;
    }

    /** Python's {@code _randbelow(n)}: uniform in [0, n) by rejection sampling on {@code n.bit_length()} bits. */
    public BigInteger randbelow(BigInteger n) {
        if (n.signum() <= 0) throw new IllegalArgumentException("n must be positive: " + n);
        int k = n.bitLength();
        BigInteger r = getrandbits(k);
        while (r.compareTo(n) >= 0) r = getrandbits(k);
        return r;
    }

    private int randbelowInt(int n) {
        if (n <= 0) throw new IllegalArgumentException("n must be positive: " + n);
        int k = 32 - Integer.numberOfLeadingZeros(n);
        long r = Integer.toUnsignedLong(nextInt32()) >>> (32 - k);
        while (r >= n) r = Integer.toUnsignedLong(nextInt32()) >>> (32 - k);
        return (int) r;
    }

    /** Python's {@code random.randint(a, b)}, both ends included. */
    public int randint(int a, int b) {
        if (b < a) throw new IllegalArgumentException("empty range " + a + ".." + b);
        return a + randbelowInt(b - a + 1);
    }

    /** Python's {@code random.randint(a, b)} for big ranges. */
    public BigInteger randint(BigInteger a, BigInteger b) {
        return a.add(randbelow(b.subtract(a).add(BigInteger.ONE)));
    }

    /** Python's {@code ''.join(random.choices(alphabet, k=k))}. */
    public String choices(String alphabet, int k) {
        StringBuilder sb = new StringBuilder(k);
        int n = alphabet.length();
        for (int i = 0; i < k; i++) sb.append(alphabet.charAt((int) Math.floor(random() * n)));
        return sb.toString();
    }

    /** Python's {@code random.choice(items)} on a list, through {@code _randbelow}. */
    public <T> T choice(List<T> items) {
        return items.get(randbelowInt(items.size()));
    }
}
