package org.privllm.lab.report;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.privllm.model.Architecture;
import org.privllm.model.DecoderConfig;
import org.privllm.model.Gpt2Config;

/**
 * What every experiment result records about how it was produced: the model shape, the full command
 * line, the project version and the machine — and no secret (a seed only when the user gave one).
 */
public record RunInfo(String command, String version, Map<String, Object> model, Map<String, Object> machine, Long seed) {

    public static RunInfo capture(List<String> commandLine, String version, Gpt2Config c, Long userSeed) {
        Map<String, Object> model = new LinkedHashMap<>();
        if (c != null) {
            model.put("n_layer", c.layers());
            model.put("n_embd", c.embd());
            model.put("n_head", c.heads());
            model.put("n_inner", c.inner());
            model.put("vocab_size", c.vocab());
            model.put("n_positions", c.positions());
        }
        Map<String, Object> machine = new LinkedHashMap<>();
        machine.put("cores", Runtime.getRuntime().availableProcessors());
        machine.put("max_heap_mb", Runtime.getRuntime().maxMemory() >> 20);
        machine.put("jvm", System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version"));
        machine.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version") + " " + System.getProperty("os.arch"));
        return new RunInfo(String.join(" ", commandLine), version, model, machine, userSeed);
    }

    /**
     * As {@link #capture(List, String, Gpt2Config, Long)} for any family: GPT-2 under GPT-2's key names (as
     * before), the Llama family under its {@code config.json} names.
     */
    public static RunInfo capture(List<String> commandLine, String version, DecoderConfig c, Long userSeed) {
        RunInfo base = capture(commandLine, version, (Gpt2Config) null, userSeed);
        Map<String, Object> model = base.model();
        if (c.architecture() == Architecture.GPT2) {
            model.put("n_layer", c.layers());
            model.put("n_embd", c.hidden());
            model.put("n_head", c.heads());
            model.put("n_inner", c.inner());
            model.put("vocab_size", c.vocab());
            model.put("n_positions", c.positions());
        } else {
            model.put("model_type", c.architecture().modelType());
            model.put("num_hidden_layers", c.layers());
            model.put("hidden_size", c.hidden());
            model.put("num_attention_heads", c.heads());
            model.put("num_key_value_heads", c.kvHeads());
            model.put("head_dim", c.headDim());
            model.put("intermediate_size", c.inner());
            model.put("vocab_size", c.vocab());
            model.put("max_position_embeddings", c.positions());
        }
        return base;
    }

    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("command", command);
        m.put("version", version);
        m.put("model", model);
        m.put("machine", machine);
        if (seed != null) {
            m.put("seed", seed);
        }
        return m;
    }
}
