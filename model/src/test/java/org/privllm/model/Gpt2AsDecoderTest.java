package org.privllm.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.privllm.model.generate.Generator;
import org.privllm.model.generate.Sampling;

/**
 * GPT-2 is an instance of the general decoder: {@link DecoderModel#load} reads a GPT-2 directory through
 * {@link Gpt2Adapter}, and the GPT-2-typed facades ({@link Gpt2Forward}, {@link PlainOps}) are the one
 * decoder loop, bit for bit. {@link DecoderModel#load} dispatches on {@code config.json} and names what it
 * does not support.
 */
class Gpt2AsDecoderTest {

    private static void assertFacadesAreTheDecoder(Gpt2Model m, int[] ids, List<int[]> prompts) {
        DecoderModel d = DecoderModel.load(m.dir());
        assertThat(d.architecture()).isEqualTo(Architecture.GPT2);
        Gpt2Forward facade = new Gpt2Forward(m.config(), m.weights(), new PlainOps(m.config(), m.weights()));
        assertThat(new Generator(d.plainForward()).logits(ids).data).isEqualTo(new Generator(facade).logits(ids).data);
        List<float[]> a = new ArrayList<>(), b = new ArrayList<>();
        List<int[]> viaDecoder = new Generator(d.plainForward()).generate(prompts, 6, Sampling.GREEDY, -1, null,
                x -> a.add(x.data)).outputIds();
        List<int[]> viaFacade = new Generator(facade).generate(prompts, 6, Sampling.GREEDY, -1, null,
                x -> b.add(x.data)).outputIds();
        for (int i = 0; i < prompts.size(); i++) {
            assertThat(viaDecoder.get(i)).isEqualTo(viaFacade.get(i));
        }
        assertThat(a).hasSameSizeAs(b);
        for (int s = 0; s < a.size(); s++) {
            assertThat(a.get(s)).as("step " + s).isEqualTo(b.get(s));
        }
    }

    @Test
    void generatedGpt2LoadsAsADecoderAndTheFacadesAreTheSameLoop(@TempDir Path dir) {
        // inverse-layer score scaling and a separate LM head exercise the options GPT-2 alone has
        Fixture.write(dir, new Gpt2Config(3, 48, 4, 4 * 48, 300, 64, 1e-5f, Activation.GELU_NEW, true, true, 299), 5);
        Gpt2Model m = Gpt2Model.load(dir);
        assertFacadesAreTheDecoder(m, ReferenceAgreementTest.randomIds(2, 9, 300),
                List.of(ReferenceAgreementTest.randomIds(3, 7, 300), ReferenceAgreementTest.randomIds(4, 2, 300)));
        DecoderConfig c = DecoderModel.load(dir).config();
        assertThat(c.specialTokens().eos()).containsExactly(299);
        assertThat(c.attentionScale(2)).isEqualTo(m.config().attentionScale(2));
        assertThat(c.kvWidth()).isEqualTo(48);
        assertThat(c.upWidth()).isEqualTo(4 * 48);
    }

    @Test
    void realGpt2FixturesLoadAsDecoders() {
        for (Path d : Fixtures.checkpoints()) {
            Gpt2Model m = Gpt2Model.load(d);
            int v = m.config().vocab();
            assertFacadesAreTheDecoder(m, ReferenceAgreementTest.randomIds(1, 12, v),
                    List.of(ReferenceAgreementTest.randomIds(5, 4, v), ReferenceAgreementTest.randomIds(6, 9, v)));
        }
    }

    @Test
    void loadDispatchesOnConfigJsonAndNamesWhatItDoesNotSupport(@TempDir Path dir) throws IOException {
        Fixture.write(dir, Gpt2Config.of(1, 16, 2, 40, 16), 1);
        Path config = dir.resolve("config.json");
        String gpt2 = Files.readString(config);
        // an old GPT-2 config names neither model_type nor architectures: GPT-2's own keys decide
        Files.writeString(config, gpt2.replace("\"model_type\" : \"gpt2\",", "").replaceFirst("\"architectures\" : \\[[^]]*],", ""));
        assertThat(DecoderModel.architecture(dir)).isEqualTo(Architecture.GPT2);
        assertThat(DecoderModel.load(dir).config().layers()).isEqualTo(1);
        Files.writeString(config, gpt2.replace("\"model_type\" : \"gpt2\"", "\"model_type\" : \"bert\""));
        assertThatThrownBy(() -> DecoderModel.load(dir)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("model_type 'bert' is not supported (gpt2, llama, mistral, qwen2, qwen3)")
                .hasMessageNotContaining("\n");
        Files.writeString(config, gpt2.replace("\"model_type\" : \"gpt2\",", "").replace("GPT2LMHeadModel", "T5ForConditionalGeneration"));
        assertThatThrownBy(() -> DecoderModel.load(dir)).hasMessageContaining("architecture 'T5ForConditionalGeneration' is "
                + "not supported (GPT2LMHeadModel, LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM)");
        Files.writeString(config, "{\"vocab_size\": 5}");
        assertThatThrownBy(() -> DecoderModel.load(dir)).hasMessageContaining("names neither model_type nor architectures");
        assertThatThrownBy(() -> DecoderModel.load(dir.resolve("absent"))).hasMessageContaining("not a directory");
    }
}
