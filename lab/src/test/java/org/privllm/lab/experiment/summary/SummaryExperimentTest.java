package org.privllm.lab.experiment.summary;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.privllm.lab.report.RunInfo;
import org.privllm.model.Activation;
import org.privllm.model.Fixture;
import org.privllm.model.Gpt2Config;
import org.privllm.model.Gpt2Model;
import org.privllm.trusted.mask.MaskFamily;

class SummaryExperimentTest {
    @Test
    void writesOneRowPerCheckInBothModesWithPlot(@TempDir Path tmp) throws Exception {
        Gpt2Config c = new Gpt2Config(1, 8, 2, 32, 40, 48, 1e-5f, Activation.GELU_NEW, true, false, 39);
        Fixture.write(tmp.resolve("model"), c, 9);
        Gpt2Model m = Gpt2Model.load(tmp.resolve("model"));
        Path out = tmp.resolve("out");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        SummaryExperiment.Result r = SummaryExperiment.run(m, null, MaskFamily.DEFAULT, 5L,
                RunInfo.capture(List.of("privllm", "experiment", "summary"), "test", c, 5L), out, new PrintStream(err));
        assertThat(r.allPassed()).isTrue();
        for (String f : List.of("summary.json", "summary.csv", "summary.md", "summary.png", "summary.svg")) {
            assertThat(out.resolve(f)).isNotEmptyFile();
        }
        assertThat(err.toString()).contains("10/10");
        JsonNode doc = new ObjectMapper().readTree(out.resolve("summary.json").toFile());
        assertThat(doc.path("run").path("seed").asLong()).isEqualTo(5);
        JsonNode rows = doc.path("rows");
        assertThat(rows.size()).isEqualTo(r.table().rows().size()).isGreaterThan(40);
        long mask = 0, pad = 0, generation = 0;
        for (JsonNode row : rows) {
            mask += row.path("mode").asText().equals("mask") ? 1 : 0;
            pad += row.path("mode").asText().equals("pad") ? 1 : 0;
            generation += row.path("stage").asText().equals("generation") ? 1 : 0;
            assertThat(row.path("allclose").asBoolean()).as(row.toString()).isTrue();
        }
        assertThat(mask).isEqualTo(pad);
        assertThat(generation).isEqualTo(2);
        assertThat(Files.readString(out.resolve("summary.csv"))).startsWith("mode,masks,lora,stage,check,max_abs_err");
    }
}
