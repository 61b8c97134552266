package org.privllm.trusted.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.privllm.model.Gpt2Config;
import org.privllm.model.ModelFormatException;
import org.privllm.model.SafeTensors;
import org.privllm.model.SafeTensorsWriter;
import org.privllm.trusted.linalg.Dense;
import org.privllm.trusted.obf.Channel;
import org.privllm.trusted.obf.ObfuscatedLinear;
import org.privllm.trusted.obf.ObfuscationConfig;
import org.privllm.trusted.obf.ObfuscationMode;
import org.privllm.trusted.obf.PlainLinear;
import org.privllm.trusted.obf.TrustedSession;
import org.privllm.trusted.verify.ErrorStats;
import org.privllm.untrusted.InProcessExecutor;

class LoraAdapterTest {
    private static final Gpt2Config MODEL = Gpt2Config.of(2, 12, 3, 50, 16);

    @Test
    void writesExactlyPeftsLayout(@TempDir Path dir) throws Exception {
        LoraAdapter.writeRandom(dir, 2, 12, MODEL.inner(), 4, 8f, List.of("c_attn", "c_proj", "c_fc"), 1);
        JsonNode cfg = new ObjectMapper().readTree(dir.resolve("adapter_config.json").toFile());
        assertThat(cfg.get("peft_type").asText()).isEqualTo("LORA");
        assertThat(cfg.get("r").asInt()).isEqualTo(4);
        assertThat(cfg.get("lora_alpha").asDouble()).isEqualTo(8.0);
        assertThat(cfg.get("fan_in_fan_out").asBoolean()).isTrue();
        assertThat(cfg.get("target_modules").toString()).isEqualTo("[\"c_attn\",\"c_proj\",\"c_fc\"]");
        try (SafeTensors st = SafeTensors.open(dir.resolve("adapter_model.safetensors"))) {
            assertThat(st.entries()).hasSize(2 * 4 * 2);
            assertThat(st.entries().get("base_model.model.transformer.h.1.attn.c_attn.lora_A.weight").shape()).containsExactly(4, 12);
            assertThat(st.entries().get("base_model.model.transformer.h.1.attn.c_attn.lora_B.weight").shape()).containsExactly(36, 4);
            assertThat(st.entries().get("base_model.model.transformer.h.0.mlp.c_proj.lora_A.weight").shape()).containsExactly(4, MODEL.inner());
            assertThat(st.entries().get("base_model.model.transformer.h.0.mlp.c_fc.lora_B.weight").shape()).containsExactly(MODEL.inner(), 4);
        }
    }

    @Test
    void loadsThePeftDeltaInRowVectorForm(@TempDir Path dir) {
        LoraAdapter.writeRandom(dir, 2, 12, MODEL.inner(), 4, 8f, List.of("c_attn", "c_fc"), 2);
        LoraAdapter adapter = LoraAdapter.load(dir, MODEL);
        assertThat(adapter.config().scaling()).isEqualTo(2.0);
        assertThat(adapter.layers().keySet()).containsExactlyInAnyOrder("h.0.attn.c_attn", "h.1.attn.c_attn", "h.0.mlp.c_fc", "h.1.mlp.c_fc");
        // peft: delta (Conv1D layout, in×out) = scaling · (B @ A)ᵀ with A (r, in), B (out, r), from the raw file
        try (SafeTensors st = SafeTensors.open(dir.resolve("adapter_model.safetensors"))) {
            DMatrixRMaj a = Dense.of(st.matrix("base_model.model.transformer.h.1.attn.c_attn.lora_A.weight", 4, 12));
            DMatrixRMaj b = Dense.of(st.matrix("base_model.model.transformer.h.1.attn.c_attn.lora_B.weight", 36, 4));
            DMatrixRMaj peft = Dense.scale(2.0, Dense.transpose(Dense.mul(b, a)));
            LowRankAdapter ours = adapter.layers().get("h.1.attn.c_attn");
            DMatrixRMaj delta = Dense.scale(ours.scale(), Dense.mul(ours.a(), ours.b()));
            assertThat(ErrorStats.compare(peft, delta, 1e-12, 1e-12).within()).isTrue();
        }
    }

    @Test
    void aLoadedAdapterRunsObfuscatedAndUnmerged(@TempDir Path dir) {
        LoraAdapter.writeRandom(dir, 1, 12, MODEL.inner(), 2, 16f, List.of("c_fc"), 3);
        LowRankAdapter lora = LoraAdapter.load(dir, Gpt2Config.of(1, 12, 3, 50, 16)).layers().get("h.0.mlp.c_fc");
        Random rnd = new Random(4);
        PlainLinear base = new PlainLinear(Dense.gaussian(12, MODEL.inner(), 0.3, rnd), Dense.gaussian(1, MODEL.inner(), 1, rnd).data, null);
        PlainLinear adapted = base.withLora(lora);
        DMatrixRMaj x = Dense.gaussian(3, 12, 1, rnd);
        assertThat(ErrorStats.compare(base.forward(x), adapted.forward(x)).within()).isFalse(); // the adapter matters
        try (InProcessExecutor ex = new InProcessExecutor();
             TrustedSession s = new TrustedSession(Channel.float32(ex), ObfuscationConfig.defaults().withMode(ObfuscationMode.PAD).withSeed(5))) {
            ObfuscatedLinear layer = s.register(adapted);
            assertThat(ErrorStats.compare(adapted.forward(x), s.forward(layer, x)).within()).isTrue();
        }
    }

    @Test
    void badAdaptersGetOneLineErrors(@TempDir Path dir) throws Exception {
        assertThatThrownBy(() -> LoraAdapter.load(dir, MODEL)).isInstanceOf(ModelFormatException.class)
                .hasMessageEndingWith("adapter_config.json: missing (a peft adapter needs adapter_config.json)");
        Files.writeString(dir.resolve("adapter_config.json"), "{\"r\": 0, \"lora_alpha\": 8, \"target_modules\": [\"c_attn\"]}");
        assertThatThrownBy(() -> LoraAdapter.load(dir, MODEL)).hasMessageEndingWith("'r' must be a positive integer");
        Files.writeString(dir.resolve("adapter_config.json"), "{\"r\": 2, \"lora_alpha\": 8, \"target_modules\": [\"c_attn\"], \"bias\": \"all\"}");
        assertThatThrownBy(() -> LoraAdapter.load(dir, MODEL)).hasMessageEndingWith("lora bias 'all' is not supported (only none)");
        Files.writeString(dir.resolve("adapter_config.json"), "{\"r\": 2, \"lora_alpha\": 8, \"target_modules\": [\"c_attn\"]}");
        assertThatThrownBy(() -> LoraAdapter.load(dir, MODEL)).hasMessageContaining("adapter_model.safetensors: missing");

        String k = "base_model.model.transformer.h.0.attn.c_attn.lora_";
        new SafeTensorsWriter().put(k + "A.weight", new float[2 * 12], 2, 12).write(dir.resolve("adapter_model.safetensors"));
        assertThatThrownBy(() -> LoraAdapter.load(dir, MODEL)).hasMessageEndingWith("h.0.attn.c_attn has lora_A but no lora_B");
        new SafeTensorsWriter().put(k + "A.weight", new float[2 * 12], 2, 12).put(k + "B.weight", new float[36 * 3], 36, 3)
                .write(dir.resolve("adapter_model.safetensors"));
        assertThatThrownBy(() -> LoraAdapter.load(dir, MODEL)).hasMessageContaining("lora_B.weight' has shape [36, 3], expected [36, 2]");
        new SafeTensorsWriter().put("base_model.model.transformer.h.5.attn.c_attn.lora_A.weight", new float[24], 2, 12)
                .write(dir.resolve("adapter_model.safetensors"));
        assertThatThrownBy(() -> LoraAdapter.load(dir, MODEL)).hasMessageContaining("names layer 5 but the model has 2");
        new SafeTensorsWriter().put("base_model.model.transformer.h.0.mlp.c_fc.lora_A.weight", new float[24], 2, 12)
                .write(dir.resolve("adapter_model.safetensors"));
        assertThatThrownBy(() -> LoraAdapter.load(dir, MODEL)).hasMessageContaining("is not in target_modules [c_attn]");
        new SafeTensorsWriter().put("base_model.model.transformer.wte.lora_embedding_A", new float[24], 2, 12)
                .write(dir.resolve("adapter_model.safetensors"));
        assertThatThrownBy(() -> LoraAdapter.load(dir, MODEL)).hasMessageContaining("unsupported adapter tensor 'base_model.model.transformer.wte.lora_embedding_A'");
        assertThatThrownBy(() -> LoraAdapter.writeRandom(dir, 1, 12, 48, 2, 8f, List.of("q_proj"), 1))
                .hasMessage("adapter targets must be among c_attn, c_proj, c_fc, got [q_proj]");
    }
}
