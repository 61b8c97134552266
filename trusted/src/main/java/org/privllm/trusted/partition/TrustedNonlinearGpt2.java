package org.privllm.trusted.partition;

import java.util.ArrayList;
import java.util.List;
import org.privllm.model.Gpt2Config;
import org.privllm.model.Gpt2Weights;
import org.privllm.model.TransformerOps;
import org.privllm.protocol.Executor;
import org.privllm.protocol.LinearWeights;
import org.privllm.protocol.SessionId;
import org.privllm.protocol.WeightId;
import org.privllm.tensor.Attention;
import org.privllm.tensor.KvCache;
import org.privllm.tensor.Matrix;

/**
 * The TSLP-style partition baseline ({@code trusted_nonlinear}, DESIGN §2): every linear layer — c_attn,
 * c_proj, c_fc, the MLP c_proj and the LM head — runs in plaintext on the executor (weights uploaded
 * unmasked); the attention core (scores, softmax, P·V) with the KV cache runs in the trusted domain, as do
 * LayerNorm, the activation and the residuals ({@link org.privllm.model.Gpt2Forward}). It hides nothing from
 * the executor but the nonlinear results it never sees; it exists to be measured against the masked scheme.
 * Its outputs equal the plaintext engine's.
 */
public final class TrustedNonlinearGpt2 implements TransformerOps, AutoCloseable {
    private final Gpt2Config config;
    private final Executor executor;
    private final SessionId session;
    private final List<WeightId[]> layers = new ArrayList<>();
    private final WeightId head;
    private KvCache cache;

    /** Uploads the plaintext linear layers into a fresh executor session. */
    public TrustedNonlinearGpt2(Gpt2Config config, Gpt2Weights weights, Executor executor) {
        this.config = config;
        this.executor = executor;
        this.session = executor.openSession();
        for (Gpt2Weights.Layer l : weights.layers()) {
            layers.add(new WeightId[] {
                    executor.uploadLinear(session, new LinearWeights(l.cAttn(), l.cAttnBias())),
                    executor.uploadLinear(session, new LinearWeights(l.cProj(), l.cProjBias())),
                    executor.uploadLinear(session, new LinearWeights(l.cFc(), l.cFcBias())),
                    executor.uploadLinear(session, new LinearWeights(l.mlpProj(), l.mlpProjBias()))});
        }
        head = executor.uploadLinear(session, new LinearWeights(weights.head().transpose(), null));
    }

    /** The trusted KV cache (plaintext keys and values). */
    public KvCache cache() {
        return cache;
    }

    @Override
    public void startCache(int[] leftPad, int capacity) {
        cache = new KvCache(config.layers(), leftPad.length, capacity, config.embd(), leftPad);
    }

    @Override
    public Matrix attention(int layer, Matrix x, int t) {
        if (cache == null) {
            throw new IllegalStateException("attention before startCache");
        }
        WeightId[] w = layers.get(layer);
        Matrix qkv = executor.linear(session, w[0], x, null);
        Matrix attended = Attention.attend(cache, layer, qkv, t, config.heads(), config.attentionScale(layer));
        return executor.linear(session, w[1], attended, null);
    }

    @Override
    public Matrix mlpUp(int layer, Matrix x) {
        return executor.linear(session, layers.get(layer)[2], x, null);
    }

    @Override
    public Matrix mlpDown(int layer, Matrix x) {
        return executor.linear(session, layers.get(layer)[3], x, null);
    }

    @Override
    public void advance(int t) {
        cache.advance(t);
    }

    @Override
    public Matrix lmHead(Matrix h) {
        return executor.linear(session, head, h, null);
    }

    /** Frees the executor session (the executor itself stays open). */
    @Override
    public void close() {
        executor.closeSession(session);
    }
}
