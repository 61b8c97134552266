package org.privllm.lab.workload;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import org.privllm.lab.report.Charts;
import org.privllm.lab.report.ResultTable;
import org.privllm.lab.report.RunInfo;
import org.privllm.trusted.gpt2.SchemeCost;
import org.privllm.trusted.privacy.PrivacyLevel;

/** Writes the analyzer's results: {@code workload.json/.csv/.md} (assumptions appended) and the time chart. */
public final class WorkloadReport {
    private WorkloadReport() {}

    /**
     * Chart label short enough for a category axis: {@code m:}/{@code p:} + family for masked mask/pad runs, with a
     * {@code *} where an implemented strategy was counted from its plan instead of run.
     */
    public static String label(WorkloadAnalyzer.Result r) {
        return label(r.placement()) + (r.notRunBecause() != null ? "*" : "");
    }

    public static String label(Placement p) {
        return switch (p) {
            case MaskedPlacement m -> m.mode().charAt(0) + ":" + m.family().replace("orthogonal", "orth")
                    .replaceAll("gaussian.*", "gauss").replace("block:", "blk");
            case TrustedNonlinearPlacement t -> "nonlin";
            case GpuNonlinearPlacement g -> "gpu_nl";
            case AmuletPlacement a -> "amulet";
            case BlindedPlacement b -> b.level() == PrivacyLevel.TWO_PARTY ? "2party" : "strong";
            default -> p.strategy();
        };
    }

    public static ResultTable table(List<WorkloadAnalyzer.Result> results, Map<WorkloadAnalyzer.Result, WorkloadAnalyzer.Projection> proj,
                                    WorkloadAnalyzer.Options o) {
        ResultTable t = new ResultTable("Workload per strategy (one request: prompt, greedy new tokens)");
        int[] plainIds = results.stream().filter(r -> r.placement() instanceof PlainPlacement && r.measured() != null)
                .map(r -> r.measured().ids()).findFirst().orElse(null);
        for (WorkloadAnalyzer.Result r : results) {
            Ledger l = r.counts();
            WorkloadAnalyzer.Measured m = r.measured();
            WorkloadAnalyzer.Projection p = proj.get(r);
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("strategy", r.placement().strategy());
            row.put("mode", r.placement().mode());
            row.put("family", r.placement().family());
            row.put("counted", m != null ? "live run" : "plan");
            row.put("not_run_because", r.notRunBecause());
            row.put("trusted_flops", l.trustedFlops());
            row.put("untrusted_flops", l.untrustedFlops());
            row.put("round_trips", l.roundTrips());
            row.put("bytes_to_executor", l.bytesToExecutor());
            row.put("bytes_from_executor", l.bytesFromExecutor());
            row.put("setup_round_trips", l.setupRoundTrips());
            row.put("setup_bytes_to_executor", l.setupBytesToExecutor());
            row.put("trusted_peak_mb", l.trustedPeakBytes() / 1e6);
            row.put("measured_s", m == null ? null : m.totalS());
            row.put("measured_trusted_s", m == null ? null : m.trustedS());
            row.put("measured_untrusted_s", m == null ? null : m.untrustedS());
            row.put("setup_s", m == null ? null : m.setupS());
            row.put("ids_match_plain", m == null || plainIds == null ? null : java.util.Arrays.equals(m.ids(), plainIds));
            row.put("plan_matches_count", r.planAgrees());
            Agreement a = agreement(r, results, o.promptTokens());
            row.put("meter_round_trips", a == null || a.meter() == null ? null : a.meter().roundTrips());
            row.put("meter_bytes_to_executor", a == null || a.meter() == null ? null : a.meter().bytesToExecutor());
            row.put("meter_bytes_from_executor", a == null || a.meter() == null ? null : a.meter().bytesFromExecutor());
            row.put("meter_agrees", a == null ? null : a.meterAgrees());
            row.put("prefill_time_ratio", a == null ? null : a.prefillRatio());
            row.put("decode_time_ratio", a == null ? null : a.decodeRatio());
            row.put("predicted_prefill_time_ratio", a == null ? null : a.predictedPrefillRatio());
            row.put("predicted_decode_time_ratio", a == null ? null : a.predictedDecodeRatio());
            row.put("projected_trusted_s", p.trustedS());
            row.put("projected_untrusted_s", p.untrustedS());
            row.put("projected_transfer_s", p.transferS());
            row.put("projected_total_s", p.totalS());
            row.put("projection_basis", p.basis());
            t.add(row);
        }
        return t;
    }

    /**
     * How a row compares with {@code bench}: the {@link org.privllm.trusted.gpt2.BoundaryMeter} bench reports as its
     * {@code "boundary"} saw the same request (live runs with an executor; two-party: both parties' meters summed)
     * and whether the counted round trips and bytes equal it; for the protected levels' rows ({@code masked}, the
     * seed level, and {@code strong}, {@code two-party}) the measured prefill and decode time over {@code plain}'s
     * (live runs) and the ratios {@link SchemeCost} predicts (what bench prints as {@code predicted_*_time_ratio}).
     */
    public record Agreement(WorkloadAnalyzer.Boundary counted, WorkloadAnalyzer.Boundary meter, Boolean meterAgrees,
                            Double prefillRatio, Double decodeRatio, Double predictedPrefillRatio,
                            Double predictedDecodeRatio) {}

    /** This row's {@link Agreement}, or null where there is nothing to compare (plain, the modelled strategies). */
    public static Agreement agreement(WorkloadAnalyzer.Result r, List<WorkloadAnalyzer.Result> results, int promptTokens) {
        SchemeCost.Prediction p = prediction(r.placement(), promptTokens);
        if (r.meter() == null && p == null) {
            return null;
        }
        WorkloadAnalyzer.Boundary counted = WorkloadAnalyzer.Boundary.of(r.counts());
        Double prefill = null, decode = null, pPrefill = null, pDecode = null;
        if (p != null) {
            pPrefill = round3(p.prefillRatio());
            pDecode = round3(p.decodeRatio());
            WorkloadAnalyzer.Measured plain = results.stream().filter(x -> x.placement() instanceof PlainPlacement)
                    .map(WorkloadAnalyzer.Result::measured).filter(java.util.Objects::nonNull).findFirst().orElse(null);
            WorkloadAnalyzer.Measured m = r.measured();
            if (plain != null && m != null) {
                prefill = plain.prefillS() > 0 ? round3(m.prefillS() / plain.prefillS()) : null;
                decode = plain.decodeS() > 0 ? round3(m.decodeS() / plain.decodeS()) : null;
            }
        }
        return new Agreement(counted, r.meter(), r.meter() == null ? null : r.meter().equals(counted), prefill, decode,
                pPrefill, pDecode);
    }

    /**
     * What {@code bench} predicts for a protected level's row with online pads (as it prints
     * {@code predicted_*_time_ratio}), or null for the other strategies: the seed level's mask algebra, or the
     * blinded levels' weight passes (one per executor, plus the trusted {@code T·W} at strong).
     */
    static SchemeCost.Prediction prediction(Placement p, int promptTokens) {
        return switch (p) {
            case MaskedPlacement m -> SchemeCost.predict(m.config, m.maskFamily(), m.obfuscationMode(), true, promptTokens);
            case BlindedPlacement b -> SchemeCost.predictBlinded(b.config, b.parties()
                    + (b.level() == PrivacyLevel.STRONG ? 1 : 0), promptTokens);
            default -> null;
        };
    }

    /** The bench command that measures the same request as a protected level's row (compare its "boundary" and ratios), or null. */
    static String benchCommand(Placement p, WorkloadAnalyzer.Options o) {
        String common = "privllm bench --model DIR --prompt-tokens " + o.promptTokens() + " --new-tokens " + o.newTokens()
                + " --reps 1";
        return switch (p) {
            case MaskedPlacement m -> common + " --privacy seed --mode " + m.mode() + " --masks " + m.family() + " --json";
            case BlindedPlacement b -> common + " --privacy " + b.level().label() + " --json";
            default -> null;
        };
    }

    /** The {@code "bench_agreement"} document: one entry per row with something to compare. */
    static Map<String, Object> benchAgreement(List<WorkloadAnalyzer.Result> results, WorkloadAnalyzer.Options o, RunInfo info) {
        List<Map<String, Object>> rows = new ArrayList<>();
        for (WorkloadAnalyzer.Result r : results) {
            Agreement a = agreement(r, results, o.promptTokens());
            if (a == null) {
                continue;
            }
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("strategy", r.placement().strategy());
            row.put("mode", r.placement().mode());
            row.put("family", r.placement().family());
            row.put("counted", r.measured() != null ? "live run" : "plan");
            row.put("not_run_because", r.notRunBecause());
            row.put("counted_boundary", boundary(a.counted()));
            row.put("meter_boundary", a.meter() == null ? null : boundary(a.meter()));
            row.put("meter_agrees", a.meterAgrees());
            row.put("prefill_time_ratio", a.prefillRatio());
            row.put("decode_time_ratio", a.decodeRatio());
            row.put("predicted_prefill_time_ratio", a.predictedPrefillRatio());
            row.put("predicted_decode_time_ratio", a.predictedDecodeRatio());
            String bench = benchCommand(r.placement(), o);
            if (bench != null) {
                row.put("bench_command", bench);
            }
            rows.add(row);
        }
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("title", "Agreement with bench: boundary counts and time ratios");
        doc.put("run", info.toJson());
        doc.put("note", "counted_boundary: this analyzer's instrumentation; meter_boundary: the BoundaryMeter that `bench "
                + "--privacy LEVEL` reports as \"boundary\", on the same request (one generation after warm-up; bench --reps 1 "
                + "with the same --prompt-tokens/--new-tokens reports the same numbers; two-party: bench lists one boundary "
                + "per executor, here summed). *_time_ratio: measured prefill / decode time over plain's in this run; "
                + "predicted_*: SchemeCost's prediction, as bench prints it (online pads)");
        doc.put("bench_agreement", rows);
        return doc;
    }

    private static Map<String, Object> boundary(WorkloadAnalyzer.Boundary b) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("round_trips", b.roundTrips());
        m.put("bytes_to_executor", b.bytesToExecutor());
        m.put("bytes_from_executor", b.bytesFromExecutor());
        return m;
    }

    /** A Markdown section with the same comparison. */
    static String benchAgreementMarkdown(List<WorkloadAnalyzer.Result> results, WorkloadAnalyzer.Options o) {
        StringBuilder md = new StringBuilder("\n## Agreement with bench\n\n"
                + "Round trips and bytes counted here vs what bench's BoundaryMeter saw of the same request; measured time "
                + "ratios to plain vs SchemeCost's prediction (bench's `predicted_*_time_ratio`).\n\n"
                + "| strategy | mode | family | counted | round trips (counted / meter) | bytes to (counted / meter) "
                + "| bytes from (counted / meter) | agree | prefill ratio (predicted) | decode ratio (predicted) |\n"
                + "|---|---|---|---|---|---|---|---|---|---|\n");
        for (WorkloadAnalyzer.Result r : results) {
            Agreement a = agreement(r, results, o.promptTokens());
            if (a == null) {
                continue;
            }
            WorkloadAnalyzer.Boundary c = a.counted(), m = a.meter();
            md.append("| ").append(r.placement().strategy()).append(" | ").append(r.placement().mode()).append(" | ")
                    .append(r.placement().family()).append(" | ")
                    .append(r.measured() != null ? "live run" : "plan (not run: " + r.notRunBecause() + ")").append(" | ")
                    .append(c.roundTrips()).append(" / ").append(m == null ? "-" : m.roundTrips()).append(" | ")
                    .append(c.bytesToExecutor()).append(" / ").append(m == null ? "-" : m.bytesToExecutor()).append(" | ")
                    .append(c.bytesFromExecutor()).append(" / ").append(m == null ? "-" : m.bytesFromExecutor()).append(" | ")
                    .append(a.meterAgrees() == null ? "-" : a.meterAgrees() ? "yes" : "NO").append(" | ")
                    .append(a.prefillRatio() == null ? "-" : a.prefillRatio()).append(" (")
                    .append(a.predictedPrefillRatio() == null ? "-" : a.predictedPrefillRatio()).append(") | ")
                    .append(a.decodeRatio() == null ? "-" : a.decodeRatio()).append(" (")
                    .append(a.predictedDecodeRatio() == null ? "-" : a.predictedDecodeRatio()).append(") |\n");
        }
        return md.toString();
    }

    /** Rounded as bench prints its ratios. */
    static double round3(double v) {
        return Math.round(v * 1000) / 1000.0;
    }

    /** The conventions every row follows and the modelled strategies' assumptions. */
    public static List<String> assumptions(List<WorkloadAnalyzer.Result> results, WorkloadAnalyzer.Options o) {
        LinkedHashSet<String> a = new LinkedHashSet<>();
        a.add("FLOPs (every row but strong/two-party): a multiply-add is 2; LayerNorm or RMSNorm "
                + OpCosts.LAYER_NORM_PER_ELEMENT + ", activation or SiLU gating " + OpCosts.ACTIVATION_PER_ELEMENT
                + ", RoPE " + OpCosts.ROPE_PER_ELEMENT + " per element, softmax " + OpCosts.SOFTMAX_PER_SCORE
                + " per score (the attention core causal: each row over the keys up to its own); adds 1; masks at their "
                + "family's cost (dense 2nd^2, block 2nd*b, permutation nd; a RoPE-commuting head mask "
                + OpCosts.ROTARY_MASK_PER_ELEMENT + " per element); sampling not counted");
        a.add("operation names are GPT-2's for every family: c_attn = the fused q/k/v, c_proj = the attention output, "
                + "c_fc = the MLP's first product ([gate | up] when gated), mlp_c_proj = down");
        a.add("one request: batch 1, " + o.promptTokens() + " random prompt tokens, " + o.newTokens()
                + " greedy new tokens (one prefill, then " + (o.newTokens() - 1) + " decode steps); real runs: the fastest of "
                + o.reps() + " generations after a warm-up one; setup_s = weight obfuscation and upload");
        a.add("round trips and bytes: inference only (float32 tensors, int32 ids); setup (session, weight uploads) separately");
        a.add("trusted peak memory: resident state the strategy needs (embeddings, norms, masks, a trusted KV cache, pad-mode "
                + "plaintext weights in float64) plus the largest working set of one trusted operation");
        a.add("projection: trusted time x " + o.teeSlowdown() + " (TEE slowdown) + executor time + bytes over "
                + o.linkGbps() + " Gbit/s + " + o.callLatencyUs() + " us per round trip; the in-process executor's "
                + "measured transfer time is ~0");
        if (o.planOnly()) {
            a.add("plan-only: every row counted from its execution plan, nothing run; projected at " + o.trustedGflops()
                    + " trusted / " + o.executorGflops() + " executor GFLOP/s (given, not measured)");
        }
        a.add("chart labels: nonlin = trusted_nonlinear, m:/p: = masked (the seed level) in mask/pad mode with the family, "
                + "strong / 2party = the blinded levels, gpu_nl = masked_gpu_nonlinear, amulet = amulet_reference; "
                + "* = implemented but counted from its plan, not run");
        for (WorkloadAnalyzer.Result r : results) {
            if (r.notRunBecause() != null) {
                a.add(label(r) + " (" + r.placement().strategy() + ", " + r.placement().mode() + ", " + r.placement().family()
                        + "): counted from its execution plan and projected, not run: " + r.notRunBecause());
            }
        }
        a.add("agreement with bench: meter_* = what bench's BoundaryMeter (its \"boundary\" field) saw of the same request, "
                + "meter_agrees = counted round trips and bytes equal it; *_time_ratio = measured prefill/decode time over "
                + "plain's; predicted_*_time_ratio = SchemeCost as bench prints it (workload-bench-agreement.json)");
        a.add("plain: the executor holds the public model beforehand; the trusted side sends ids and receives logits");
        a.add("masked (the seed level): per-session masks; pad mode computes compensations online (no pad pool)");
        results.forEach(r -> a.addAll(r.placement().assumptions()));
        return new ArrayList<>(a);
    }

    /** Writes the table, the assumptions, the per-operation breakdown and the stacked time chart; returns the files written. */
    public static List<Path> write(Path dir, List<WorkloadAnalyzer.Result> results, WorkloadAnalyzer.Options o, RunInfo info) {
        Map<WorkloadAnalyzer.Result, WorkloadAnalyzer.Projection> proj = WorkloadAnalyzer.project(results, o);
        List<Path> files = new ArrayList<>(table(results, proj, o).write(dir, "workload", info));
        try {
            StringBuilder md = new StringBuilder("\n## Assumptions\n\n");
            assumptions(results, o).forEach(s -> md.append("- ").append(s).append('\n'));
            md.append(benchAgreementMarkdown(results, o));
            Files.writeString(dir.resolve("workload.md"), md, StandardOpenOption.APPEND);
            Path json = dir.resolve("workload-assumptions.json");
            new ObjectMapper().writerWithDefaultPrettyPrinter()
                    .writeValue(json.toFile(), Map.of("assumptions", assumptions(results, o)));
            files.add(json);
            List<Map<String, Object>> breakdown = new ArrayList<>();
            for (WorkloadAnalyzer.Result r : results) {
                Map<String, Object> b = new LinkedHashMap<>();
                b.put("strategy", r.placement().strategy());
                b.put("mode", r.placement().mode());
                b.put("family", r.placement().family());
                b.put("trusted_flops_by_op", r.counts().trustedByOp());
                b.put("untrusted_flops_by_op", r.counts().untrustedByOp());
                b.put("trusted_resident_bytes", r.counts().residentByPart());
                b.put("trusted_peak_working_bytes", r.counts().peakWorkingBytes());
                breakdown.add(b);
            }
            Path ajson = dir.resolve("workload-bench-agreement.json");
            new ObjectMapper().writerWithDefaultPrettyPrinter().writeValue(ajson.toFile(), benchAgreement(results, o, info));
            files.add(ajson);
            Path bjson = dir.resolve("workload-breakdown.json");
            new ObjectMapper().writerWithDefaultPrettyPrinter()
                    .writeValue(bjson.toFile(), Map.of("title", "Counted FLOPs per operation and trusted memory per part", "rows", breakdown));
            files.add(bjson);
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": cannot write assumptions (" + e.getMessage() + ")", e);
        }
        List<Charts.Bar> bars = new ArrayList<>();
        for (WorkloadAnalyzer.Result r : results) {
            WorkloadAnalyzer.Projection p = proj.get(r);
            String cat = label(r);
            bars.add(new Charts.Bar("trusted (x" + o.teeSlowdown() + ")", cat, p.trustedS()));
            bars.add(new Charts.Bar("untrusted", cat, p.untrustedS()));
            bars.add(new Charts.Bar("transfer", cat, p.transferS()));
        }
        files.addAll(Charts.bars(dir, "workload-time", "Projected time per request", "seconds", bars, true));
        return files;
    }
}
