package org.privllm.model.tokenizer;

/** Metaspace's {@code prepend_scheme}: where a ▁ goes in front of a piece (pre-tokenizer) and is dropped again (decoder). */
enum PrependScheme {
    /** Only in front of the text's first piece (not after a special token). */
    FIRST,
    /** In front of every piece. */
    ALWAYS,
    NEVER;

    /** tokenizer.json's spelling, or null when unknown. */
    static PrependScheme fromJson(String name) {
        return switch (name) {
            case "first" -> FIRST;
            case "always" -> ALWAYS;
            case "never" -> NEVER;
            default -> null;
        };
    }
}
