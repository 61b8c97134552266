package org.privllm.model.generate;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.privllm.model.DecoderConfig;
import org.privllm.model.ForwardPass;
import org.privllm.tensor.Matrix;

/**
 * Batched generation as HuggingFace does it: prompts left-padded to a common length (padding
 * slots masked out of attention, position ids counted from each prompt's first real token), one
 * prefill, then one decode step per new token over the KV cache. Only the last position of each
 * sequence goes through the LM head. Any {@link ForwardPass} (GPT-2, the Llama family) can be driven.
 */
public final class Generator {
    private final ForwardPass forward;
    private final int lengthBucket;
    private final boolean fixedSteps;

    public Generator(ForwardPass forward) {
        this(forward, 1, false);
    }

    private Generator(ForwardPass forward, int lengthBucket, boolean fixedSteps) {
        if (lengthBucket < 1) {
            throw new IllegalArgumentException("--length-bucket must be >= 1, got " + lengthBucket);
        }
        this.forward = forward;
        this.lengthBucket = lengthBucket;
        this.fixedSteps = fixedSteps;
    }

    /**
     * This generator with the shape of a request hidden from the executors at no cost to its answer: the
     * padded prompt length rounded up to a multiple of {@code lengthBucket} (extra left padding, masked out
     * of attention like any other), and with {@code fixedSteps} every one of the {@code maxNewTokens} decode
     * steps run even after every sequence has stopped (the number of forward passes then no longer tells how
     * many tokens were generated). Both cost only extra rows or passes.
     */
    public Generator hidingShape(int lengthBucket, boolean fixedSteps) {
        return new Generator(forward, lengthBucket, fixedSteps);
    }

    /** Receives each new token as it is chosen (sequence index, token id). */
    @FunctionalInterface
    public interface TokenListener {
        void onToken(int sequence, int token);
    }

    /** Output ids (prompt then new tokens, per sequence) and timings. */
    public record Result(List<int[]> outputIds, int promptTokens, int newTokens, long prefillNanos,
                         long decodeNanos, int decodeSteps) {
        public double prefillTokensPerSecond() {
            return prefillNanos == 0 ? 0 : promptTokens / (prefillNanos / 1e9);
        }

        public double decodeTokensPerSecond() {
            return decodeNanos == 0 ? 0 : newTokens / (decodeNanos / 1e9);
        }
    }

    /** Checks prompts against the model before anything runs (one-line errors). */
    public static void validate(DecoderConfig c, List<int[]> prompts, int maxNewTokens) {
        validate(c.vocab(), c.positions(), prompts, maxNewTokens);
    }

    /** Checks prompts against a model of {@code vocab} tokens and {@code positions} positions (one-line errors). */
    public static void validate(int vocab, int positions, List<int[]> prompts, int maxNewTokens) {
        if (prompts.isEmpty()) {
            throw new IllegalArgumentException("no prompt given");
        }
        if (maxNewTokens < 0) {
            throw new IllegalArgumentException("--max-new-tokens must be >= 0");
        }
        for (int[] p : prompts) {
            if (p.length == 0) {
                throw new IllegalArgumentException("empty prompt");
            }
            if (p.length > positions) {
                throw new IllegalArgumentException("prompt of " + p.length + " tokens is longer than n_positions "
                        + positions);
            }
            for (int id : p) {
                if (id < 0 || id >= vocab) {
                    throw new IllegalArgumentException("token id " + id + " is out of range [0, " + vocab + ")");
                }
            }
        }
    }

    public Result generate(List<int[]> prompts, int maxNewTokens, Sampling sampling, int eosId,
                           TokenListener listener) {
        return generate(prompts, maxNewTokens, sampling, eosId, listener, null);
    }

    /**
     * As {@link #generate(List, int, Sampling, int, TokenListener)}, also handing every step's logits
     * ({@code batch × vocab}, before sampling) to {@code logitsObserver} (for checks against another run).
     */
    public Result generate(List<int[]> prompts, int maxNewTokens, Sampling sampling, int eosId,
                           TokenListener listener, java.util.function.Consumer<Matrix> logitsObserver) {
        return generate(prompts, maxNewTokens, sampling, eosId >= 0 ? new int[] {eosId} : new int[0], listener,
                logitsObserver);
    }

    /** Generation stopping at any of {@code eosIds}; see the six-argument form. */
    public Result generate(List<int[]> prompts, int maxNewTokens, Sampling sampling, int[] eosIds,
                           TokenListener listener) {
        return generate(prompts, maxNewTokens, sampling, eosIds, listener, null);
    }

    /**
     * As {@link #generate(List, int, Sampling, int, TokenListener, java.util.function.Consumer)}, a
     * sequence stopping at the first of any of {@code eosIds} (which may be empty: no stop token).
     */
    public Result generate(List<int[]> prompts, int maxNewTokens, Sampling sampling, int[] eosIds,
                           TokenListener listener, java.util.function.Consumer<Matrix> logitsObserver) {
        int vocab = forward.vocab();
        validate(vocab, forward.positions(), prompts, maxNewTokens);
        int batch = prompts.size();
        int longest = prompts.stream().mapToInt(p -> p.length).max().orElseThrow();
        int len = Math.min(forward.positions(), Math.max(longest, (longest + lengthBucket - 1) / lengthBucket * lengthBucket));
        // Positions past n_positions do not exist: generation stops there.
        int steps = Math.min(maxNewTokens, forward.positions() - len);
        forward.checkContext(len + Math.max(steps, 0));
        int[] pad = new int[batch];
        int[] ids = new int[batch * len], pos = new int[batch * len];
        for (int b = 0; b < batch; b++) {
            int[] p = prompts.get(b);
            pad[b] = len - p.length;
            for (int j = 0; j < len; j++) {
                ids[b * len + j] = j < pad[b] ? p[0] : p[j - pad[b]];
                pos[b * len + j] = Math.max(0, j - pad[b]);
            }
        }
        forward.ops().startCache(pad, len + Math.max(steps, 0));
        Sampler sampler = new Sampler(sampling);
        List<List<Integer>> out = new ArrayList<>();
        boolean[] done = new boolean[batch];
        for (int b = 0; b < batch; b++) {
            out.add(new ArrayList<>());
        }
        long t0 = System.nanoTime();
        Matrix last = steps > 0 ? lastRows(forward.step(ids, pos, len), batch, len) : null;
        long prefill = System.nanoTime() - t0;
        long t1 = System.nanoTime();
        int produced = 0, decodeSteps = 0;
        for (int s = 0; s < steps; s++) {
            Matrix logits = forward.ops().lmHead(last);
            if (logitsObserver != null) {
                logitsObserver.accept(logits);
            }
            int[] next = new int[batch], nextPos = new int[batch];
            boolean any = false;
            for (int b = 0; b < batch; b++) {
                if (done[b]) {
                    next[b] = eosIds.length > 0 ? eosIds[0] : 0; // fed to finished sequences, never read back
                } else {
                    next[b] = sampler.next(logits.data, b * vocab, vocab);
                    out.get(b).add(next[b]);
                    produced++;
                    if (listener != null) {
                        listener.onToken(b, next[b]);
                    }
                    done[b] = isEos(next[b], eosIds);
                }
                any |= !done[b];
                nextPos[b] = len + s - pad[b];
            }
            if ((!any && !fixedSteps) || s == steps - 1) {
                break;
            }
            last = forward.step(next, nextPos, 1);
            decodeSteps++;
        }
        long decode = System.nanoTime() - t1;
        List<int[]> result = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            int[] p = prompts.get(b);
            int[] r = Arrays.copyOf(p, p.length + out.get(b).size());
            for (int i = 0; i < out.get(b).size(); i++) {
                r[p.length + i] = out.get(b).get(i);
            }
            result.add(r);
        }
        return new Result(result, batch * len, produced, prefill, decode, decodeSteps);
    }

    /** Logits at every position of one prompt (no decode), {@code len × vocab}. */
    public Matrix logits(int[] prompt) {
        validate(forward.vocab(), forward.positions(), List.of(prompt), 0);
        forward.checkContext(prompt.length);
        int[] pos = new int[prompt.length];
        for (int i = 0; i < pos.length; i++) {
            pos[i] = i;
        }
        forward.ops().startCache(new int[] {0}, prompt.length);
        return forward.ops().lmHead(forward.step(prompt, pos, prompt.length));
    }

    private static boolean isEos(int token, int[] eosIds) {
        for (int e : eosIds) {
            if (token == e) {
                return true;
            }
        }
        return false;
    }

    private static Matrix lastRows(Matrix h, int batch, int t) {
        Matrix last = new Matrix(batch, h.cols);
        for (int b = 0; b < batch; b++) {
            System.arraycopy(h.data, ((b + 1) * t - 1) * h.cols, last.data, b * h.cols, h.cols);
        }
        return last;
    }
}
