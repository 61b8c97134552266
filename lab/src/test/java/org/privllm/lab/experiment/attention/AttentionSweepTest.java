package org.privllm.lab.experiment.attention;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.privllm.lab.report.RunInfo;
import org.privllm.model.Activation;
import org.privllm.model.Fixture;
import org.privllm.model.Gpt2Config;
import org.privllm.model.Gpt2Model;
import org.privllm.trusted.mask.MaskFamily;

class AttentionSweepTest {
    static final Gpt2Config C = new Gpt2Config(2, 16, 4, 32, 40, 16, 1e-5f, Activation.GELU_NEW, true, true, 39);
    static Gpt2Model model;

    @BeforeAll
    static void load(@TempDir Path tmp) {
        Fixture.write(tmp, C, 12);
        model = Gpt2Model.load(tmp);
    }

    static RunInfo info() {
        return RunInfo.capture(List.of("privllm", "experiment", "attention"), "test", C, null);
    }

    @Test
    void everyCellAndStepIsMeasuredAndWithinTolerance(@TempDir Path out) {
        AttentionSweep.Grid grid = new AttentionSweep.Grid(List.of(1, 2), List.of(2, 5), List.of(1, 3), List.of(false, true));
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        AttentionSweep.Result r = AttentionSweep.run(model, grid, MaskFamily.DEFAULT, 3L, info(), out, new PrintStream(err));
        // rows: per (batch, seq, pad) one prefill + d decode steps for each decode count d
        assertThat(r.table().rows()).hasSize(2 * 2 * 2 * ((1 + 1) + (1 + 3)));
        assertThat(r.allClose()).isTrue();
        assertThat(err.toString()).contains("16/16");
        for (String f : List.of("attention.json", "attention.csv", "attention.md", "attention-decode-1.png",
                "attention-decode-1.svg", "attention-decode-3.png", "attention-decode-3.svg")) {
            assertThat(out.resolve(f)).isNotEmptyFile();
        }
        for (Map<String, Object> row : r.table().rows()) {
            for (String k : List.of("qk_scores", "softmax", "pv", "attn_out", "k_append", "v_append")) {
                assertThat((Double) row.get(k)).as(k + " " + row).isBetween(0.0, 1e-4);
            }
            assertThat((Double) row.get("nq_nk_identity")).isLessThan(1e-10);
        }
        assertThat(r.table().rows()).extracting(row -> row.get("step")).contains("prefill", "decode 1", "decode 3");
        assertThat(r.table().rows()).extracting(row -> row.get("pad")).contains("on", "off");
    }

    @Test
    void badGridsAreRefusedWithOneLine(@TempDir Path out) {
        assertThatThrownBy(() -> new AttentionSweep.Grid(List.of(0), List.of(2), List.of(1), List.of(false)))
                .hasMessageContaining("positive");
        AttentionSweep.Grid tooLong = new AttentionSweep.Grid(List.of(1), List.of(14), List.of(4), List.of(false));
        assertThatThrownBy(() -> AttentionSweep.run(model, tooLong, MaskFamily.DEFAULT, 1L, info(), out,
                new PrintStream(new ByteArrayOutputStream()))).hasMessageContaining("n_positions");
    }
}
