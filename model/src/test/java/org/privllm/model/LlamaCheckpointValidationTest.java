package org.privllm.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Llama-family configs and checkpoints the engine cannot compute exactly are refused in one line naming the problem. */
class LlamaCheckpointValidationTest {
    @TempDir Path dir;

    private void write(Architecture arch) {
        Fixture.write(dir, LlamaFixture.Spec.of(arch, 1, 16, 4, 2, 8, 24, 32, 64));
    }

    private void editConfig(UnaryOperator<String> edit) throws IOException {
        Path c = dir.resolve("config.json");
        Files.writeString(c, edit.apply(Files.readString(c)));
    }

    private void assertRefused(String... fragments) {
        assertThatThrownBy(() -> DecoderModel.load(dir))
                .isInstanceOf(ModelFormatException.class)
                .satisfies(e -> {
                    assertThat(e.getMessage()).doesNotContain("\n");
                    for (String f : fragments) {
                        assertThat(e.getMessage()).contains(f);
                    }
                });
    }

    private void renameTensor(String from, String to) throws IOException {
        Path f = dir.resolve("model.safetensors");
        byte[] b = Files.readAllBytes(f);
        int n = (int) ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        String h = new String(b, 8, n, StandardCharsets.UTF_8).replace("\"" + from + "\"", "\"" + to + "\"");
        byte[] nh = h.getBytes(StandardCharsets.UTF_8);
        ByteBuffer out = ByteBuffer.allocate(8 + nh.length + b.length - 8 - n).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(nh.length).put(nh).put(b, 8 + n, b.length - 8 - n);
        Files.write(f, out.array());
    }

    @Test
    void everyFamilyLoadsWithItsComponents() {
        for (Architecture a : new Architecture[] {Architecture.LLAMA, Architecture.MISTRAL, Architecture.QWEN2, Architecture.QWEN3}) {
            write(a);
            DecoderConfig c = DecoderModel.load(dir).config();
            assertThat(c.architecture()).isEqualTo(a);
            assertThat(c.biases().qkv()).isEqualTo(a == Architecture.QWEN2);
            assertThat(c.qkNorm()).isEqualTo(a == Architecture.QWEN3);
            assertThat(c.norm().kind()).isEqualTo(DecoderConfig.Norm.Kind.RMS_NORM);
            assertThat(c.mlp().gated()).isTrue();
            assertThat(c.slidingWindow()).isZero();
        }
    }

    @Test
    void unsupportedArchitecturesAreNamed() throws IOException {
        write(Architecture.LLAMA);
        editConfig(s -> s.replace("\"model_type\" : \"llama\"", "\"model_type\" : \"gemma2\""));
        assertRefused("config.json", "model_type 'gemma2' is not supported", "llama, mistral, qwen2, qwen3");
        editConfig(s -> s.replace("\"model_type\" : \"gemma2\"", "\"model_type\" : \"gpt2\""));
        assertThatThrownBy(() -> LlamaCheckpoint.config(dir)).hasMessageContaining("model_type 'gpt2' is not supported");
        assertRefused("config.json", "missing n_embd"); // DecoderModel reads it as GPT-2, which it is not
        editConfig(s -> s.replace("\"model_type\" : \"gpt2\"", "\"model_type\" : \"llama\"")
                .replace("LlamaForCausalLM", "LlamaForSequenceClassification"));
        assertRefused("architecture 'LlamaForSequenceClassification' is not supported");
        editConfig(s -> s.replace("LlamaForSequenceClassification", "Qwen2ForCausalLM"));
        assertRefused("architecture 'Qwen2ForCausalLM' is not supported", "model_type llama is LlamaForCausalLM");
        editConfig(s -> s.replace("\"model_type\" : \"llama\",", "").replace("\"Qwen2ForCausalLM\"", "\"MistralForCausalLM\""));
        assertThat(LlamaCheckpoint.config(dir).architecture()).isEqualTo(Architecture.MISTRAL);
        editConfig(s -> s.replaceFirst("\"architectures\" : \\[[^]]*],", ""));
        assertRefused("names neither model_type nor architectures");
    }

    @Test
    void ropeScalingOtherThanLlama3IsRefusedByName() throws IOException {
        write(Architecture.LLAMA);
        editConfig(s -> s.replace("\"rope_scaling\" : null", "\"rope_scaling\" : {\"rope_type\": \"yarn\", \"factor\": 4.0}"));
        assertRefused("rope_scaling type 'yarn' is not supported (only llama3)");
        editConfig(s -> s.replace("{\"rope_type\": \"yarn\", \"factor\": 4.0}", "{\"type\": \"dynamic\", \"factor\": 2.0}"));
        assertRefused("rope_scaling type 'dynamic'");
        editConfig(s -> s.replace("{\"type\": \"dynamic\", \"factor\": 2.0}",
                "{\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0}"));
        assertRefused("rope_scaling of type llama3 lacks original_max_position_embeddings");
        editConfig(s -> s.replace("\"high_freq_factor\": 4.0}", "\"high_freq_factor\": 1.0, \"original_max_position_embeddings\": 64}"));
        assertRefused("0 < low_freq_factor < high_freq_factor");
        editConfig(s -> s.replace("\"high_freq_factor\": 1.0", "\"high_freq_factor\": 4.0"));
        assertThat(DecoderModel.load(dir).config().positionEncoding())
                .isEqualTo(new DecoderConfig.Rotary(10000.0, new DecoderConfig.Llama3Scaling(8, 1, 4, 64)));
        editConfig(s -> s.replace("\"rope_type\": \"llama3\"", "\"rope_type\": \"default\""));
        assertThat(DecoderModel.load(dir).config().positionEncoding()).isEqualTo(new DecoderConfig.Rotary(10000.0, null));
    }

    @Test
    void transformers5RopeParametersAreRead() throws IOException {
        write(Architecture.LLAMA);
        editConfig(s -> s.replace("\"rope_theta\" : 10000.0,", "").replace("\"rope_scaling\" : null",
                "\"rope_parameters\" : {\"rope_type\": \"default\", \"rope_theta\": 500000.0}"));
        assertThat(DecoderModel.load(dir).config().positionEncoding()).isEqualTo(new DecoderConfig.Rotary(500000.0, null));
    }

    @Test
    void badFieldsAreRefused() throws IOException {
        write(Architecture.LLAMA);
        String good = Files.readString(dir.resolve("config.json"));
        editConfig(s -> s.replace("\"silu\"", "\"gelu\""));
        assertRefused("hidden_act 'gelu' is not supported");
        editConfig(s -> good.replace("\"num_key_value_heads\" : 2", "\"num_key_value_heads\" : 3"));
        assertRefused("num_attention_heads 4 is not a multiple of num_key_value_heads 3");
        editConfig(s -> good.replace("\"head_dim\" : 8", "\"head_dim\" : 7"));
        assertRefused("even head_dim");
        editConfig(s -> good.replace("\"hidden_size\" : 16,", ""));
        assertRefused("missing hidden_size");
        editConfig(s -> good.replace("\"num_key_value_heads\" : 2", "\"num_key_value_heads\" : \"two\""));
        assertRefused("num_key_value_heads must be an integer");
        editConfig(s -> good.replace("\"rms_norm_eps\" : 1.0E-6", "\"rms_norm_eps\" : 0"));
        assertRefused("norm epsilon must be a positive number");
        editConfig(s -> good.replace("\"rope_theta\" : 10000.0", "\"rope_theta\" : -1"));
        assertRefused("rope_theta must be a positive number");
        editConfig(s -> good.replace("\"intermediate_size\" : 24", "\"intermediate_size\" : 0"));
        assertRefused("intermediate_size must be a positive integer");
        editConfig(s -> good.replace("\"tie_word_embeddings\" : false", "\"tie_word_embeddings\" : \"no\""));
        assertRefused("tie_word_embeddings must be true or false");
        editConfig(s -> good.replace("\"eos_token_id\" : 2", "\"eos_token_id\" : [2, 32]"));
        assertRefused("eos_token_id 32 is outside the vocabulary [0, 32)");
        editConfig(s -> "{\"model_type\": \"llama\"");
        assertRefused("config.json: not valid JSON");
    }

    @Test
    void missingTensorsAndWrongShapesAreNamed() throws IOException {
        write(Architecture.QWEN3);
        String good = Files.readString(dir.resolve("config.json"));
        editConfig(s -> good.replace("\"num_key_value_heads\" : 2", "\"num_key_value_heads\" : 4"));
        assertRefused("tensor 'model.layers.0.self_attn.k_proj.weight' has shape [16, 16], expected [32, 16]");
        editConfig(s -> good.replace("\"vocab_size\" : 32", "\"vocab_size\" : 33"));
        assertRefused("tensor 'lm_head.weight' has shape [32, 16], expected [33, 16]");
        editConfig(s -> good);
        renameTensor("model.layers.0.self_attn.k_norm.weight", "model.layers.0.self_attn.k_nrm.weight");
        assertRefused("checkpoint lacks tensor 'model.layers.0.self_attn.k_norm.weight'");
    }

    @Test
    void untiedCheckpointWithoutLmHeadIsRefused() throws IOException {
        write(Architecture.LLAMA);
        renameTensor("lm_head.weight", "lm_hat.weight");
        assertRefused("lacks tensor 'lm_head.weight' (tie_word_embeddings is false)");
        editConfig(s -> s.replace("\"tie_word_embeddings\" : false", "\"tie_word_embeddings\" : true"));
        assertThat(DecoderModel.load(dir).weights().lmHead()).isNull();
    }

    @Test
    void tokenIdsAndFamilyDefaults() throws IOException {
        write(Architecture.QWEN2);
        editConfig(s -> s.replace("\"eos_token_id\" : 2", "\"eos_token_id\" : [2, 7]").replace("\"bos_token_id\" : 1",
                "\"bos_token_id\" : null"));
        DecoderConfig c = LlamaCheckpoint.config(dir);
        assertThat(c.specialTokens().eos()).containsExactly(2, 7);
        assertThat(c.specialTokens().bos()).isEqualTo(-1);
        editConfig(s -> s.replace("\"use_sliding_window\" : false", "\"use_sliding_window\" : true")
                .replace("\"sliding_window\" : null", "\"sliding_window\" : 8"));
        assertThat(LlamaCheckpoint.config(dir).slidingWindow()).as("max_window_layers = layers: no sliding layer").isZero();
        editConfig(s -> s.replace("\"max_window_layers\" : 1", "\"max_window_layers\" : 0"));
        assertThat(LlamaCheckpoint.config(dir).slidingWindow()).isEqualTo(8);

        write(Architecture.MISTRAL);
        editConfig(s -> s.replace("\"sliding_window\" : null,", ""));
        assertThat(LlamaCheckpoint.config(dir).slidingWindow()).as("MistralConfig's default").isEqualTo(4096);

        write(Architecture.QWEN3);
        editConfig(s -> s.replace("\"head_dim\" : 8,", ""));
        assertThat(LlamaCheckpoint.config(dir).headDim()).as("Qwen3Config's default").isEqualTo(128);
        write(Architecture.LLAMA);
        editConfig(s -> s.replace("\"head_dim\" : 8,", "").replace("\"num_key_value_heads\" : 2,", ""));
        assertThat(LlamaCheckpoint.config(dir)).extracting(DecoderConfig::headDim, DecoderConfig::kvHeads).containsExactly(4, 4);
    }

    @Test
    void presetLlama124mHasItsShape() throws IOException {
        LlamaFixture.Spec spec = LlamaFixture.Spec.preset("llama-124m", 1);
        new com.fasterxml.jackson.databind.ObjectMapper().writeValue(dir.resolve("config.json").toFile(),
                LlamaFixture.configJson(spec));
        DecoderConfig c = LlamaCheckpoint.config(dir);
        assertThat(List.of(c.architecture(), c.hidden(), c.layers(), c.heads(), c.kvHeads(), c.headDim(), c.inner(),
                c.vocab(), c.positions(), c.tiedHead()))
                .containsExactly(Architecture.LLAMA, 768, 12, 12, 4, 64, 2048, 32000, 2048, false);
        long perLayer = (long) c.hidden() * (c.qkvWidth() + c.qWidth() + 3L * c.inner()) + 2L * c.hidden();
        assertThat(perLayer * c.layers() + 2L * c.vocab() * c.hidden() + c.hidden()).as("parameters").isEqualTo(124_668_672L);
        assertThatThrownBy(() -> LlamaFixture.Spec.preset("llama-7b", 1)).hasMessageContaining("unknown preset 'llama-7b'");
    }
}
