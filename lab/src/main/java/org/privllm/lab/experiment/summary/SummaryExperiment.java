package org.privllm.lab.experiment.summary;

import java.io.PrintStream;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.privllm.lab.report.Charts;
import org.privllm.lab.report.Progress;
import org.privllm.lab.report.ResultTable;
import org.privllm.lab.report.RunInfo;
import org.privllm.lab.verify.Check;
import org.privllm.lab.verify.Verifier;
import org.privllm.model.DecoderModel;
import org.privllm.model.Gpt2Model;
import org.privllm.trusted.lora.LoraAdapter;
import org.privllm.trusted.mask.MaskFamily;
import org.privllm.trusted.obf.ObfuscationConfig;
import org.privllm.trusted.obf.ObfuscationMode;

/**
 * The stage summary (issue 6, item 1): every stage's verification as {@code verify} runs it, in mask mode
 * and in padding mode, plus the generation-equivalence check (greedy generation, obfuscated vs plaintext:
 * ids identical, largest logit error). One table, one row per (mode, check), written as JSON, CSV and
 * Markdown with a bar chart of {@code log10} of each stage's largest error. With a seed, each mode's verification
 * rows are exactly what {@code verify --mode M --masks F --seed S} prints.
 */
public final class SummaryExperiment {
    /** New tokens of the generation-equivalence check. */
    public static final int NEW_TOKENS = 32;
    /** Floor of the plotted error (an exact check would be {@code log10 0 = −∞}). */
    static final double PLOT_FLOOR = 1e-12;

    private SummaryExperiment() {}

    /** The table and whether every check passed. */
    public record Result(ResultTable table, boolean allPassed, List<Path> files) {}

    /**
     * @param adapter the model's private LoRA adapter, or null (stage 1 LoRA then uses a random one)
     * @param seed    the user's seed (masks, pads and inputs reproducible), or null for secure randomness
     */
    public static Result run(Gpt2Model model, LoraAdapter adapter, MaskFamily family, Long seed, RunInfo info, Path out,
                             PrintStream progressTo) {
        return run(model.decoder(), adapter, family, seed, info, out, progressTo);
    }

    /** The summary on any decoder: GPT-2 or the Llama family (whose stage 4 adds RMSNorm, RoPE, GQA, SwiGLU, q/k norm). */
    public static Result run(DecoderModel model, LoraAdapter adapter, MaskFamily family, Long seed, RunInfo info, Path out,
                             PrintStream progressTo) {
        ResultTable table = new ResultTable("Stage summary: every verification check, mask and padding mode");
        Map<String, Double> worst = new LinkedHashMap<>(); // (mode, stage) -> largest error of its checks
        boolean all = true;
        List<ObfuscationMode> modes = List.of(ObfuscationMode.MASK, ObfuscationMode.PAD);
        try (Progress progress = new Progress("summary", modes.size() * (Verifier.STAGES + 1), progressTo)) {
            for (ObfuscationMode mode : modes) {
                // Each mode seeded exactly as `verify --mode M --seed S` seeds itself, so a seeded summary's rows are
                // verify's rows (tested): masks and pads from S, test inputs and the stage-1 adapter from Random(S).
                ObfuscationConfig c = ObfuscationConfig.defaults().withMode(mode).withFamily(family);
                if (seed != null) {
                    c = c.withSeed(seed);
                }
                Random data = seed != null ? new Random(seed) : new SecureRandom();
                LoraAdapter stage1 = adapter != null ? adapter : Verifier.randomAdapter(model.config(), data.nextLong());
                List<Check> checks;
                try (Verifier v = new Verifier(model, c, adapter, stage1, data)) {
                    checks = new ArrayList<>(v.run(progress::step));
                    checks.add(v.generation(NEW_TOKENS));
                }
                progress.step("generation");
                String modeName = mode.name().toLowerCase(java.util.Locale.ROOT);
                for (Check ch : checks) {
                    Map<String, Object> row = new LinkedHashMap<>();
                    row.put("mode", modeName);
                    row.put("masks", family.toString());
                    row.put("lora", adapter != null);
                    row.putAll(ch.row());
                    table.add(row);
                    worst.merge(modeName + "\0" + ch.stage(), ch.stats().maxAbsError(), Math::max);
                    all &= ch.pass();
                }
            }
        }
        // One bar per (stage, mode): the per-check detail is in the table; ~35 checks would not fit as labels.
        List<Charts.Bar> bars = new ArrayList<>();
        worst.forEach((k, v) -> {
            String[] modeStage = k.split("\0");
            bars.add(new Charts.Bar(modeStage[0], modeStage[1], Math.log10(Math.max(v, PLOT_FLOOR))));
        });
        List<Path> files = new ArrayList<>(table.write(out, "summary", info));
        files.addAll(Charts.bars(out, "summary", "log10 of the largest absolute error per stage (tolerance 1e-4 = -4)",
                "log10 max |error|", bars, false));
        return new Result(table, all, files);
    }
}
