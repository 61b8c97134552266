package org.privllm.server.chat;

import org.privllm.model.tokenizer.Gpt2Tokenizer;
import org.privllm.model.tokenizer.StreamDecoder;

/** {@link TextTokenizer} over GPT-2's byte-level BPE ({@code vocab.json} + {@code merges.txt}). */
public final class Gpt2TextTokenizer implements TextTokenizer {
    private final Gpt2Tokenizer tokenizer;
    private final int[] stops;

    /** @param eosFallback the model config's eos id, used when the vocabulary has no {@code <|endoftext|>} */
    public Gpt2TextTokenizer(Gpt2Tokenizer tokenizer, int eosFallback) {
        this.tokenizer = tokenizer;
        int eos = tokenizer.eosId() >= 0 ? tokenizer.eosId() : eosFallback;
        this.stops = eos >= 0 ? new int[] {eos} : new int[0];
    }

    @Override
    public int[] encode(String text) {
        return tokenizer.encode(text);
    }

    @Override
    public String decode(int[] ids) {
        return tokenizer.decode(ids);
    }

    @Override
    public StreamingDecoder streamingDecoder() {
        StreamDecoder d = tokenizer.streamDecoder();
        return new StreamingDecoder() {
            @Override
            public String push(int id) {
                return d.push(id);
            }

            @Override
            public String flush() {
                return d.flush();
            }
        };
    }

    @Override
    public int[] stopIds() {
        return stops.clone();
    }
}
