package org.privllm.trusted.mask;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.privllm.tensor.Matrix;
import org.privllm.trusted.linalg.Dense;

/**
 * {@code diag(N¹, …, Nᴴ)} of arbitrary masks, each acting on its own column range; applied block by
 * block, so its cost is the sum of its blocks' (O(n·d·b) for dense blocks of size b). Serves both the
 * block-orthogonal family and GPT-2's fused c_attn output mask
 * {@code diag(N_Q¹..N_Q^H, N_K¹..N_K^H, N_V¹..N_V^H)}.
 */
public final class BlockDiagonalMask implements Mask {
    private final List<Mask> blocks;
    private final int[] offsets;
    private final int dim;

    public BlockDiagonalMask(List<? extends Mask> blocks) {
        if (blocks.isEmpty()) {
            throw new IllegalArgumentException("block-diagonal mask needs at least one block");
        }
        this.blocks = List.copyOf(blocks);
        this.offsets = new int[blocks.size()];
        int o = 0;
        for (int i = 0; i < blocks.size(); i++) {
            offsets[i] = o;
            o += blocks.get(i).dim();
        }
        this.dim = o;
    }

    /** Dense orthogonal blocks of size {@code b}; the last block takes the remainder. */
    public static BlockDiagonalMask orthogonal(int d, int b, Random rnd) {
        if (d <= 0 || b <= 0) {
            throw new IllegalArgumentException("block mask needs d > 0 and b > 0, got d " + d + ", b " + b);
        }
        List<Mask> blocks = new ArrayList<>();
        for (int o = 0; o < d; o += b) {
            blocks.add(DenseMask.orthogonal(Math.min(b, d - o), rnd));
        }
        return new BlockDiagonalMask(blocks);
    }

    public List<Mask> blocks() {
        return blocks;
    }

    @Override
    public int dim() {
        return dim;
    }

    @Override
    public DMatrixRMaj apply(DMatrixRMaj x) {
        checkCols(x);
        DMatrixRMaj y = new DMatrixRMaj(x.numRows, dim);
        for (int i = 0; i < blocks.size(); i++) {
            Mask m = blocks.get(i);
            Dense.setCols(y, offsets[i], m.apply(Dense.cols(x, offsets[i], offsets[i] + m.dim())));
        }
        return y;
    }

    @Override
    public DMatrixRMaj applyInverse(DMatrixRMaj x) {
        checkCols(x);
        DMatrixRMaj y = new DMatrixRMaj(x.numRows, dim);
        for (int i = 0; i < blocks.size(); i++) {
            Mask m = blocks.get(i);
            Dense.setCols(y, offsets[i], m.applyInverse(Dense.cols(x, offsets[i], offsets[i] + m.dim())));
        }
        return y;
    }

    /** {@code X·N} at wire precision, block by block (each block at its own cost). */
    @Override
    public Matrix apply(Matrix x) {
        return blockwise(x, false);
    }

    @Override
    public Matrix applyInverse(Matrix x) {
        return blockwise(x, true);
    }

    private Matrix blockwise(Matrix x, boolean inverse) {
        if (x.cols != dim) {
            throw new IllegalArgumentException("mask of dim " + dim + " applied to " + x.shape());
        }
        Matrix y = new Matrix(x.rows, dim);
        // Blocks are independent: spread them over the workers (each block's small product then runs inline)
        // instead of fanning every 64-wide product out on its own.
        org.privllm.tensor.Parallel.forRange(blocks.size(), 1, (fromBlock, toBlock) -> {
            for (int i = fromBlock; i < toBlock; i++) {
                Mask m = blocks.get(i);
                Matrix part = x.cols(offsets[i], offsets[i] + m.dim());
                Matrix r = inverse ? m.applyInverse(part) : m.apply(part);
                for (int row = 0; row < x.rows; row++) {
                    System.arraycopy(r.data, row * r.cols, y.data, row * dim + offsets[i], r.cols);
                }
            }
        });
        return y;
    }

    @Override
    public Mask transposeInverse() {
        return new BlockDiagonalMask(blocks.stream().map(Mask::transposeInverse).toList());
    }

    @Override
    public double maxSingularValue() {
        return blocks.stream().mapToDouble(Mask::maxSingularValue).max().orElseThrow();
    }

    @Override
    public double minSingularValue() {
        return blocks.stream().mapToDouble(Mask::minSingularValue).min().orElseThrow();
    }

    @Override
    public String family() {
        return "block";
    }

    @Override
    public String toString() {
        return "BlockDiagonalMask[d=" + dim + ", blocks=" + blocks.size() + "]";
    }
}
