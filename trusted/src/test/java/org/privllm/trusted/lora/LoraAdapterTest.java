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
import org.privllm.model.Architecture;
import org.privllm.model.DecoderConfig;
import org.privllm.model.DecoderModel;
import org.privllm.model.DecoderWeights;
import org.privllm.model.Fixture;
import org.privllm.model.Gpt2Config;
import org.privllm.model.LlamaFixture;
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

    /** A small GQA llama (head_dim ≠ hidden/heads) whose config the Llama adapters are read against. */
    private static DecoderConfig llama(Path dir) {
        Fixture.write(dir.resolve("model"), LlamaFixture.Spec.of(Architecture.LLAMA, 2, 16, 4, 2, 6, 20, 40, 32));
        return DecoderModel.load(dir.resolve("model")).config();
    }

    /** peft's delta of one Linear, {@code scaling·(B·A)ᵀ} as {@code in×out}, from the raw file. */
    private static DMatrixRMaj peftDelta(Path dir, String module, int layer, int r, int in, int out, double scaling) {
        try (SafeTensors st = SafeTensors.open(dir.resolve("adapter_model.safetensors"))) {
            String k = "base_model.model.model.layers." + layer + "." + module;
            DMatrixRMaj a = Dense.of(st.matrix(k + ".lora_A.weight", r, in));
            DMatrixRMaj b = Dense.of(st.matrix(k + ".lora_B.weight", out, r));
            return Dense.scale(scaling, Dense.transpose(Dense.mul(b, a)));
        }
    }

    /** Columns {@code [from, from + n)} of {@code m}. */
    private static DMatrixRMaj cols(DMatrixRMaj m, int from, int n) {
        DMatrixRMaj c = new DMatrixRMaj(m.numRows, n);
        for (int i = 0; i < m.numRows; i++) {
            for (int j = 0; j < n; j++) {
                c.set(i, j, m.get(i, from + j));
            }
        }
        return c;
    }

    @Test
    void llamaAdaptersLandAtTheirColumnsOfTheFusedLinears(@TempDir Path dir) throws Exception {
        DecoderConfig c = llama(dir);
        int q = c.qWidth(), kv = c.kvWidth(), d = c.hidden(), f = c.inner();
        Path a = dir.resolve("all");
        LoraAdapter.writeRandom(a, c, 3, 6f, LoraAdapter.LLAMA_TARGETS, 4);
        JsonNode cfg = new ObjectMapper().readTree(a.resolve("adapter_config.json").toFile());
        assertThat(cfg.get("fan_in_fan_out").asBoolean()).isFalse();
        try (SafeTensors st = SafeTensors.open(a.resolve("adapter_model.safetensors"))) {
            assertThat(st.entries()).hasSize(2 * 7 * 2);
            assertThat(st.entries().get("base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight").shape()).containsExactly(kv, 3);
            assertThat(st.entries().get("base_model.model.model.layers.0.self_attn.o_proj.lora_A.weight").shape()).containsExactly(3, q);
        }
        LoraAdapter all = LoraAdapter.load(a, c);
        assertThat(all.layers().keySet()).containsExactlyInAnyOrder("h.0.attn.c_attn", "h.0.attn.c_proj", "h.0.mlp.c_fc",
                "h.0.mlp.c_proj", "h.1.attn.c_attn", "h.1.attn.c_proj", "h.1.mlp.c_fc", "h.1.mlp.c_proj");
        for (int layer = 0; layer < 2; layer++) {
            LowRankAdapter qkv = all.layers().get(DecoderWeights.Linear.QKV.key(layer));
            assertThat(qkv.rank()).isEqualTo(9); // q, k and v side by side
            DMatrixRMaj fused = Dense.scale(qkv.scale(), Dense.mul(qkv.a(), qkv.b()));
            assertThat(fused.numCols).isEqualTo(c.qkvWidth());
            assertClose(cols(fused, 0, q), peftDelta(a, "self_attn.q_proj", layer, 3, d, q, 2));
            assertClose(cols(fused, q, kv), peftDelta(a, "self_attn.k_proj", layer, 3, d, kv, 2));
            assertClose(cols(fused, q + kv, kv), peftDelta(a, "self_attn.v_proj", layer, 3, d, kv, 2));
            LowRankAdapter up = all.layers().get(DecoderWeights.Linear.UP.key(layer));
            DMatrixRMaj gateUp = Dense.scale(up.scale(), Dense.mul(up.a(), up.b()));
            assertClose(cols(gateUp, 0, f), peftDelta(a, "mlp.gate_proj", layer, 3, d, f, 2));
            assertClose(cols(gateUp, f, f), peftDelta(a, "mlp.up_proj", layer, 3, d, f, 2));
            LowRankAdapter o = all.layers().get(DecoderWeights.Linear.OUT.key(layer));
            assertClose(Dense.scale(o.scale(), Dense.mul(o.a(), o.b())), peftDelta(a, "self_attn.o_proj", layer, 3, q, d, 2));
            LowRankAdapter down = all.layers().get(DecoderWeights.Linear.DOWN.key(layer));
            assertClose(Dense.scale(down.scale(), Dense.mul(down.a(), down.b())), peftDelta(a, "mlp.down_proj", layer, 3, f, d, 2));
        }
        // a target on q only leaves the k and v columns zero; up only leaves the gate's zero
        Path qOnly = dir.resolve("q");
        LoraAdapter.writeRandom(qOnly, c, 2, 2f, List.of("q_proj", "up_proj"), 5);
        LoraAdapter partial = LoraAdapter.load(qOnly, c);
        assertThat(partial.layers().keySet()).containsExactlyInAnyOrder("h.0.attn.c_attn", "h.1.attn.c_attn", "h.0.mlp.c_fc",
                "h.1.mlp.c_fc");
        LowRankAdapter qkv = partial.layers().get("h.1.attn.c_attn");
        DMatrixRMaj fused = Dense.scale(qkv.scale(), Dense.mul(qkv.a(), qkv.b()));
        assertClose(cols(fused, 0, q), peftDelta(qOnly, "self_attn.q_proj", 1, 2, d, q, 1));
        assertThat(cols(fused, q, 2 * kv).data).containsOnly(0.0);
        LowRankAdapter up = partial.layers().get("h.0.mlp.c_fc");
        DMatrixRMaj gateUp = Dense.scale(up.scale(), Dense.mul(up.a(), up.b()));
        assertThat(cols(gateUp, 0, f).data).containsOnly(0.0);
        assertClose(cols(gateUp, f, f), peftDelta(qOnly, "mlp.up_proj", 0, 2, d, f, 1));
    }

    private static void assertClose(DMatrixRMaj a, DMatrixRMaj b) {
        assertThat(a.numRows).isEqualTo(b.numRows);
        assertThat(a.numCols).isEqualTo(b.numCols);
        assertThat(ErrorStats.compare(a, b, 1e-12, 1e-12).within()).isTrue();
    }

    @Test
    void llamaAdaptersGetOneLineErrors(@TempDir Path dir) throws Exception {
        DecoderConfig c = llama(dir);
        Files.writeString(dir.resolve("adapter_config.json"), "{\"r\": 2, \"lora_alpha\": 8, \"target_modules\": [\"q_proj\"]}");
        String k = "base_model.model.model.layers.0.self_attn.";
        new SafeTensorsWriter().put(k + "q_proj.lora_A.weight", new float[2 * 16], 2, 16)
                .put(k + "q_proj.lora_B.weight", new float[c.kvWidth() * 2], c.kvWidth(), 2).write(dir.resolve("adapter_model.safetensors"));
        assertThatThrownBy(() -> LoraAdapter.load(dir, c)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("q_proj.lora_B.weight' has shape [12, 2], expected [24, 2]");
        new SafeTensorsWriter().put(k + "k_proj.lora_A.weight", new float[2 * 16], 2, 16).write(dir.resolve("adapter_model.safetensors"));
        assertThatThrownBy(() -> LoraAdapter.load(dir, c)).hasMessageContaining("is not in target_modules [q_proj]");
        new SafeTensorsWriter().put("base_model.model.transformer.h.0.attn.c_attn.lora_A.weight", new float[2 * 16], 2, 16)
                .write(dir.resolve("adapter_model.safetensors"));
        assertThatThrownBy(() -> LoraAdapter.load(dir, c)).hasMessageContaining("unsupported adapter tensor")
                .hasMessageContaining("q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj of a llama model");
        new SafeTensorsWriter().put(k + "q_proj.lora_A.weight", new float[2 * 16], 2, 16).write(dir.resolve("adapter_model.safetensors"));
        assertThatThrownBy(() -> LoraAdapter.load(dir, c)).hasMessageEndingWith("layers.0.self_attn.q_proj has lora_A but no lora_B");
        assertThatThrownBy(() -> LoraAdapter.writeRandom(dir, c, 2, 8f, List.of("c_attn"), 1))
                .hasMessage("adapter targets must be among q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj, got [c_attn]");
    }
}
