package org.privllm.trusted.verify;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.privllm.tensor.Matrix;

/**
 * Finds tensors that are equal to, or a scaled or permuted copy of, a secret: the cheapest leaks an
 * executor could exploit. Two vectors count as copies when their sorted magnitudes, each normalised by
 * its own maximum, agree within a tolerance — invariant to one common scale, sign flips and any
 * permutation of the entries. Checked for whole tensors and for every row and column (so a row- or
 * column-permuted copy, or one row of a secret inside a bigger tensor, is found too).
 */
public final class CopyDetector {
    /** Vectors shorter than this carry too little to tell a copy from chance. */
    static final int MIN_LENGTH = 4;

    private CopyDetector() {}

    /** One finding: received tensor {@code index} matches secret {@code secret} ({@code where}: "whole", or the "row" or "column" of the received tensor that matched). */
    public record Finding(int index, String secret, String where) {}

    /** Scans {@code received} against every named secret. */
    public static List<Finding> scan(List<Matrix> received, Map<String, Matrix> secrets, double tol) {
        List<Finding> out = new ArrayList<>();
        for (var s : secrets.entrySet()) {
            Matrix secret = s.getValue();
            List<Vector> secretVectors = vectors(secret);
            double[] whole = fingerprint(secret.data, 0, secret.data.length, 1);
            for (int i = 0; i < received.size(); i++) {
                Matrix m = received.get(i);
                if (m.data.length == secret.data.length && whole != null
                        && close(whole, fingerprint(m.data, 0, m.data.length, 1), tol)) {
                    out.add(new Finding(i, s.getKey(), "whole"));
                    continue;
                }
                String where = matchAnyVector(vectors(m), secretVectors, tol);
                if (where != null) {
                    out.add(new Finding(i, s.getKey(), where));
                }
            }
        }
        return out;
    }

    /** True iff {@code a} is a scaled/permuted copy of {@code b} as a whole. */
    public static boolean isScaledPermutedCopy(Matrix a, Matrix b, double tol) {
        double[] fa = fingerprint(a.data, 0, a.data.length, 1), fb = fingerprint(b.data, 0, b.data.length, 1);
        return fa != null && fb != null && close(fa, fb, tol);
    }

    /** "row" or "column" (of the received tensor) for the first vector matching any secret vector, else null. */
    private static String matchAnyVector(List<Vector> candidates, List<Vector> secrets, double tol) {
        for (Vector c : candidates) {
            for (Vector s : secrets) {
                if (close(c.fingerprint, s.fingerprint, tol)) {
                    return c.column ? "column" : "row";
                }
            }
        }
        return null;
    }

    private record Vector(double[] fingerprint, boolean column) {}

    /** Fingerprints of every row and every column (null ones dropped). */
    private static List<Vector> vectors(Matrix m) {
        List<Vector> v = new ArrayList<>();
        for (int r = 0; r < m.rows; r++) {
            add(v, fingerprint(m.data, r * m.cols, m.cols, 1), false);
        }
        for (int c = 0; c < m.cols; c++) {
            add(v, fingerprint(m.data, c, m.rows, m.cols), true);
        }
        return v;
    }

    private static void add(List<Vector> v, double[] f, boolean column) {
        if (f != null) {
            v.add(new Vector(f, column));
        }
    }

    /** Sorted |values| / max|values|, or null for a too-short or all-zero vector. */
    static double[] fingerprint(float[] data, int offset, int length, int stride) {
        if (length < MIN_LENGTH) {
            return null;
        }
        double[] f = new double[length];
        double max = 0;
        for (int i = 0; i < length; i++) {
            f[i] = Math.abs((double) data[offset + i * stride]);
            max = Math.max(max, f[i]);
        }
        if (!(max > 0) || Double.isInfinite(max)) {
            return null;
        }
        for (int i = 0; i < length; i++) {
            f[i] /= max;
        }
        Arrays.sort(f);
        return f;
    }

    private static boolean close(double[] a, double[] b, double tol) {
        if (a.length != b.length) {
            return false;
        }
        for (int i = 0; i < a.length; i++) {
            if (Math.abs(a[i] - b[i]) > tol) {
                return false;
            }
        }
        return true;
    }
}
