package org.privllm.lab.verify;

import java.util.ArrayList;
import java.util.List;
import org.ejml.data.DMatrixRMaj;
import org.privllm.tensor.KvCache;
import org.privllm.tensor.Matrix;
import org.privllm.trusted.mask.BlockDiagonalMask;
import org.privllm.trusted.mask.Mask;

/**
 * The attention core checked in the trusted domain (DESIGN §1): with {@code N_Q·N_Kᵀ = I} the masked
 * scores equal the plaintext ones, so does the softmax, and the values come out masked by {@code N_V}.
 * Both sides are evaluated in double from the same float32 tensors the executor holds (its fused
 * {@code c_attn} output and its cache rows), so what is measured is the scheme's error, not the kernel's.
 */
public final class AttentionCore {
    private AttentionCore() {}

    /** Errors accumulated over calls (layers, steps). */
    public static final class Errors {
        /**
         * {@code Q̃·K̃ᵀ} vs {@code Q·Kᵀ} over every (query, visible key) pair, both divided by the plaintext
         * {@code |q|·|k|}: the scale float rounding works at (a score that cancels to near zero would otherwise be
         * held to a relative tolerance its terms' rounding exceeds).
         */
        public final ErrorAccumulator scores = new ErrorAccumulator();
        /** {@code softmax(scale·Q̃K̃ᵀ)} vs {@code softmax(scale·QKᵀ)} with the causal and padding mask. */
        public final ErrorAccumulator softmax = new ErrorAccumulator();
        /** {@code P̃·Ṽ} vs {@code (P·V)·N_V}: what the executor holds vs the masked plaintext. */
        public final ErrorAccumulator pvMasked = new ErrorAccumulator();
        /** {@code P̃·Ṽ·diag(N_V)⁻¹} vs {@code P·V}: the attention output once unmasked. */
        public final ErrorAccumulator pvRecovered = new ErrorAccumulator();
    }

    /**
     * Compares one attention call. Both caches already hold this call's {@code t} new slots per sequence
     * (appended, not yet advanced), as {@link org.privllm.tensor.Attention#attend} leaves them: GPT-2's
     * multi-head layout ({@code width/heads}-wide heads, one key/value head per query head).
     */
    public static void compare(KvCache plain, KvCache masked, int layer, Matrix qkvPlain, Matrix qkvMasked, int t,
                               int heads, float scale, List<Mask> valueMasks, Errors into) {
        compare(plain, masked, layer, qkvPlain, qkvMasked, t, heads, heads, plain.width() / heads, scale, valueMasks, into);
    }

    /**
     * Compares one attention call of any decoder: {@code heads} query heads over {@code kvHeads} key/value heads of
     * width {@code headDim} (query head h reads key/value head {@code h / (heads/kvHeads)}). Both caches already
     * hold this call's {@code t} new slots per sequence (appended, not yet advanced). Rotary embeddings, if any, are
     * already applied to both the rows and the cached keys.
     *
     * @param qkvPlain   {@code batch·t × (heads + 2·kvHeads)·headDim} plaintext {@code [Q | K | V]}
     * @param qkvMasked  the executor's {@code [Q̃ | K̃ | Ṽ]} for the same rows
     * @param valueMasks per key/value head {@code N_V^g}
     */
    public static void compare(KvCache plain, KvCache masked, int layer, Matrix qkvPlain, Matrix qkvMasked, int t,
                               int heads, int kvHeads, int headDim, float scale, List<Mask> valueMasks, Errors into) {
        int dh = headDim, width = heads * dh, group = heads / kvHeads, past = plain.length();
        List<double[]> pvP = new ArrayList<>(), pvM = new ArrayList<>();
        for (int b = 0; b < plain.batch(); b++) {
            int first = plain.leftPad(b), slots = past + t;
            float[][] kP = new float[slots][], vP = new float[slots][], kM = new float[slots][], vM = new float[slots][];
            for (int j = first; j < slots; j++) {
                kP[j] = plain.key(layer, b, j);
                vP[j] = plain.value(layer, b, j);
                kM[j] = masked.key(layer, b, j);
                vM[j] = masked.value(layer, b, j);
            }
            for (int i = 0; i < t; i++) {
                int last = past + i;
                if (first > last) {
                    continue; // a padding query: attends to nothing, its output is never used
                }
                int row = b * t + i;
                double[] outP = new double[width], outM = new double[width];
                for (int h = 0; h < heads; h++) {
                    int o = h * dh, ko = h / group * dh;
                    double[] sP = new double[last + 1], sM = new double[last + 1];
                    double qNorm = Math.sqrt(dot(qkvPlain.data, row * qkvPlain.cols + o, qkvPlain.data,
                            row * qkvPlain.cols + o, dh));
                    for (int j = first; j <= last; j++) {
                        sP[j] = dot(qkvPlain.data, row * qkvPlain.cols + o, kP[j], ko, dh);
                        sM[j] = dot(qkvMasked.data, row * qkvMasked.cols + o, kM[j], ko, dh);
                        double n = qNorm * Math.sqrt(dot(kP[j], ko, kP[j], ko, dh));
                        n = n > 0 ? n : 1;
                        into.scores.add(sP[j] / n, sM[j] / n);
                    }
                    double[] pP = softmax(sP, first, last, scale), pM = softmax(sM, first, last, scale);
                    for (int j = first; j <= last; j++) {
                        into.softmax.add(pP[j], pM[j]);
                        for (int c = 0; c < dh; c++) {
                            outP[o + c] += pP[j] * vP[j][ko + c];
                            outM[o + c] += pM[j] * vM[j][ko + c];
                        }
                    }
                }
                pvP.add(outP);
                pvM.add(outM);
            }
        }
        if (pvP.isEmpty()) {
            return;
        }
        DMatrixRMaj p = rows(pvP), m = rows(pvM);
        List<Mask> perQueryHead = new ArrayList<>();
        for (int h = 0; h < heads; h++) {
            perQueryHead.add(valueMasks.get(h / group));
        }
        BlockDiagonalMask nV = new BlockDiagonalMask(perQueryHead);
        into.pvMasked.add(nV.apply(p), m);
        into.pvRecovered.add(p, nV.applyInverse(m));
    }

    private static double dot(float[] a, int ao, float[] b, int bo, int n) {
        // a and b may be the same array (a norm)
        double s = 0;
        for (int i = 0; i < n; i++) {
            s += (double) a[ao + i] * b[bo + i];
        }
        return s;
    }

    private static double[] softmax(double[] s, int first, int last, float scale) {
        double max = Double.NEGATIVE_INFINITY;
        for (int j = first; j <= last; j++) {
            max = Math.max(max, s[j] * scale);
        }
        double[] p = new double[s.length];
        double sum = 0;
        for (int j = first; j <= last; j++) {
            p[j] = Math.exp(s[j] * scale - max);
            sum += p[j];
        }
        for (int j = first; j <= last; j++) {
            p[j] /= sum;
        }
        return p;
    }

    private static DMatrixRMaj rows(List<double[]> rows) {
        DMatrixRMaj m = new DMatrixRMaj(rows.size(), rows.get(0).length);
        for (int r = 0; r < rows.size(); r++) {
            System.arraycopy(rows.get(r), 0, m.data, r * m.numCols, m.numCols);
        }
        return m;
    }

    /**
     * Adds {@code N_Q^h·(N_K^g)ᵀ} against {@code I} for every query head h and its key/value head
     * {@code g = h / (heads/kvHeads)} (one key mask per group): the invariance that keeps scores exact.
     */
    public static void identity(List<Mask> queryMasks, List<Mask> keyMasks, ErrorAccumulator into) {
        int group = queryMasks.size() / keyMasks.size();
        for (int h = 0; h < queryMasks.size(); h++) {
            DMatrixRMaj q = queryMasks.get(h).toDense(), k = keyMasks.get(h / group).toDense();
            int d = q.numRows;
            for (int i = 0; i < d; i++) {
                for (int j = 0; j < d; j++) {
                    double s = 0;
                    for (int c = 0; c < d; c++) {
                        s += q.get(i, c) * k.get(j, c);
                    }
                    into.add(i == j ? 1 : 0, s);
                }
            }
        }
    }
}
