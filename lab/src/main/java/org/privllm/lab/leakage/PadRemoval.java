package org.privllm.lab.leakage;

import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.factory.LinearSolverFactory_DDRM;
import org.ejml.interfaces.linsol.LinearSolverDense;
import org.privllm.tensor.Matrix;

/**
 * Attack 6: pads add nothing as pad mode sends them. The executor gets {@code X̃ = (X − T)·N_in} and
 * {@code C = T·W'·N_out} and holds {@code W̃' = N_in⁻¹·W'·N_out} (the base weight plus the masked adapter
 * product {@code Ã·B̃}), so {@code C = (T·N_in)·W̃'}: whenever the layer's input is no wider than its output
 * (c_attn, c_fc, the LM head) {@code W̃'} has full row rank and {@code T·N_in = C·pinv(W̃')} exactly, hence
 * {@code X̃ + T·N_in = X·N_in}: every padded input becomes the masked input of mask mode.
 *
 * <p>The least-squares fit uses at most {@link #MAX_COLUMNS_PER_ROW}·d output columns (evenly spaced; all
 * of c_attn's): the system is consistent, so any well-conditioned subset gives the same answer, and the
 * LM head's 50257 columns would only cost time.
 */
final class PadRemoval {
    /** Output columns used per input dimension: enough for a well-conditioned fit, few enough for the head. */
    static final int MAX_COLUMNS_PER_ROW = 4;

    private final int[] columns;
    private final LinearSolverDense<DMatrixRMaj> solver;
    private final DMatrixRMaj effective; // W̃' restricted to `columns` (d×k), to measure the fit

    private PadRemoval(int[] columns, DMatrixRMaj effective) {
        this.columns = columns;
        this.effective = effective;
        this.solver = LinearSolverFactory_DDRM.leastSquares(columns.length, effective.numRows);
        if (!solver.setA(transpose(effective))) {
            throw new IllegalStateException("least-squares set-up failed");
        }
    }

    /** Whether the pad is determined: {@code W̃'} has no more rows (input width) than columns. */
    static boolean applies(ExecutorView.Weight w) {
        return w.weight().rows <= w.weight().cols;
    }

    /** The fit for one uploaded weight (once per session: the weight does not change). */
    static PadRemoval of(ExecutorView.Weight w) {
        if (!applies(w)) {
            throw new IllegalArgumentException("a " + w.weight().shape() + " weight leaves the pad undetermined");
        }
        int d = w.weight().rows;
        int[] cols = PublicModel.evenlySpaced(w.weight().cols, MAX_COLUMNS_PER_ROW * d);
        return new PadRemoval(cols, effectiveWeight(w, cols));
    }

    /** What an unpadded call would have sent, and how much of the compensation the fit leaves unexplained. */
    record Result(Matrix masked, double residual) {}

    /**
     * {@code X̃ + C·pinv(W̃')} and the relative residual {@code ‖C − (T̂·N)·W̃'‖/‖C‖} on the fitted columns:
     * ~1e-7 (float32 rounding) when the pad is fully determined, of order 1 when the input is wider than
     * the output and it is not.
     */
    Result remove(Matrix x, Matrix compensation) {
        int n = x.rows, k = columns.length;
        DMatrixRMaj c = new DMatrixRMaj(k, n); // Cᵀ restricted to the fitted columns
        for (int r = 0; r < n; r++) {
            for (int j = 0; j < k; j++) {
                c.set(j, r, compensation.get(r, columns[j]));
            }
        }
        DMatrixRMaj padT = new DMatrixRMaj(effective.numRows, n); // (T·N)ᵀ
        solver.solve(c.copy(), padT); // the solver may overwrite its right-hand side
        Matrix out = x.copy();
        for (int r = 0; r < n; r++) {
            for (int i = 0; i < x.cols; i++) {
                out.data[r * x.cols + i] += (float) padT.get(i, r);
            }
        }
        return new Result(out, residual(c, padT));
    }

    /** {@code ‖Cᵀ − W̃'ᵀ·(T̂N)ᵀ‖/‖Cᵀ‖}. */
    private double residual(DMatrixRMaj cT, DMatrixRMaj padT) {
        double err = 0, norm = 0;
        int d = effective.numRows, k = columns.length, n = cT.numCols;
        for (int j = 0; j < k; j++) {
            for (int r = 0; r < n; r++) {
                double fit = 0;
                for (int i = 0; i < d; i++) {
                    fit += effective.get(i, j) * padT.get(i, r);
                }
                double e = cT.get(j, r) - fit;
                err += e * e;
                norm += cT.get(j, r) * cT.get(j, r);
            }
        }
        return Math.sqrt(err / Math.max(norm, 1e-300));
    }

    /** {@code W̃ + Ã·B̃} on the given columns, in double ({@code d×k}). */
    static DMatrixRMaj effectiveWeight(ExecutorView.Weight w, int[] cols) {
        Matrix wt = w.weight();
        int d = wt.rows, k = cols.length;
        DMatrixRMaj out = new DMatrixRMaj(d, k);
        for (int i = 0; i < d; i++) {
            for (int j = 0; j < k; j++) {
                out.set(i, j, wt.get(i, cols[j]));
            }
        }
        if (w.loraA() != null) {
            Matrix a = w.loraA(), b = w.loraB();
            for (int i = 0; i < d; i++) {
                for (int j = 0; j < k; j++) {
                    double s = 0;
                    for (int q = 0; q < a.cols; q++) {
                        s += (double) a.get(i, q) * b.get(q, cols[j]);
                    }
                    out.add(i, j, s);
                }
            }
        }
        return out;
    }

    private static DMatrixRMaj transpose(DMatrixRMaj m) {
        DMatrixRMaj t = new DMatrixRMaj(m.numCols, m.numRows);
        org.ejml.dense.row.CommonOps_DDRM.transpose(m, t);
        return t;
    }
}
