package org.privllm.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * LayerNorm and the Gaussian kernels give the same bits interpreted and compiled: a sequence's rows run through
 * them early in a run (before the JIT compiles them) and later, alone and in a batch, and the engine promises
 * bit-for-bit equal logits; a seeded mask or pad stream ({@code --mask-seed}) must be the same stream whenever it
 * is drawn. ({@code TierDeterminismTest} in the model module checks whole forward passes the same way.)
 */
class CompiledEqualsInterpretedTest {
    private static final int ROWS = 32, D = 80;

    /** Rows whose lane sums depend on the order of the additions (magnitudes from 1e-2 to 1e6, a tail past 64). */
    static Matrix rows() {
        SplittableRandom r = new SplittableRandom(20261130);
        Matrix x = new Matrix(ROWS, D);
        for (int i = 0; i < x.data.length; i++) {
            x.data[i] = (float) (r.nextGaussian() * Math.pow(10, r.nextInt(-2, 7)));
        }
        return x;
    }

    /** Both Gaussian kernels on fixed words, lengths with a scalar tail, every value's bits. */
    static String gaussianBits() {
        SplittableRandom r = new SplittableRandom(7);
        int n = 1030;
        int[] words = new int[n];
        long[] longs = new long[n];
        for (int i = 0; i < n; i++) {
            words[i] = r.nextInt();
            longs[i] = r.nextLong();
        }
        float[] f = new float[n];
        double[] d = new double[n];
        Kernels.gaussian(words, f, 0, n, 2.5f);
        WideKernels.gaussian(longs, d, 0, n, 2.5);
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < n; i++) {
            b.append(Integer.toHexString(Float.floatToRawIntBits(f[i]))).append(':')
                    .append(Long.toHexString(Double.doubleToRawLongBits(d[i]))).append(',');
        }
        return b.toString();
    }

    static String layerNormBits() {
        float[] gamma = new float[D], beta = new float[D];
        java.util.Arrays.fill(gamma, 1f);
        Matrix y = Norms.layerNorm(rows(), gamma, beta, 1e-5f);
        StringBuilder b = new StringBuilder();
        for (float v : y.data) {
            b.append(Integer.toHexString(Float.floatToRawIntBits(v))).append(',');
        }
        return b.toString();
    }

    /** Prints {@link #layerNormBits()} and {@link #gaussianBits()}: run in a JVM that only interprets. */
    public static void main(String[] args) {
        System.out.println(layerNormBits() + "\n" + gaussianBits());
    }

    @Test
    void layerNormAndGaussiansAreTheSameInterpretedAndCompiled() throws Exception {
        String compiled = null;
        for (int i = 0; i < 3000; i++) { // 96,000 rows, 3 M draws: C2 compiles the kernels long before the end
            compiled = layerNormBits() + "\n" + gaussianBits();
        }
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(java.toString(), "-Xint", "--add-modules=jdk.incubator.vector",
                "-Dprivllm.threads=1", "-cp", System.getProperty("java.class.path"), CompiledEqualsInterpretedTest.class.getName())
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String interpreted = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isZero();
        String[] want = compiled.split("\n"), got = interpreted.split("\n");
        assertThat(got).hasSameSizeAs(want);
        assertThat(got[0]).as("LayerNorm, interpreted against compiled").isEqualTo(want[0]);
        assertThat(got[1]).as("Gaussians, interpreted against compiled").isEqualTo(want[1]);
    }
}
