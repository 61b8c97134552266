package org.privllm.trusted.obf;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;
import org.privllm.tensor.Matrix;
import org.privllm.trusted.linalg.Dense;
import org.privllm.trusted.mask.DenseMask;
import org.privllm.trusted.mask.Mask;
import org.privllm.trusted.mask.MaskFamily;
import org.privllm.trusted.mask.PermutationMask;
import org.privllm.trusted.verify.CopyDetector;
import org.privllm.untrusted.InProcessExecutor;
import org.privllm.untrusted.Transcript;

/**
 * Scans everything the executor received for the plaintext input, the private adapter matrices and
 * the recovered output — equal, scaled, or permuted (whole, per row, per column).
 */
class TranscriptScanTest {
    private static final double TOL = 1e-3;

    private static Map<String, Matrix> secrets(PlainLinear plain, DMatrixRMaj x, DMatrixRMaj y) {
        Map<String, Matrix> s = new LinkedHashMap<>();
        s.put("input X", Dense.toFloat(x));
        s.put("adapter A", Dense.toFloat(plain.lora().a()));
        s.put("adapter B", Dense.toFloat(plain.lora().b()));
        s.put("recovered Y", Dense.toFloat(y));
        return s;
    }

    @ParameterizedTest
    @CsvSource({"orthogonal,MASK,PER_SESSION", "orthogonal,PAD,PER_CALL", "gaussian,MASK,PER_CALL", "gaussian,PAD,PER_SESSION",
            "block:8,MASK,PER_SESSION", "block:8,PAD,PER_SESSION", "perm,MASK,PER_SESSION", "perm,PAD,PER_CALL"})
    void noSecretAppearsInTheTranscript(String family, ObfuscationMode mode, MaskScope scope) {
        Random rnd = new Random(11);
        PlainLinear plain = Fixtures.layer(rnd, 24, 20, true, 4);
        DMatrixRMaj x = Fixtures.input(rnd, 6, 24);
        Transcript transcript = new Transcript();
        ObfuscationConfig config = ObfuscationConfig.defaults().withFamily(MaskFamily.parse(family)).withMode(mode)
                .withScope(scope).withSeed(12);
        DMatrixRMaj y;
        try (InProcessExecutor ex = new InProcessExecutor(transcript);
             TrustedSession s = new TrustedSession(Channel.float32(ex), config)) {
            ObfuscatedLinear layer = s.register(plain);
            y = s.forward(layer, x);
            s.forward(layer, x);
        }
        List<Matrix> received = transcript.tensors().stream().map(Transcript.Tensor::value).toList();
        assertThat(received).hasSizeGreaterThanOrEqualTo(mode == ObfuscationMode.PAD ? 8 : 6);
        var findings = CopyDetector.scan(received, secrets(plain, x, y), TOL);
        if (family.equals("perm") && mode == ObfuscationMode.MASK) {
            // A known, documented leak of the cheapest family without pads: column pi(j) of X~ = X.P.S is
            // s_j times column j of X. Only the input is exposed, and only column-wise.
            assertThat(findings).isNotEmpty().allSatisfy(f -> {
                assertThat(f.secret()).isEqualTo("input X");
                assertThat(f.where()).isEqualTo("column");
            });
        } else {
            assertThat(findings).isEmpty();
        }
    }

    @Test
    void theScanFindsWeakObfuscation() {
        // negative controls: the scan must flag a permutation without scaling (X̃ = X·P: every row a permuted copy),
        // a whole-tensor scaled copy, and an unmasked adapter.
        Random rnd = new Random(13);
        PlainLinear plain = Fixtures.layer(rnd, 24, 20, true, 4);
        DMatrixRMaj x = Fixtures.input(rnd, 6, 24);
        Transcript transcript = new Transcript();
        Mask unscaledIn = PermutationMask.random(24, 1, 1, rnd);
        Mask out = DenseMask.orthogonal(20, rnd);
        DMatrixRMaj y;
        try (InProcessExecutor ex = new InProcessExecutor(transcript);
             TrustedSession s = new TrustedSession(Channel.float32(ex), ObfuscationConfig.defaults().withSeed(14))) {
            ObfuscatedLinear layer = s.register(plain, unscaledIn, out);
            y = s.forward(layer, x);
        }
        List<Matrix> received = transcript.tensors().stream().map(Transcript.Tensor::value).toList();
        var findings = CopyDetector.scan(received, secrets(plain, x, y), TOL);
        assertThat(findings).extracting(CopyDetector.Finding::secret).contains("input X");

        Matrix a = Dense.toFloat(plain.lora().a());
        Matrix scaled = Dense.toFloat(Dense.scale(-3, plain.lora().a()));
        assertThat(CopyDetector.isScaledPermutedCopy(scaled, a, TOL)).isTrue();
        assertThat(CopyDetector.scan(List.of(Dense.toFloat(Dense.transpose(plain.lora().b()))), secrets(plain, x, y), TOL))
                .extracting(CopyDetector.Finding::secret).containsExactly("adapter B");
    }
}
