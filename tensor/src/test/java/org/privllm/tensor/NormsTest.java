package org.privllm.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * LayerNorm gives the same bits interpreted and compiled: a sequence's rows run through it early in a run (before
 * the JIT compiles it) and later, alone and in a batch, and the engine promises bit-for-bit equal logits.
 */
class NormsTest {
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

    /** Prints {@link #layerNormBits()}: run in a JVM that only interprets. */
    public static void main(String[] args) {
        System.out.println(layerNormBits());
    }

    @Test
    void layerNormIsTheSameInterpretedAndCompiled() throws Exception {
        String compiled = null;
        for (int i = 0; i < 3000; i++) { // 96,000 rows: C2 compiles the row kernel long before the end
            compiled = layerNormBits();
        }
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(java.toString(), "-Xint", "--add-modules=jdk.incubator.vector",
                "-Dprivllm.threads=1", "-cp", System.getProperty("java.class.path"), NormsTest.class.getName())
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String interpreted = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isZero();
        assertThat(interpreted).isEqualTo(compiled);
    }
}
