package org.privllm.lab.leakage;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.privllm.model.tokenizer.Tokenizer;

/** The prompts the lab runs: a built-in list of varied English sentences, or the user's. */
public final class LeakagePrompts {
    private LeakagePrompts() {}

    /**
     * 60 varied sentences (topics, lengths, punctuation, numbers, names), one per line in the resource
     * {@code prompts.txt} beside this class (also what {@code scripts/leakage-transcript.sh} feeds a real executor).
     */
    public static final List<String> BUILT_IN = load("prompts.txt");

    private static List<String> load(String resource) {
        try (var in = LeakagePrompts.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("missing resource " + resource);
            }
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).lines()
                    .map(String::strip).filter(l -> !l.isEmpty()).toList();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /**
     * The first {@code count} prompts as token ids: the texts (built-in or given) encoded with the model's
     * tokenizer, cycled when fewer than {@code count}; without a tokenizer, random ids of 4–12 tokens.
     */
    public static List<int[]> resolve(List<String> texts, Tokenizer tokenizer, int vocab, int positions, int count,
                                      long seed) {
        if (count < 1) {
            throw new IllegalArgumentException("--count must be at least 1");
        }
        List<int[]> out = new ArrayList<>();
        if (tokenizer == null) {
            Random rnd = new Random(seed);
            for (int i = 0; i < count; i++) {
                int[] p = new int[Math.min(positions - 1, 4 + rnd.nextInt(9))];
                for (int j = 0; j < p.length; j++) {
                    p[j] = rnd.nextInt(vocab);
                }
                out.add(p);
            }
            return out;
        }
        List<String> pool = texts == null || texts.isEmpty() ? BUILT_IN : texts;
        for (int i = 0; i < count; i++) {
            int[] p = tokenizer.encode(pool.get(i % pool.size()));
            if (p.length == 0) {
                throw new IllegalArgumentException("prompt " + (i % pool.size() + 1) + " encodes to no tokens");
            }
            if (p.length >= positions) {
                throw new IllegalArgumentException("prompt " + (i % pool.size() + 1) + " has " + p.length
                        + " tokens; the model has " + positions + " positions");
            }
            out.add(p);
        }
        return out;
    }
}
