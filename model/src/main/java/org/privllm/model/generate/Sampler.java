package org.privllm.model.generate;

import java.security.SecureRandom;
import java.util.Arrays;
import java.util.SplittableRandom;

/** Picks next tokens from logit rows; one sampler per generation so a seed replays exactly. */
public final class Sampler {
    private final Sampling sampling;
    private final SplittableRandom random;

    public Sampler(Sampling sampling) {
        this.sampling = sampling;
        long seed = sampling.seed() != null ? sampling.seed() : new SecureRandom().nextLong();
        this.random = new SplittableRandom(seed);
    }

    /**
     * The uniform draws a sampler of {@code sampling} (seeded) makes for its first {@code n} tokens, one per token in
     * order: with {@link #probabilities} and {@link #pick} they replay its choices (for checks of another run).
     */
    public static double[] uniforms(Sampling sampling, int n) {
        if (sampling.greedy() || sampling.seed() == null) {
            throw new IllegalArgumentException("only a seeded, sampled generation has replayable draws");
        }
        Sampler s = new Sampler(sampling);
        double[] u = new double[n];
        for (int i = 0; i < n; i++) {
            u[i] = s.random.nextDouble();
        }
        return u;
    }

    /** The next token from one row of logits ({@code logits[off..off+vocab)}). */
    public int next(float[] logits, int off, int vocab) {
        if (sampling.greedy()) {
            return argmax(logits, off, vocab);
        }
        double u = random.nextDouble(); // drawn once per token, whatever the distribution, so runs stay aligned
        return pick(probabilities(sampling, logits, off, vocab), u);
    }

    /**
     * The distribution a sampled (not greedy) {@code sampling} draws from for one row of logits: temperature, top-k
     * and top-p applied. {@link #pick} with the sampler's next uniform draw gives its token.
     */
    public static double[] probabilities(Sampling sampling, float[] logits, int off, int vocab) {
        double[] p = new double[vocab];
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) {
            p[i] = logits[off + i] / (double) sampling.temperature();
            max = Math.max(max, p[i]);
        }
        if (sampling.topK() > 0 && sampling.topK() < vocab) {
            double kth = kthLargest(p, sampling.topK());
            for (int i = 0; i < vocab; i++) {
                if (p[i] < kth) {
                    p[i] = Double.NEGATIVE_INFINITY;
                }
            }
        }
        double sum = 0;
        for (int i = 0; i < vocab; i++) {
            p[i] = Math.exp(p[i] - max);
            sum += p[i];
        }
        for (int i = 0; i < vocab; i++) {
            p[i] /= sum;
        }
        if (sampling.topP() < 1f) {
            Integer[] order = new Integer[vocab];
            for (int i = 0; i < vocab; i++) {
                order[i] = i;
            }
            double[] pp = p;
            Arrays.sort(order, (a, b) -> pp[b] != pp[a] ? Double.compare(pp[b], pp[a]) : Integer.compare(a, b));
            double cum = 0;
            int keep = 0;
            while (keep < vocab && (keep == 0 || cum < sampling.topP())) {
                cum += p[order[keep]];
                keep++;
            }
            double[] q = new double[vocab];
            for (int i = 0; i < keep; i++) {
                q[order[i]] = p[order[i]] / cum;
            }
            p = q;
        }
        return p;
    }

    /**
     * The token that the uniform draw {@code u} in [0, 1) picks from {@code p}: the first whose cumulative
     * probability, summed in id order, exceeds {@code u}.
     */
    public static int pick(double[] p, double u) {
        int vocab = p.length;
        double acc = 0;
        int lastNonZero = 0;
        for (int i = 0; i < vocab; i++) {
            if (p[i] > 0) {
                acc += p[i];
                lastNonZero = i;
                if (u < acc) {
                    return i;
                }
            }
        }
        return lastNonZero;
    }

    /** The greedy pick: the first id of the largest logit (a NaN only if it is the first). */
    public static int argmax(float[] x, int off, int n) {
        return org.privllm.tensor.VectorMath.argmax(x, off, n);
    }

    private static double kthLargest(double[] p, int k) {
        double[] s = p.clone();
        Arrays.sort(s);
        return s[s.length - k];
    }
}
