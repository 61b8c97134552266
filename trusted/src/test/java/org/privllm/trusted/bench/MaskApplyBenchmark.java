package org.privllm.trusted.bench;

import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.ejml.data.DMatrixRMaj;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.privllm.tensor.Matrix;
import org.privllm.trusted.linalg.Dense;
import org.privllm.trusted.mask.Mask;
import org.privllm.trusted.mask.MaskFamily;

/**
 * Cost of {@code X·N} for an {@code n×d} activation, per mask family: permutation O(n·d), block
 * O(n·d·b), dense O(n·d²). Run briefly from the repository root, after
 * {@code ./mvnw -B -q -o -pl trusted -am test-compile dependency:build-classpath -Dmdep.outputFile=target/bench.cp -Dmdep.includeScope=test}
 * (drop {@code -o} the first time if maven-dependency-plugin is not cached):
 *
 * <pre>
 * java -cp "$(cat trusted/target/bench.cp):trusted/target/test-classes:trusted/target/classes" \
 *   org.openjdk.jmh.Main 'MaskApplyBenchmark.apply(Wire)?$' -f 1 -wi 2 -i 3
 * </pre>
 *
 * Masks are drawn once per trial (a dense orthogonal 3072×3072 takes a while to sample: QR of a Gaussian).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xmx4g"})
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
public class MaskApplyBenchmark {
    @Param({"128"})
    public int n;

    @Param({"768", "3072"})
    public int d;

    @Param({"perm", "block:64", "orthogonal"})
    public String family;

    private Mask mask;
    private DMatrixRMaj x;
    private Matrix xf;

    @Setup
    public void setup() {
        Random rnd = new Random(1);
        mask = MaskFamily.parse(family).sample(d, rnd);
        x = Dense.gaussian(n, d, 1, rnd);
        xf = Dense.toFloat(x);
        mask.apply(xf); // builds the packed float copies outside the measurement
    }

    /** {@code X·N} at wire precision (float32 activations, the per-token path). */
    @Benchmark
    public Matrix applyWire() {
        return mask.apply(xf);
    }

    /** {@code X·N} in float64 (weight obfuscation, verification). */
    @Benchmark
    public DMatrixRMaj apply() {
        return mask.apply(x);
    }

    @Benchmark
    public DMatrixRMaj applyInverse() {
        return mask.applyInverse(x);
    }
}
