package org.privllm.trusted.integrity;

/**
 * The executor returned a result inconsistent with what it was given: tampering or a fault. The
 * message is one line naming the call and the weight; it carries no secret (no check vector, no
 * tensor value). The session it happened in is aborted.
 */
public final class IntegrityException extends RuntimeException {
    public IntegrityException(String message) {
        super(message);
    }
}
