package org.privllm.model;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * The decoder families the engine computes, by their HuggingFace class and {@code model_type}. GPT-2
 * is listed so that a GPT-2 checkpoint can be expressed as a {@link DecoderConfig} ({@link Gpt2Adapter}).
 */
public enum Architecture {
    GPT2("GPT2LMHeadModel", "gpt2"),
    LLAMA("LlamaForCausalLM", "llama"),
    MISTRAL("MistralForCausalLM", "mistral"),
    QWEN2("Qwen2ForCausalLM", "qwen2"),
    QWEN3("Qwen3ForCausalLM", "qwen3");

    private final String hfClass;
    private final String modelType;

    Architecture(String hfClass, String modelType) {
        this.hfClass = hfClass;
        this.modelType = modelType;
    }

    /** The {@code architectures} entry of its config.json, e.g. {@code LlamaForCausalLM}. */
    public String hfClass() {
        return hfClass;
    }

    /** The {@code model_type} of its config.json, e.g. {@code llama}. */
    public String modelType() {
        return modelType;
    }

    /** The Llama family: RMSNorm, rotary positions, SwiGLU (what {@link LlamaCheckpoint} reads). */
    public boolean isLlamaFamily() {
        return this != GPT2;
    }

    /** By {@code model_type} or {@code --arch} name (case-insensitive); null when unknown. */
    public static Architecture byName(String name) {
        for (Architecture a : values()) {
            if (a.modelType.equalsIgnoreCase(name)) {
                return a;
            }
        }
        return null;
    }

    static Architecture byHfClass(String hfClass) {
        for (Architecture a : values()) {
            if (a.hfClass.equals(hfClass)) {
                return a;
            }
        }
        return null;
    }

    /** "gpt2, llama, mistral, qwen2, qwen3" (or their classes): for error messages. */
    static String all(boolean classes) {
        return Arrays.stream(values()).map(a -> classes ? a.hfClass : a.modelType).collect(Collectors.joining(", "));
    }

    /** "llama, mistral, qwen2, qwen3" (or their classes): for error messages. */
    static String llamaFamily(boolean classes) {
        return Arrays.stream(values()).filter(Architecture::isLlamaFamily).map(a -> classes ? a.hfClass : a.modelType)
                .collect(Collectors.joining(", "));
    }
}
