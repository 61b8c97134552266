package org.privllm.trusted.verify;

import org.ejml.data.DMatrixRMaj;
import org.privllm.tensor.Matrix;

/**
 * How far {@code actual} is from {@code expected}.
 *
 * @param maxAbsError  {@code max |a − e|}
 * @param meanAbsError {@code mean |a − e|}
 * @param maxRelError  {@code max |a − e| / max |e|}: relative to the largest expected magnitude (a
 *                     normwise measure, so entries that happen to be near zero do not blow it up)
 * @param allclose     numpy's {@code allclose(a, e, rtol, atol)}: every {@code |a − e| <= atol + rtol·|e|},
 *                     no NaN
 */
public record ErrorStats(double maxAbsError, double meanAbsError, double maxRelError, boolean allclose,
                         double atol, double rtol, int count) {
    /** The default tolerances of the verification API. */
    public static final double TOLERANCE = 1e-4;

    /** Compares float32 tensors at atol = rtol = 1e-4. */
    public static ErrorStats compare(Matrix expected, Matrix actual) {
        checkShape(expected.rows, expected.cols, actual.rows, actual.cols);
        return compare(widen(expected.data), widen(actual.data), TOLERANCE, TOLERANCE);
    }

    /** Compares float64 tensors at atol = rtol = 1e-4. */
    public static ErrorStats compare(DMatrixRMaj expected, DMatrixRMaj actual) {
        return compare(expected, actual, TOLERANCE, TOLERANCE);
    }

    public static ErrorStats compare(DMatrixRMaj expected, DMatrixRMaj actual, double atol, double rtol) {
        checkShape(expected.numRows, expected.numCols, actual.numRows, actual.numCols);
        return compare(expected.data, actual.data, atol, rtol);
    }

    public static ErrorStats compare(double[] expected, double[] actual, double atol, double rtol) {
        if (expected.length != actual.length) {
            throw new IllegalArgumentException("compare " + expected.length + " values with " + actual.length);
        }
        double maxAbs = 0, sumAbs = 0, maxExpected = 0;
        boolean close = true;
        for (int i = 0; i < expected.length; i++) {
            double e = expected[i], a = actual[i], d = Math.abs(a - e);
            if (Double.isNaN(d)) {
                close = false;
                maxAbs = Double.NaN;
                continue;
            }
            maxAbs = Math.max(maxAbs, d);
            sumAbs += d;
            maxExpected = Math.max(maxExpected, Math.abs(e));
            if (!(d <= atol + rtol * Math.abs(e))) {
                close = false;
            }
        }
        double rel = maxAbs == 0 ? 0 : maxAbs / maxExpected;
        return new ErrorStats(maxAbs, expected.length == 0 ? 0 : sumAbs / expected.length, rel, close, atol, rtol,
                expected.length);
    }

    /** True iff allclose holds and the relative error is within {@code rtol}. */
    public boolean within() {
        return allclose && maxRelError <= rtol;
    }

    private static double[] widen(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    private static void checkShape(int r1, int c1, int r2, int c2) {
        if (r1 != r2 || c1 != c2) {
            throw new IllegalArgumentException("compare shapes " + r1 + "x" + c1 + " and " + r2 + "x" + c2);
        }
    }

    @Override
    public String toString() {
        return String.format("max abs %.3e, mean abs %.3e, max rel %.3e, allclose(atol=%.0e, rtol=%.0e)=%s over %d",
                maxAbsError, meanAbsError, maxRelError, atol, rtol, allclose, count);
    }
}
