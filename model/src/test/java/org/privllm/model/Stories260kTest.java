package org.privllm.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.privllm.model.generate.Generator;
import org.privllm.model.generate.Sampling;
import org.privllm.tensor.Matrix;

/**
 * The real trained stories260K (llama2.c's tinyllamas, converted to HF LlamaForCausalLM; GQA 8/4,
 * tied) against its float64 goldens: greedy ids exactly, logits within 1e-4. Skipped without
 * {@code shared/fixtures/stories260k}.
 */
class Stories260kTest {
    static Path dir;
    static JsonNode goldens;
    static DecoderModel model;

    @BeforeAll
    static void load() throws IOException {
        dir = Fixtures.shared().resolve("fixtures/stories260k");
        if (Files.exists(dir.resolve("goldens.json"))) {
            goldens = new ObjectMapper().readTree(Files.readAllBytes(dir.resolve("goldens.json")));
            model = DecoderModel.load(dir);
        }
    }

    private static int[] ints(JsonNode array) {
        int[] a = new int[array.size()];
        for (int i = 0; i < a.length; i++) {
            a[i] = array.get(i).asInt();
        }
        return a;
    }

    @Test
    void configIsReadAsLlamaWithGroupedHeadsAndTiedHead() {
        assumeTrue(model != null, "shared/fixtures/stories260k absent");
        DecoderConfig c = model.config();
        assertThat(List.of(c.architecture(), c.layers(), c.hidden(), c.heads(), c.kvHeads(), c.headDim(), c.inner(),
                c.vocab(), c.positions(), c.tiedHead())).containsExactly(Architecture.LLAMA, 5, 64, 8, 4, 8, 172, 512, 512, true);
        assertThat(c.specialTokens().bos()).isEqualTo(1);
        assertThat(c.specialTokens().eos()).containsExactly(2);
    }

    @Test
    void greedyFromBosMatchesGoldenIds() {
        assumeTrue(model != null, "shared/fixtures/stories260k absent");
        JsonNode g = goldens.get("greedy_from_bos");
        int[] out = new Generator(model.plainForward()).generate(List.of(ints(g.get("prompt_ids"))), g.get("n_new").asInt(),
                Sampling.GREEDY, new int[0], null).outputIds().get(0);
        assertThat(out).isEqualTo(ints(g.get("ids")));
    }

    @Test
    void greedyPromptsMatchGoldenIdsAloneAndBatched() {
        assumeTrue(model != null, "shared/fixtures/stories260k absent");
        List<int[]> prompts = new ArrayList<>(), expected = new ArrayList<>();
        int steps = 0;
        for (JsonNode g : goldens.get("greedy_prompts")) {
            int[] prompt = ints(g.get("prompt_ids")), ids = ints(g.get("ids"));
            prompts.add(prompt);
            expected.add(ids);
            steps = g.get("n_new").asInt();
            assertThat(new Generator(model.plainForward()).generate(List.of(prompt), steps, Sampling.GREEDY, new int[0],
                    null).outputIds().get(0)).as(g.get("prompt").asText()).isEqualTo(ids);
        }
        List<int[]> batched = new Generator(model.plainForward()).generate(prompts, steps, Sampling.GREEDY, new int[0], null)
                .outputIds();
        for (int i = 0; i < prompts.size(); i++) {
            assertThat(batched.get(i)).as("left-padded batch, prompt " + i).isEqualTo(expected.get(i));
        }
    }

    @Test
    void logitsMatchGoldenWithin1e4() {
        assumeTrue(model != null, "shared/fixtures/stories260k absent");
        JsonNode g = goldens.get("logits");
        Matrix logits = new Generator(model.plainForward()).logits(ints(g.get("ids")));
        JsonNode rows = g.get("logits");
        assertThat(logits.rows).isEqualTo(rows.size());
        double max = 0;
        for (int i = 0; i < logits.rows; i++) {
            for (int v = 0; v < logits.cols; v++) {
                max = Math.max(max, Math.abs(logits.get(i, v) - rows.get(i).get(v).asDouble()));
            }
        }
        assertThat(max).as("max |logit - golden|").isLessThan(1e-4);
    }
}
