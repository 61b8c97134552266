package org.privllm.trusted.privacy;

import org.privllm.protocol.WeightId;
import org.privllm.tensor.Kernels;
import org.privllm.tensor.Matrix;
import org.privllm.tensor.PackedWeight;

/**
 * One linear layer {@code Y = X·W + b + s·(X·A)·B} whose product runs where a {@link LinearPlacement} puts
 * it. For the blinded levels the executors hold the public {@code W} (uploaded without bias) and the trusted
 * domain keeps {@code b}, a private adapter's {@code A}, {@code s·B} and a packed copy of {@code W} (for the
 * strong level's pad products and the calibration run).
 *
 * @param name    for reports and errors only (never sent)
 * @param weight  packed {@code W}: the trusted copy for {@code T·W} (strong) and the calibration run
 * @param bias    nullable
 * @param loraA   nullable: a private adapter's {@code A (in×r)}
 * @param loraB   nullable: {@code s·B (r×out)}
 * @param ids     the weight's id on each executor, in party order (null before placement)
 * @param padStd  blinded levels: standard deviation of this layer's pad entries ({@code ρ} times the
 *                calibrated input RMS); 0 elsewhere
 */
public record PlacedLinear(String name, PackedWeight weight, float[] bias, PackedWeight loraA, PackedWeight loraB,
                            WeightId[] ids, double padStd) {
    /** A local (unplaced) layer of {@code in×out} weight {@code w}, with a private adapter when {@code a} is non-null. */
    public static PlacedLinear of(String name, Matrix w, float[] bias, org.privllm.trusted.lora.LowRankAdapter a) {
        return of(name, PackedWeight.pack(w), bias, a);
    }

    /** As {@link #of(String, Matrix, float[], org.privllm.trusted.lora.LowRankAdapter)} on a packed weight. */
    public static PlacedLinear of(String name, PackedWeight w, float[] bias, org.privllm.trusted.lora.LowRankAdapter a) {
        if (a != null && (a.a().numRows != w.inDim() || a.b().numCols != w.outDim())) {
            throw new IllegalArgumentException("adapter of " + name + " is " + a.a().numRows + "x" + a.b().numCols
                    + ", the layer " + w.inDim() + "x" + w.outDim());
        }
        return new PlacedLinear(name, w, bias,
                a == null ? null : PackedWeight.pack(org.privllm.trusted.linalg.Dense.toFloat(a.a())),
                a == null ? null : PackedWeight.pack(org.privllm.trusted.linalg.Dense.toFloat(
                        org.privllm.trusted.linalg.Dense.scale(a.scale(), a.b()))), null, 0);
    }

    public int inDim() {
        return weight.inDim();
    }

    public int outDim() {
        return weight.outDim();
    }

    public int rank() {
        return loraA == null ? 0 : loraA.outDim();
    }

    /** {@code X·W + b + s·(X·A)·B} on the trusted side (the reference of tests and simulations). */
    public Matrix local(Matrix x) {
        Matrix y = base(x);
        addAdapter(x, y);
        return y;
    }

    /** {@code X·W + b}: the public layer alone, without a private adapter (the calibration run). */
    public Matrix base(Matrix x) {
        return Kernels.matmul(x, weight, bias);
    }

    /** {@code y += s·(X·A)·B}: the private adapter never leaves the trusted domain; O(n·r·(in + out)). */
    public void addAdapter(Matrix x, Matrix y) {
        if (loraA != null) {
            Kernels.addInPlace(y, Kernels.matmul(
                    Kernels.matmul(x, loraA, null), loraB, null));
        }
    }

    /** This layer bound to its uploads. */
    public PlacedLinear placed(WeightId[] ids, double padStd) {
        return new PlacedLinear(name, weight, bias, loraA, loraB, ids, padStd);
    }

    @Override
    public String toString() {
        return "PlacedLinear[" + name + " " + inDim() + "x" + outDim() + "]";
    }
}
