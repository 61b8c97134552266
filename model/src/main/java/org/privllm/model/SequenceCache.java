package org.privllm.model;

/**
 * One sequence's KV cache as a row of a ragged batch ({@link RaggedBatch}): it joins the running batch when it
 * is opened ({@link TransformerOps#openSequence}), has its own length (slots written so far, every layer) and
 * capacity, no left padding, and leaves when its owner drops it. Where its keys and values live is the
 * placement's: {@link AttentionCore.Local} keeps them in this process (plaintext, and the trusted domain of the
 * strong and two-party levels).
 */
public interface SequenceCache {
    /** Slots written so far (the position of the next token). */
    int length();

    /** Slots this sequence may ever hold (prompt plus new tokens). */
    int capacity();
}
