package org.privllm.lab.leakage;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.privllm.model.Gpt2Config;
import org.privllm.model.Gpt2Forward;
import org.privllm.model.Gpt2Weights;
import org.privllm.model.PlainOps;
import org.privllm.model.TransformerOps;
import org.privllm.model.generate.Generator;
import org.privllm.model.generate.Sampling;
import org.privllm.tensor.Matrix;
import org.privllm.trusted.obf.ObfuscatedDecoder;
import org.privllm.trusted.linalg.Dense;
import org.privllm.trusted.lora.LowRankAdapter;
import org.privllm.trusted.obf.ObfuscationConfig;
import org.privllm.untrusted.InProcessExecutor;
import org.privllm.untrusted.Transcript;

/**
 * Runs greedy generations under one {@link LeakageConfig} and keeps, per session, the executor's view
 * next to the ground truth (which only the lab, never the attacker, reads to score the attacks).
 */
public final class ViewCollector {
    /** Rank of the private adapter in the {@code +lora} rows. */
    public static final int LORA_RANK = 4;

    private final Gpt2Config config;
    private final Gpt2Weights weights;
    private final int newTokens;

    /** One session: the prompt and generated ids (ground truth) and what the executor saw. */
    public record Sample(int[] prompt, int[] generated, ExecutorView view) {}

    private final Map<String, LowRankAdapter> adapter;

    /**
     * @param adapterSeed seeds the user's private adapter: one adapter for all sessions, as a user has
     */
    public ViewCollector(Gpt2Config config, Gpt2Weights weights, int newTokens, long adapterSeed) {
        if (newTokens < 1) {
            throw new IllegalArgumentException("the leakage lab needs at least one generated token");
        }
        this.config = config;
        this.weights = weights;
        this.newTokens = newTokens;
        this.adapter = adapters(new Random(adapterSeed));
    }

    /** One fresh session (fresh masks, fresh adapter mask U; the same adapter) generating from {@code prompt}. */
    public Sample run(LeakageConfig lc, int[] prompt, long seed) {
        return runSession(lc, List.of(prompt), seed, null).get(0);
    }

    /**
     * One trusted session (one set of per-session masks, one obfuscated upload) that generates from every
     * prompt in turn, as a user's session serves many requests: the attention and head masks (and in
     * per-session scope the MLP masks) are shared by all of them; per-call scope still draws fresh MLP masks
     * per call. Each sample's view is that prompt's part of the transcript plus the session's uploads.
     *
     * @param onPrompt called after each prompt (progress), or null
     */
    public List<Sample> runSession(LeakageConfig lc, List<int[]> prompts, long seed, Runnable onPrompt) {
        List<Sample> out = new ArrayList<>();
        if (lc.strategy() != LeakageConfig.Strategy.MASKED) {
            for (int[] p : prompts) {
                out.add(reference(lc, p));
                if (onPrompt != null) {
                    onPrompt.run();
                }
            }
            return out;
        }
        Transcript transcript = new Transcript();
        Random rnd = new Random(seed);
        ObfuscationConfig obf = ObfuscationConfig.defaults().withMode(lc.mode()).withScope(lc.scope())
                .withFamily(lc.family()).withSeed(rnd.nextLong());
        Map<String, LowRankAdapter> adapters = lc.lora() ? adapter : Map.of();
        try (InProcessExecutor executor = new InProcessExecutor(transcript);
             ObfuscatedDecoder ops = new ObfuscatedDecoder(config, weights, executor, obf, adapters)) {
            // the session's set-up (its uploads) is part of every prompt's view; the rest is per prompt
            // (of the uploads the attacks read only c_attn and the head: the MLP and c_proj uploads are dropped
            // from the lab's copy, 0.4 GB at 124M that the dense-orthogonal row cannot spare under 8 GB)
            List<Transcript.Entry> setup = transcript.entries().stream().filter(e -> e.kind() != Transcript.Kind.UPLOAD_LINEAR
                    || e.tensor("weight").cols == 3 * config.embd() || e.tensor("weight").cols == config.vocab()).toList();
            transcript.clear();
            for (int[] p : prompts) {
                int[] generated = generate(ops, p);
                List<Transcript.Entry> entries = new ArrayList<>(setup);
                entries.addAll(transcript.entries());
                transcript.clear(); // per-call uploads of this prompt are not kept (bounded memory at 124M)
                out.add(new Sample(p, generated, ExecutorView.fromTranscript(entries, config)));
                if (onPrompt != null) {
                    onPrompt.run();
                }
            }
        }
        return out;
    }

    /** The user's private adapter of the {@code +lora} rows for a given seed (the same one {@link #ViewCollector} uses). */
    public static Map<String, LowRankAdapter> userAdapter(Gpt2Config config, long adapterSeed) {
        return new ViewCollector(config, null, 1, adapterSeed).adapter;
    }

    /** A private adapter on c_attn and c_fc of every layer, large enough to change the activations visibly. */
    private Map<String, LowRankAdapter> adapters(Random rnd) {
        Map<String, LowRankAdapter> m = new HashMap<>();
        int d = config.embd();
        for (int i = 0; i < config.layers(); i++) {
            m.put("h." + i + ".attn.c_attn", new LowRankAdapter(Dense.gaussian(d, LORA_RANK, 1 / Math.sqrt(d), rnd),
                    Dense.gaussian(LORA_RANK, 3 * d, 0.05, rnd), 1.0));
            m.put("h." + i + ".mlp.c_fc", new LowRankAdapter(Dense.gaussian(d, LORA_RANK, 1 / Math.sqrt(d), rnd),
                    Dense.gaussian(LORA_RANK, config.inner(), 0.05, rnd), 1.0));
        }
        return m;
    }

    private int[] generate(TransformerOps ops, int[] prompt) {
        Generator.Result r = new Generator(new Gpt2Forward(config, weights, ops))
                .generate(List.of(prompt), newTokens, Sampling.GREEDY, -1, null);
        int[] all = r.outputIds().get(0);
        return Arrays.copyOfRange(all, prompt.length, all.length);
    }

    /** The plaintext strategies: the executor's view is the plaintext inputs and the public weights. */
    private Sample reference(LeakageConfig lc, int[] prompt) {
        Recording ops = new Recording(new PlainOps(config, weights));
        int[] out = generate(ops, prompt);
        List<ExecutorView.Weight> qkv = new ArrayList<>();
        for (Gpt2Weights.Layer l : weights.layers()) {
            qkv.add(new ExecutorView.Weight(l.cAttn(), l.cAttnBias(), null, null));
        }
        List<Matrix> none = Arrays.asList(new Matrix[config.layers()]);
        ExecutorView view = new ExecutorView(lc.strategy() == LeakageConfig.Strategy.PLAIN ? prompt.clone() : null,
                List.copyOf(ops.prefill), none, qkv, plainHead(),
                ops.head);
        return new Sample(prompt, out, view);
    }

    private ExecutorView.Weight plainHead;

    /** The plaintext head {@code wteᵀ} ({@code d×V}), one copy for every reference view (154 MB at 124M). */
    private synchronized ExecutorView.Weight plainHead() {
        if (plainHead == null) {
            plainHead = new ExecutorView.Weight(weights.head().transpose(), null, null, null);
        }
        return plainHead;
    }

    /** Records the inputs a plaintext executor would receive. */
    private static final class Recording implements TransformerOps {
        final TransformerOps inner;
        final List<Matrix> prefill = new ArrayList<>();
        final List<ExecutorView.Call> head = new ArrayList<>();

        Recording(TransformerOps inner) {
            this.inner = inner;
        }

        @Override
        public void startCache(int[] leftPad, int capacity) {
            inner.startCache(leftPad, capacity);
        }

        @Override
        public Matrix attention(int layer, Matrix x, int t) {
            if (prefill.size() == layer) {
                prefill.add(x.copy());
            }
            return inner.attention(layer, x, t);
        }

        @Override
        public Matrix mlpUp(int layer, Matrix x) {
            return inner.mlpUp(layer, x);
        }

        @Override
        public Matrix mlpDown(int layer, Matrix x) {
            return inner.mlpDown(layer, x);
        }

        @Override
        public void advance(int t) {
            inner.advance(t);
        }

        @Override
        public Matrix lmHead(Matrix h) {
            head.add(new ExecutorView.Call(h.copy(), null));
            return inner.lmHead(h);
        }
    }
}
