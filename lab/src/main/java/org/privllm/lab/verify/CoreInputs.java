package org.privllm.lab.verify;

import java.util.ArrayList;
import java.util.List;
import org.privllm.model.DecoderConfig;
import org.privllm.model.DecoderWeights;
import org.privllm.tensor.Matrix;
import org.privllm.tensor.Norms;
import org.privllm.tensor.Rope;
import org.privllm.trusted.mask.BlockDiagonalMask;
import org.privllm.trusted.mask.Mask;

/**
 * What an attention core does to the fused {@code [Q | K | V]} rows before it attends — per-head q/k
 * RMSNorm with its gains (Qwen3), then RoPE at each row's position — written here from the tensor kernels,
 * apart from {@link org.privllm.model.AttentionCore}, so the checks compare the protected pipeline with an
 * independent plaintext reference. Also the checks that masks commute with RoPE.
 */
public final class CoreInputs {
    private final DecoderConfig config;
    private final Rope rope;

    public CoreInputs(DecoderConfig config) {
        this.config = config;
        this.rope = config.positionEncoding() instanceof DecoderConfig.Rotary r
                ? new Rope(config.headDim(), r.inverseFrequencies(config.headDim())) : null;
    }

    public boolean rotary() {
        return rope != null;
    }

    /** A copy of {@code qkv} with every query and key head RMS-normalised by its gain (the model's q/k norm), if any. */
    public Matrix normalized(DecoderWeights.Layer l, Matrix qkv) {
        Matrix y = qkv.copy();
        if (!config.qkNorm()) {
            return y;
        }
        int q = config.qWidth(), qk = q + config.kvWidth(), hd = config.headDim();
        for (int r = 0; r < y.rows; r++) {
            for (int c = 0; c < qk; c += hd) {
                int o = r * y.cols + c;
                Norms.rmsNorm(y.data, o, hd, c < q ? l.qNorm() : l.kNorm(), config.norm().eps(), y.data, o);
            }
        }
        return y;
    }

    /** A copy of {@code rows} with queries and keys rotated to {@code positions} (one per row); unchanged without RoPE. */
    public Matrix rotated(Matrix rows, int[] positions) {
        Matrix y = rows.copy();
        if (rope != null) {
            rope.rotate(y, 0, config.heads(), positions);
            rope.rotate(y, config.qWidth(), config.kvHeads(), positions);
        }
        return y;
    }

    /** Positions of {@code t} new rows per sequence at cache length {@code past}: slot minus left padding (padding: 0). */
    public static int[] positions(int[] leftPad, int past, int t) {
        int[] pos = new int[leftPad.length * t];
        for (int b = 0; b < leftPad.length; b++) {
            for (int i = 0; i < t; i++) {
                pos[b * t + i] = Math.max(0, past + i - leftPad[b]);
            }
        }
        return pos;
    }

    /** {@code diag(N_Q¹..N_Q^H, N_K¹..N_K^KV)}: the masks of the query and key columns. */
    public static BlockDiagonalMask queryKeyMask(List<Mask> query, List<Mask> key) {
        List<Mask> all = new ArrayList<>(query);
        all.addAll(key);
        return new BlockDiagonalMask(all);
    }

    /**
     * RoPE commutes with the query/key masks: for every position in {@code at}, every row's queries and keys rotated
     * there, masked ({@code RoPE_p(Q̃), RoPE_p(K̃)}) vs plaintext then masked ({@code RoPE_p(Q)·N_Q, RoPE_p(K)·N_K}).
     *
     * @param plain  plaintext core input rows ({@code [Q | K | …]}, q/k norms applied, not rotated)
     * @param masked the same rows as the executor's attention core receives them (masked, not rotated)
     */
    public void commute(Matrix plain, Matrix masked, BlockDiagonalMask queryKey, int[] at, ErrorAccumulator into) {
        int qk = config.qWidth() + config.kvWidth();
        for (int p : at) {
            int[] pos = new int[plain.rows];
            java.util.Arrays.fill(pos, p);
            Matrix expected = queryKey.apply(rotated(plain, pos).cols(0, qk));
            into.add(expected, rotated(masked, pos).cols(0, qk));
        }
    }

    /**
     * Scores across positions: every query head's {@code RoPE_p(q̃)·RoPE_p'(k̃)ᵀ} (its group's key head) vs
     * {@code RoPE_p(q)·RoPE_p'(k)ᵀ}, for every row pair and every {@code p' ≤ p} from {@code at}: scores stay exact
     * under the masks whatever the two positions are. Both are divided by {@code |q|·|k|} (RoPE keeps norms), so the
     * comparison is at the scale float rounding works at: a score that cancels to near zero is not held to a
     * relative tolerance its terms' rounding exceeds.
     */
    public void scoresAcrossPositions(Matrix plain, Matrix masked, int[] at, ErrorAccumulator into) {
        int q = config.qWidth(), hd = config.headDim(), group = config.heads() / config.kvHeads();
        for (int pq : at) {
            for (int pk : at) {
                if (pk > pq) {
                    continue;
                }
                Matrix qP = rotated(plain, fill(plain.rows, pq)), kP = rotated(plain, fill(plain.rows, pk));
                Matrix qM = rotated(masked, fill(plain.rows, pq)), kM = rotated(masked, fill(plain.rows, pk));
                for (int i = 0; i < plain.rows; i++) {
                    for (int j = 0; j < plain.rows; j++) {
                        for (int h = 0; h < config.heads(); h++) {
                            int qo = h * hd, ko = q + h / group * hd;
                            double norms = Math.sqrt(dot(qP, i, qo, qP, i, qo, hd) * dot(kP, j, ko, kP, j, ko, hd));
                            double n = norms > 0 ? norms : 1;
                            into.add(dot(qP, i, qo, kP, j, ko, hd) / n, dot(qM, i, qo, kM, j, ko, hd) / n);
                        }
                    }
                }
            }
        }
    }

    private static int[] fill(int n, int p) {
        int[] a = new int[n];
        java.util.Arrays.fill(a, p);
        return a;
    }

    private static double dot(Matrix a, int i, int ao, Matrix b, int j, int bo, int n) {
        double s = 0;
        for (int c = 0; c < n; c++) {
            s += (double) a.data[i * a.cols + ao + c] * b.data[j * b.cols + bo + c];
        }
        return s;
    }

    /** Positions to check at: the first few, some in between and the model's last one. */
    public int[] checkPositions() {
        int last = config.positions() - 1;
        return java.util.stream.IntStream.of(0, 1, 2, 7, 31, 255, 1023, last).filter(p -> p <= last).distinct().toArray();
    }
}
