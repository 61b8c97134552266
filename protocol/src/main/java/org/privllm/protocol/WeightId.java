package org.privllm.protocol;

/** An opaque handle to an uploaded obfuscated weight, valid inside one session. */
public record WeightId(long value) {}
