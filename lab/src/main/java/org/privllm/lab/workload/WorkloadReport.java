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

/** Writes the analyzer's results: {@code workload.json/.csv/.md} (assumptions appended) and the time chart. */
public final class WorkloadReport {
    private WorkloadReport() {}

    /** Chart label short enough for a category axis: {@code m:}/{@code p:} + family for masked mask/pad runs. */
    public static String label(Placement p) {
        return switch (p) {
            case MaskedPlacement m -> m.mode().charAt(0) + ":" + m.family().replace("orthogonal", "orth")
                    .replaceAll("gaussian.*", "gauss").replace("block:", "blk");
            case TrustedNonlinearPlacement t -> "nonlin";
            case GpuNonlinearPlacement g -> "gpu_nl";
            case AmuletPlacement a -> "amulet";
            default -> p.strategy();
        };
    }

    public static ResultTable table(List<WorkloadAnalyzer.Result> results, Map<WorkloadAnalyzer.Result, WorkloadAnalyzer.Projection> proj) {
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
            row.put("projected_trusted_s", p.trustedS());
            row.put("projected_untrusted_s", p.untrustedS());
            row.put("projected_transfer_s", p.transferS());
            row.put("projected_total_s", p.totalS());
            row.put("projection_basis", p.basis());
            t.add(row);
        }
        return t;
    }

    /** The conventions every row follows and the modelled strategies' assumptions. */
    public static List<String> assumptions(List<WorkloadAnalyzer.Result> results, WorkloadAnalyzer.Options o) {
        LinkedHashSet<String> a = new LinkedHashSet<>();
        a.add("FLOPs: a multiply-add is 2; LayerNorm " + OpCosts.LAYER_NORM_PER_ELEMENT + ", activation "
                + OpCosts.ACTIVATION_PER_ELEMENT + " per element, softmax " + OpCosts.SOFTMAX_PER_SCORE
                + " per score; adds 1; masks at their family's cost (dense 2nd^2, block 2nd*b, permutation nd); sampling not counted");
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
        a.add("chart labels: nonlin = trusted_nonlinear, m:/p: = masked in mask/pad mode with the family, gpu_nl = "
                + "masked_gpu_nonlinear, amulet = amulet_reference");
        a.add("plain: the executor holds the public model beforehand; the trusted side sends ids and receives logits");
        a.add("masked: per-session masks; pad mode computes compensations online (no pad pool)");
        results.forEach(r -> a.addAll(r.placement().assumptions()));
        return new ArrayList<>(a);
    }

    /** Writes the table, the assumptions, the per-operation breakdown and the stacked time chart; returns the files written. */
    public static List<Path> write(Path dir, List<WorkloadAnalyzer.Result> results, WorkloadAnalyzer.Options o, RunInfo info) {
        Map<WorkloadAnalyzer.Result, WorkloadAnalyzer.Projection> proj = WorkloadAnalyzer.project(results, o);
        List<Path> files = new ArrayList<>(table(results, proj).write(dir, "workload", info));
        try {
            StringBuilder md = new StringBuilder("\n## Assumptions\n\n");
            assumptions(results, o).forEach(s -> md.append("- ").append(s).append('\n'));
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
            String cat = label(r.placement());
            bars.add(new Charts.Bar("trusted (x" + o.teeSlowdown() + ")", cat, p.trustedS()));
            bars.add(new Charts.Bar("untrusted", cat, p.untrustedS()));
            bars.add(new Charts.Bar("transfer", cat, p.transferS()));
        }
        files.addAll(Charts.bars(dir, "workload-time", "Projected time per request", "seconds", bars, true));
        return files;
    }
}
