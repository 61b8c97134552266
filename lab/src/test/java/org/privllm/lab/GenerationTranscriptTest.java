package org.privllm.lab;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.privllm.model.Gpt2Forward;
import org.privllm.model.Gpt2Model;
import org.privllm.model.TransformerOps;
import org.privllm.model.generate.Generator;
import org.privllm.model.generate.Sampling;
import org.privllm.tensor.Matrix;
import org.privllm.trusted.obf.ObfuscatedDecoder;
import org.privllm.trusted.verify.CopyDetector;
import org.privllm.untrusted.InProcessExecutor;
import org.privllm.untrusted.Transcript;

/**
 * Everything the executor received during a whole obfuscated generation holds no token id, no
 * plaintext embedding or hidden state and no plaintext logit — not even a scaled or permuted copy.
 */
class GenerationTranscriptTest {

    /** Records every plaintext tensor that passes through the ops: the secrets of the run. */
    static final class Recording implements TransformerOps {
        final TransformerOps inner;
        final Map<String, Matrix> seen = new LinkedHashMap<>();

        Recording(TransformerOps inner) {
            this.inner = inner;
        }

        private Matrix keep(String name, Matrix m) {
            seen.put(name + "#" + seen.size(), m.copy());
            return m;
        }

        @Override public void startCache(int[] leftPad, int capacity) { inner.startCache(leftPad, capacity); }
        @Override public Matrix attention(int layer, Matrix x, int t) {
            keep("ln_1 out L" + layer, x);
            return keep("attention out L" + layer, inner.attention(layer, x, t));
        }
        @Override public Matrix mlpUp(int layer, Matrix x) {
            keep("ln_2 out L" + layer, x);
            return keep("c_fc out L" + layer, inner.mlpUp(layer, x));
        }
        @Override public Matrix mlpDown(int layer, Matrix x) {
            keep("gelu out L" + layer, x);
            return keep("mlp out L" + layer, inner.mlpDown(layer, x));
        }
        @Override public void advance(int t) { inner.advance(t); }
        @Override public Matrix lmHead(Matrix h) {
            keep("ln_f out", h);
            return keep("logits", inner.lmHead(h));
        }
    }

    @ParameterizedTest
    @CsvSource({"mask,orthogonal", "pad,orthogonal", "pad,perm", "pad,block:8"})
    void transcriptHoldsNoPlaintext(String mode, String family) {
        Gpt2Model m = ObfuscatedGpt2Test.SMALL;
        int[] prompt = {17, 42, 7, 9, 250, 3, 3, 88};
        Recording plain = new Recording(m.plainForward().ops());
        Generator.Result r = new Generator(new Gpt2Forward(m.config(), m.weights(), plain))
                .generate(List.of(prompt), 10, Sampling.GREEDY, -1, null);
        Map<String, Matrix> secrets = new LinkedHashMap<>(plain.seen);
        int[] ids = r.outputIds().get(0);
        float[] idf = new float[ids.length];
        int[] pos = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            idf[i] = ids[i];
            pos[i] = i;
        }
        secrets.put("token ids", Matrix.rowVector(idf));
        secrets.put("embeddings", new Gpt2Forward(m.config(), m.weights(), plain).embed(ids, pos));

        Transcript transcript = new Transcript();
        try (InProcessExecutor ex = new InProcessExecutor(transcript);
             ObfuscatedDecoder obf = new ObfuscatedDecoder(m.config(), m.weights(), ex,
                     ObfuscatedGpt2Test.config(mode, family, "session"), Map.of())) {
            Generator.Result masked = new Generator(new Gpt2Forward(m.config(), m.weights(), obf))
                    .generate(List.of(prompt), 10, Sampling.GREEDY, -1, null);
            assertThat(masked.outputIds().get(0)).isEqualTo(ids);
        }
        List<Matrix> received = new ArrayList<>();
        transcript.tensors().forEach(t -> received.add(t.value()));
        assertThat(received).hasSizeGreaterThan(50);
        // The detector must be able to see a leak: a planted plaintext hidden state is found.
        List<Matrix> planted = new ArrayList<>(received);
        planted.add(secrets.values().iterator().next().copy());
        assertThat(CopyDetector.scan(planted, secrets, 1e-3)).isNotEmpty();
        assertThat(CopyDetector.scan(received, secrets, 1e-3)).as("copies of plaintext in the transcript").isEmpty();
        // No received tensor carries the token ids as values anywhere.
        for (Matrix t : received) {
            int hits = 0;
            for (float v : t.data) {
                for (int id : ids) {
                    if (v == id) {
                        hits++;
                    }
                }
            }
            assertThat(hits).as("exact token-id values in a received tensor").isLessThan(3);
        }
    }
}
