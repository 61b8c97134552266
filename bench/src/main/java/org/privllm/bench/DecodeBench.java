package org.privllm.bench;

import java.util.concurrent.TimeUnit;
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
import org.openjdk.jmh.infra.Blackhole;
import org.privllm.tensor.Kernels;
import org.privllm.tensor.Matrix;
import org.privllm.tensor.MemoryBandwidth;
import org.privllm.tensor.PackedWeight;

/**
 * The weight traffic of one GPT-2-124M decode step: the 48 linear layers of 12 blocks and the LM
 * head on {@code rows} token rows (494 MB of F32 weights, half that in BF16). At the machine's read bandwidth this is
 * the decode-speed ceiling; {@code setUp} prints that bandwidth for comparison.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xmx3g", "-XX:+UseParallelGC",
        "-XX:PerMethodTrapLimit=0"})
public class DecodeBench {
    @Param({"1", "4", "8"})
    public int rows;

    /** How the weights are packed: {@code f32}, or {@code bf16} (values rounded to bfloat16, kept half width). */
    @Param({"f32", "bf16"})
    public String precision;

    private PackedWeight[] layers;
    private PackedWeight head;
    private Matrix x768;
    private Matrix x3072;

    @Setup(Level.Trial)
    public void setUp() {
        layers = new PackedWeight[12 * Gpt2Shapes.LINEAR.length];
        long bytes = 0;
        for (int i = 0; i < layers.length; i++) {
            layers[i] = Gpt2Shapes.weight(Gpt2Shapes.LINEAR[i % Gpt2Shapes.LINEAR.length], i, precision);
            bytes += layers[i].bytes();
        }
        head = Gpt2Shapes.weight(Gpt2Shapes.HEAD, 1000, precision);
        bytes += head.bytes();
        x768 = Gpt2Shapes.random(rows, 768, 7);
        x3072 = Gpt2Shapes.random(rows, 3072, 8);
        double gbps = MemoryBandwidth.measureReadGbps();
        System.out.printf("%nweights %.1f MB, read bandwidth %.1f GB/s -> bound %.2f ms per step (%s)%n",
                bytes / 1e6, gbps, bytes / gbps / 1e6, Kernels.backend());
    }

    @Benchmark
    public void step(Blackhole bh) {
        for (PackedWeight w : layers) {
            bh.consume(Kernels.matmul(w.inDim() == 768 ? x768 : x3072, w, null));
        }
        bh.consume(Kernels.matmul(x768, head, null));
    }
}
