package org.privllm.lab.experiment.attention;

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
import org.privllm.lab.verify.AttentionCore;
import org.privllm.lab.verify.ErrorAccumulator;
import org.privllm.lab.verify.PromptBatch;
import org.privllm.model.DecoderConfig;
import org.privllm.model.DecoderForward;
import org.privllm.model.DecoderModel;
import org.privllm.model.Gpt2Model;
import org.privllm.tensor.Matrix;
import org.privllm.trusted.obf.ObfuscatedDecoder;
import org.privllm.trusted.mask.MaskFamily;
import org.privllm.trusted.obf.ObfuscationConfig;
import org.privllm.trusted.obf.ObfuscationMode;
import org.privllm.trusted.verify.ErrorStats;
import org.privllm.untrusted.InProcessExecutor;

/**
 * The attention invariance sweep (issue 6, item 2). For each cell (batch, prompt length, decode steps,
 * padding off/on) the plaintext engine runs a left-padded batch through prefill and greedy decode steps
 * while every attention call is mirrored on the obfuscated model ({@link AttentionProbe}); per step, over
 * all layers, the largest absolute errors of
 * <ul>
 *   <li>{@code qk_scores}: {@code Q̃·K̃ᵀ} vs {@code Q·Kᵀ}, each score over the plaintext {@code |q|·|k|} (with rotary positions: both after RoPE, each at its row's
 *       position; query heads of a group against their shared key head);  {@code softmax}: masked vs plaintext probabilities;
 *   <li>{@code pv}: {@code P̃·Ṽ} vs {@code (P·V)·N_V};  {@code attn_out}: the executor's chained sublayer, unmasked,
 *       vs plaintext;
 *   <li>{@code k_append}, {@code v_append}: the rows the executor caches, {@code K̃} vs {@code K·N_K} (after RoPE) and
 *       {@code Ṽ} vs {@code V·N_V};
 *   <li>{@code nq_nk_identity}: {@code max |N_Q·N_Kᵀ − I|} over heads and layers.
 * </ul>
 * One heatmap per decode count shows the largest of all these over (batch × prompt length).
 */
public final class AttentionSweep {
    private AttentionSweep() {}

    /** The sweep's axes. */
    public record Grid(List<Integer> batch, List<Integer> seq, List<Integer> decode, List<Boolean> pad) {
        public Grid {
            for (List<Integer> axis : List.of(batch, seq, decode)) {
                if (axis.isEmpty() || axis.stream().anyMatch(v -> v <= 0)) {
                    throw new IllegalArgumentException("--batch, --seq and --decode need positive values, got " + axis);
                }
            }
            if (pad.isEmpty()) {
                throw new IllegalArgumentException("--pad needs off, on or both");
            }
            batch = List.copyOf(batch);
            seq = List.copyOf(seq);
            decode = List.copyOf(decode);
            pad = List.copyOf(pad);
        }

        int cells() {
            return batch.size() * seq.size() * decode.size() * pad.size();
        }
    }

    /** The table, whether every error is within the 1e-4 tolerance, and the files written. */
    public record Result(ResultTable table, boolean allClose, List<Path> files) {}

    /** The sweep on a GPT-2 checkpoint. */
    public static Result run(Gpt2Model model, Grid grid, MaskFamily family, Long seed, RunInfo info, Path out,
                             PrintStream progressTo) {
        return run(model.decoder(), grid, family, seed, info, out, progressTo);
    }

    /** The sweep on any decoder (on the Llama family: {@code Q̃K̃ᵀ} after RoPE, grouped key/value heads, q/k norms). */
    public static Result run(DecoderModel model, Grid grid, MaskFamily family, Long seed, RunInfo info, Path out,
                             PrintStream progressTo) {
        DecoderConfig c = model.config();
        int longest = grid.seq().stream().mapToInt(Integer::intValue).max().orElseThrow()
                + grid.decode().stream().mapToInt(Integer::intValue).max().orElseThrow();
        if (longest > c.positions()) {
            throw new IllegalArgumentException("--seq + --decode up to " + longest + " exceeds n_positions " + c.positions());
        }
        Random data = seed != null ? new Random(seed) : new SecureRandom();
        ResultTable table = new ResultTable("Attention invariance sweep: masked vs plaintext attention per step");
        // heat[decode][batch][seq]: the largest error of any metric, step and padding setting
        double[][][] heat = new double[grid.decode().size()][grid.batch().size()][grid.seq().size()];
        boolean allClose = true;
        try (Progress progress = new Progress("attention", grid.cells(), progressTo)) {
            for (boolean pad : grid.pad()) {
                ObfuscationConfig oc = ObfuscationConfig.defaults().withFamily(family)
                        .withMode(pad ? ObfuscationMode.PAD : ObfuscationMode.MASK);
                if (seed != null) {
                    oc = oc.withSeed(seed + (pad ? 1 : 0));
                }
                // One session per padding setting: masks are per session, every cell restarts the cache.
                try (InProcessExecutor executor = new InProcessExecutor();
                     ObfuscatedDecoder obf = new ObfuscatedDecoder(c, model.weights(), executor, oc, Map.of())) {
                    double identity = identityError(c, obf);
                    AttentionProbe probe = new AttentionProbe(c, model.weights(), obf);
                    DecoderForward forward = new DecoderForward(c, model.weights(), probe);
                    for (int bi = 0; bi < grid.batch().size(); bi++) {
                        for (int si = 0; si < grid.seq().size(); si++) {
                            for (int di = 0; di < grid.decode().size(); di++) {
                                int batch = grid.batch().get(bi), seq = grid.seq().get(si), decode = grid.decode().get(di);
                                double worst = identity;
                                for (StepRow step : cell(forward, probe, PromptBatch.random(c, batch, seq, data), decode)) {
                                    Map<String, Object> r = new LinkedHashMap<>();
                                    r.put("batch", batch);
                                    r.put("seq", seq);
                                    r.put("decode", decode);
                                    r.put("pad", pad ? "on" : "off");
                                    r.put("step", step.step());
                                    r.putAll(step.errors());
                                    r.put("nq_nk_identity", identity);
                                    double max = Math.max(identity, step.maxError());
                                    boolean close = step.allclose() && identity <= ErrorStats.TOLERANCE;
                                    r.put("max_err", max);
                                    r.put("allclose", close);
                                    table.add(r);
                                    allClose &= close;
                                    worst = Math.max(worst, max);
                                }
                                heat[di][bi][si] = Math.max(heat[di][bi][si], worst);
                                progress.step("cell");
                            }
                        }
                    }
                }
            }
        }
        List<Path> files = new ArrayList<>(table.write(out, "attention", info));
        String[] rows = grid.batch().stream().map(String::valueOf).toArray(String[]::new);
        String[] cols = grid.seq().stream().map(String::valueOf).toArray(String[]::new);
        for (int di = 0; di < grid.decode().size(); di++) {
            int k = grid.decode().get(di);
            files.addAll(Charts.heatmap(out, "attention-decode-" + k,
                    "Largest attention error, " + k + " decode step" + (k == 1 ? "" : "s") + " (log10; padding "
                            + String.join("/", grid.pad().stream().map(p -> p ? "on" : "off").toList()) + ")",
                    "batch", rows, "prompt length", cols, heat[di]));
        }
        return new Result(table, allClose, files);
    }

    static final List<String> METRICS = List.of("qk_scores", "softmax", "pv", "attn_out", "k_append", "v_append");

    /** One step's largest errors per metric and whether all were allclose. */
    private record StepRow(String step, Map<String, Double> errors, boolean allclose) {
        double maxError() {
            return errors.values().stream().mapToDouble(Double::doubleValue).max().orElse(0);
        }

        static StepRow of(String step, AttentionProbe.StepErrors e) {
            ErrorStats[] stats = {e.core.scores.stats(), e.core.softmax.stats(), e.core.pvMasked.stats(),
                    e.output.stats(), e.keyAppend.stats(), e.valueAppend.stats()};
            Map<String, Double> errors = new LinkedHashMap<>();
            boolean close = true;
            for (int i = 0; i < stats.length; i++) {
                errors.put(METRICS.get(i), stats[i].maxAbsError());
                close &= stats[i].allclose();
            }
            return new StepRow(step, errors, close);
        }
    }

    /** Prefill then {@code decode} greedy steps; one row of errors per step. */
    private static List<StepRow> cell(DecoderForward forward, AttentionProbe probe, PromptBatch p, int decode) {
        List<StepRow> rows = new ArrayList<>();
        forward.ops().startCache(p.leftPad(), p.length() + decode);
        Matrix h = forward.step(p.ids(), p.positions(), p.length());
        rows.add(StepRow.of("prefill", probe.takeStep()));
        int[] next = greedy(forward, h, p.batch(), p.length());
        for (int s = 0; s < decode; s++) {
            h = forward.step(next, p.decodePositions(s), 1);
            rows.add(StepRow.of("decode " + (s + 1), probe.takeStep()));
            next = greedy(forward, h, p.batch(), 1);
        }
        return rows;
    }

    private static int[] greedy(DecoderForward forward, Matrix h, int batch, int t) {
        Matrix last = new Matrix(batch, h.cols);
        for (int b = 0; b < batch; b++) {
            System.arraycopy(h.data, ((b + 1) * t - 1) * h.cols, last.data, b * h.cols, h.cols);
        }
        Matrix logits = forward.ops().lmHead(last);
        int[] ids = new int[batch];
        for (int b = 0; b < batch; b++) {
            int o = b * logits.cols, best = 0;
            for (int v = 1; v < logits.cols; v++) {
                if (logits.data[o + v] > logits.data[o + best]) {
                    best = v;
                }
            }
            ids[b] = best;
        }
        return ids;
    }

    private static double identityError(DecoderConfig c, ObfuscatedDecoder obf) {
        ErrorAccumulator acc = new ErrorAccumulator();
        for (int layer = 0; layer < c.layers(); layer++) {
            AttentionCore.identity(obf.queryMasks(layer), obf.keyMasks(layer), acc);
        }
        return acc.stats().maxAbsError();
    }
}
