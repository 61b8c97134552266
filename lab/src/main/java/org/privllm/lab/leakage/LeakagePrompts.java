package org.privllm.lab.leakage;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.privllm.model.tokenizer.Gpt2Tokenizer;

/** The prompts the lab runs: a built-in list of varied English sentences, or the user's. */
public final class LeakagePrompts {
    private LeakagePrompts() {}

    /** 60 varied sentences (topics, lengths, punctuation, numbers, names). */
    public static final List<String> BUILT_IN = List.of(
            "My account number is 4417 and my password is hunter2.",
            "The patient was diagnosed with type 2 diabetes last March.",
            "Please transfer 500 euros to Maria before Friday.",
            "I think my landlord is reading my mail.",
            "The quick brown fox jumps over the lazy dog.",
            "Our quarterly revenue fell by twelve percent.",
            "Where is the nearest hospital with an emergency room?",
            "She moved to Berlin after the divorce.",
            "Translate this contract clause into French, please.",
            "The merger will be announced on Monday morning.",
            "How do I reset the router without losing my settings?",
            "He has been taking antidepressants for two years.",
            "The recipe needs three eggs, flour and a pinch of salt.",
            "Summarise the attached email from the board.",
            "I was born in Lagos in 1987.",
            "Why does my knee hurt when I climb stairs?",
            "The suspect fled north on the highway.",
            "Write a short poem about the winter sea.",
            "Our new drug candidate failed the phase two trial.",
            "Can you explain how vaccines train the immune system?",
            "The wedding is on the third of June in Lisbon.",
            "My social security number ends in 6621.",
            "The server crashed again at midnight.",
            "Compile a list of competitors in the battery market.",
            "I am worried that my son is being bullied at school.",
            "Rain is expected across the region tomorrow.",
            "The court hearing was postponed until next year.",
            "What are the side effects of ibuprofen?",
            "Alice sent Bob the encrypted file yesterday.",
            "The factory will close and two hundred jobs will go.",
            "Draft a polite reply declining the job offer.",
            "My blood pressure was 150 over 95 this morning.",
            "The treasure is buried under the old oak tree.",
            "Is it legal to record a phone call in Germany?",
            "Interest rates will rise by half a point.",
            "The cat knocked the vase off the table.",
            "I need a loan to pay for my mother's surgery.",
            "The election results will be certified on Tuesday.",
            "Explain quantum entanglement to a ten year old.",
            "Our secret launch date is the fourth of October.",
            "The bridge was closed for repairs all summer.",
            "I lost my wallet on the train to Manchester.",
            "List five healthy breakfast ideas.",
            "The board voted to replace the chief executive.",
            "My daughter has a peanut allergy.",
            "The river flooded the lower part of the village.",
            "Please review my code for security bugs.",
            "He confessed to the theft in a letter.",
            "Book a table for two at eight tonight.",
            "The telescope found a planet orbiting a distant star.",
            "I forgot my PIN and the bank locked my card.",
            "The orchestra played Beethoven's ninth symphony.",
            "What is the capital of Australia?",
            "Our startup is running out of money in three months.",
            "The storm knocked out power to thousands of homes.",
            "She is pregnant but has not told her employer.",
            "Convert ninety degrees Fahrenheit to Celsius.",
            "The password for the staging database is Tr0ub4dor.",
            "A train leaves Chicago at seven in the evening.",
            "Give me directions to the central station.");

    /**
     * The first {@code count} prompts as token ids: the texts (built-in or given) encoded with the model's
     * tokenizer, cycled when fewer than {@code count}; without a tokenizer, random ids of 4–12 tokens.
     */
    public static List<int[]> resolve(List<String> texts, Gpt2Tokenizer tokenizer, int vocab, int positions, int count,
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
