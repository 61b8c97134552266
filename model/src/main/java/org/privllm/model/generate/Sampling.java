package org.privllm.model.generate;

/**
 * How the next token is chosen: greedy (argmax) or sampled with temperature, top-k and top-p
 * (applied in that order, as HuggingFace's generate does). A seed makes sampling reproducible.
 */
public record Sampling(boolean greedy, float temperature, int topK, float topP, Long seed) {
    public static final Sampling GREEDY = new Sampling(true, 1f, 0, 1f, null);

    public Sampling {
        if (!greedy) {
            if (!(temperature > 0) || !Float.isFinite(temperature)) {
                throw new IllegalArgumentException("--temperature must be > 0, got " + temperature);
            }
            if (topK < 0) {
                throw new IllegalArgumentException("--top-k must be >= 0, got " + topK);
            }
            if (!(topP > 0 && topP <= 1)) {
                throw new IllegalArgumentException("--top-p must be in (0, 1], got " + topP);
            }
        }
    }

    public static Sampling sample(float temperature, int topK, float topP, Long seed) {
        return new Sampling(false, temperature, topK, topP, seed);
    }
}
