package org.privllm.bench;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.privllm.tensor.Kernels;
import org.privllm.tensor.Matrix;
import org.privllm.tensor.PackedWeight;

/**
 * {@code Y = X·W} at the GPT-2-124M shapes: {@code rows} 1–4 is decode's GEMV, 128 is prefill's GEMM.
 * Several copies of small weights are cycled so the weights come from DRAM, as in a real forward
 * pass (the whole model does not fit in the last-level cache). The {@code bytes} and {@code flops}
 * counters are per second: weight read bandwidth and FLOP rate.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xmx4g", "-XX:+UseParallelGC"})
public class MatmulBench {
    /** Total weight bytes cycled through: four times a 32 MiB last-level cache. */
    private static final long WORKING_SET = 128L << 20;

    @Param({"768x2304", "768x768", "768x3072", "3072x768", "768x50257"})
    public String shape;

    @Param({"1", "4", "128"})
    public int rows;

    private PackedWeight[] weights;
    private Matrix x;
    private Matrix y;
    private int next;

    @Setup(Level.Trial)
    public void setUp() {
        PackedWeight first = Gpt2Shapes.weight(shape, 1);
        int copies = (int) Math.max(1, Math.min(64, WORKING_SET / first.bytes()));
        weights = new PackedWeight[rows >= 128 ? 1 : copies]; // GEMM is compute-bound: one copy
        weights[0] = first;
        for (int i = 1; i < weights.length; i++) {
            weights[i] = Gpt2Shapes.weight(shape, i + 1);
        }
        x = Gpt2Shapes.random(rows, first.inDim(), 99);
        y = new Matrix(rows, first.outDim());
    }

    /** Per-second counters reported next to the op rate. */
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    @State(Scope.Thread)
    public static class Rates {
        public long bytes;
        public long flops;
    }

    @Benchmark
    public Matrix matmul(Rates rates) {
        PackedWeight w = weights[next];
        next = next + 1 == weights.length ? 0 : next + 1;
        Kernels.matmul(x, w, null, y);
        rates.bytes += w.bytes();
        rates.flops += 2L * rows * w.inDim() * w.outDim();
        return y;
    }
}
