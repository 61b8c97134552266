package org.privllm.trusted.linalg;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.GeneralSecurityException;
import java.util.Random;
import javax.crypto.Cipher;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.privllm.tensor.DoubleMatrix;
import org.privllm.tensor.Kernels;
import org.privllm.tensor.WideKernels;
import org.privllm.tensor.Matrix;

/**
 * Secret Gaussian randomness in bulk: {@code N(0, std²)} floats from an AES-256-CTR keystream whose key
 * and counter are drawn once from a {@link Random} ({@code SecureRandom} unless an experiment seeded it).
 * Pads and dense masks are millions of entries: from {@code SecureRandom} (NativePRNG, ~80 MB/s here)
 * a prefill pad cost more than the product it blinds; the AES-NI keystream runs at ~5 GB/s and the
 * vectorised Box–Muller at ~1.5 ns per entry. Trusted-side only; thread-safe (a pool thread and the
 * caller may draw from one stream). A seeded stream replays the same words and the same values, compiled or
 * interpreted: the transforms' logarithm, sine and cosine are polynomials over exact operations.
 */
public final class GaussianStream {
    private static final int CHUNK_WORDS = 1 << 14;

    static {
        warmUpIntrinsic();
    }

    /**
     * HotSpot runs AES-CTR through its intrinsic (~5 GB/s here) only once {@code CounterMode.implCrypt} is
     * C2-compiled, and that waits for ~5000 invocations; a pad stream makes a few hundred per prefill, so the
     * first ~20 prefills of a process ran at ~230 MB/s (measured). A few thousand one-block updates on a
     * throwaway key cost milliseconds and get it compiled before the first real pad.
     */
    private static void warmUpIntrinsic() {
        try {
            Cipher c = Cipher.getInstance("AES/CTR/NoPadding");
            c.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(new byte[32], "AES"), new IvParameterSpec(new byte[16]));
            byte[] in = new byte[16], out = new byte[16];
            for (int i = 0; i < 20_000; i++) {
                c.update(in, 0, in.length, out, 0);
            }
        } catch (GeneralSecurityException e) {
            // the constructor reports an unusable AES-CTR
        }
    }

    private final Cipher keystream;
    private final byte[] zeros = new byte[4 * CHUNK_WORDS];
    private final byte[] block = new byte[4 * CHUNK_WORDS];
    private final int[] words = new int[CHUNK_WORDS];

    /** Keys a fresh stream from 48 bytes of {@code seedSource}. */
    public GaussianStream(Random seedSource) {
        byte[] key = new byte[32], iv = new byte[16];
        seedSource.nextBytes(key);
        seedSource.nextBytes(iv);
        try {
            keystream = Cipher.getInstance("AES/CTR/NoPadding");
            keystream.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, "AES"), new IvParameterSpec(iv));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-CTR is unavailable in this JDK", e);
        } finally {
            java.util.Arrays.fill(key, (byte) 0);
        }
    }

    /**
     * A fresh {@code rows×cols} float64 matrix of {@code N(0, std²)} entries with 52 random mantissa bits
     * each (the blinded levels' pads: see {@link WideKernels#gaussian}).
     */
    public synchronized DoubleMatrix gaussian64(int rows, int cols, double std) {
        DoubleMatrix m = new DoubleMatrix(rows, cols);
        double[] out = m.data;
        long[] longs = new long[CHUNK_WORDS / 2];
        int done = 0;
        while (done < out.length) {
            int n = Math.min(CHUNK_WORDS / 2, out.length - done + 1) & ~1;
            try {
                keystream.update(zeros, 0, 8 * n, block, 0);
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException("AES-CTR keystream failed", e);
            }
            ByteBuffer.wrap(block, 0, 8 * n).order(ByteOrder.LITTLE_ENDIAN).asLongBuffer().get(longs, 0, n);
            int take = Math.min(n, out.length - done);
            if (take == n) {
                WideKernels.gaussian(longs, out, done, n, std);
            } else {
                double[] pair = new double[n];
                WideKernels.gaussian(longs, pair, 0, n, std);
                System.arraycopy(pair, 0, out, done, take);
            }
            done += take;
        }
        return m;
    }

    /** A fresh {@code rows×cols} matrix of {@code N(0, std²)} entries. */
    public synchronized Matrix gaussian(int rows, int cols, double std) {
        Matrix m = new Matrix(rows, cols);
        float[] out = m.data;
        int done = 0;
        while (done < out.length) {
            int n = Math.min(CHUNK_WORDS, out.length - done + 1) & ~1; // even, one spare word for an odd tail
            try {
                keystream.update(zeros, 0, 4 * n, block, 0);
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException("AES-CTR keystream failed", e);
            }
            ByteBuffer.wrap(block, 0, 4 * n).order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().get(words, 0, n);
            int take = Math.min(n, out.length - done);
            if (take == n) {
                Kernels.gaussian(words, out, done, n, (float) std);
            } else { // odd tail: generate a pair, keep one
                float[] pair = new float[n];
                Kernels.gaussian(words, pair, 0, n, (float) std);
                System.arraycopy(pair, 0, out, done, take);
            }
            done += take;
        }
        return m;
    }
}
