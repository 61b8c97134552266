package org.privllm.model;

/**
 * A checkpoint, tokenizer or adapter file that cannot be used as given. The message is one line
 * naming the file and the problem; it never contains tensor data.
 */
public final class ModelFormatException extends RuntimeException {
    public ModelFormatException(String message) {
        super(message);
    }

    public ModelFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
