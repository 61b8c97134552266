package org.privllm.trusted.obf;

/** How long a set of masks lives. */
public enum MaskScope {
    /** Fresh masks, freshly obfuscated and uploaded weights on every call (the reference prototype). */
    PER_CALL,
    /** One set per session; weights obfuscated and uploaded once (needed for the KV cache). */
    PER_SESSION
}
