package org.privllm.model;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.privllm.model.generate.Generator;
import org.privllm.model.generate.Sampling;

/**
 * GPT-2 is an instance of the general decoder: through {@link Gpt2Adapter}, {@link DecoderForward}
 * over {@link PlainDecoderOps} gives {@link Gpt2Forward}'s logits bit for bit (the same kernels in
 * the same order) and the same generations — the check phase 2's migration rests on.
 */
class Gpt2AsDecoderTest {

    private static void assertSameAsGpt2Forward(Gpt2Model m, int[] ids, List<int[]> prompts) {
        DecoderModel d = Gpt2Adapter.model(m);
        assertThat(new Generator(d.plainForward()).logits(ids).data)
                .isEqualTo(new Generator(m.plainForward()).logits(ids).data);
        List<float[]> a = new ArrayList<>(), b = new ArrayList<>();
        List<int[]> viaDecoder = new Generator(d.plainForward()).generate(prompts, 6, Sampling.GREEDY, -1, null,
                x -> a.add(x.data)).outputIds();
        List<int[]> viaGpt2 = new Generator(m.plainForward()).generate(prompts, 6, Sampling.GREEDY, -1, null,
                x -> b.add(x.data)).outputIds();
        for (int i = 0; i < prompts.size(); i++) {
            assertThat(viaDecoder.get(i)).isEqualTo(viaGpt2.get(i));
        }
        assertThat(a).hasSameSizeAs(b);
        for (int s = 0; s < a.size(); s++) {
            assertThat(a.get(s)).as("step " + s).isEqualTo(b.get(s));
        }
    }

    @Test
    void generatedGpt2IsBitIdenticalThroughTheDecoder(@TempDir Path dir) {
        // inverse-layer score scaling and a separate LM head exercise the options GPT-2 alone has
        Fixture.write(dir, new Gpt2Config(3, 48, 4, 4 * 48, 300, 64, 1e-5f, Activation.GELU_NEW, true, true, 299), 5);
        Gpt2Model m = Gpt2Model.load(dir);
        assertSameAsGpt2Forward(m, ReferenceAgreementTest.randomIds(2, 9, 300),
                List.of(ReferenceAgreementTest.randomIds(3, 7, 300), ReferenceAgreementTest.randomIds(4, 2, 300)));
    }

    @Test
    void realGpt2FixturesAreBitIdenticalThroughTheDecoder() {
        for (Path d : Fixtures.checkpoints()) {
            Gpt2Model m = Gpt2Model.load(d);
            int v = m.config().vocab();
            assertSameAsGpt2Forward(m, ReferenceAgreementTest.randomIds(1, 12, v),
                    List.of(ReferenceAgreementTest.randomIds(5, 4, v), ReferenceAgreementTest.randomIds(6, 9, v)));
        }
    }
}
