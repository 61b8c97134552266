package org.privllm.server.chat;

/**
 * What the server needs of a tokenizer: text to ids, ids to text (also token by token, for streaming) and the
 * ids that end a generation. GPT-2's byte-level BPE ({@link Gpt2TextTokenizer}) today; a {@code tokenizer.json}
 * implementation (Qwen, Llama) plugs in here.
 */
public interface TextTokenizer {
    /** Token ids of {@code text}, special tokens written in the text included (a chat template's markers). */
    int[] encode(String text);

    /** The text of {@code ids}. */
    String decode(int[] ids);

    /** A decoder for text arriving one token at a time (holds back incomplete characters). */
    StreamingDecoder streamingDecoder();

    /** Ids that end generation (the tokenizer's end-of-text / end-of-turn tokens); may be empty. */
    int[] stopIds();

    /** Decodes one token at a time; the pieces of {@link #push} and then {@link #flush} concatenate to decode(ids). */
    interface StreamingDecoder {
        String push(int id);

        String flush();
    }
}
