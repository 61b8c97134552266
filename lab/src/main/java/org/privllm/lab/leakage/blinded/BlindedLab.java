package org.privllm.lab.leakage.blinded;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.privllm.lab.leakage.PublicModel;
import org.privllm.lab.report.Charts;
import org.privllm.lab.report.Progress;
import org.privllm.lab.report.ResultTable;
import org.privllm.lab.report.RunInfo;
import org.privllm.model.DecoderConfig;
import org.privllm.model.DecoderForward;
import org.privllm.model.DecoderWeights;
import org.privllm.model.Gpt2Adapter;
import org.privllm.model.Gpt2Config;
import org.privllm.model.Gpt2Weights;
import org.privllm.model.PlainDecoderOps;
import org.privllm.model.generate.Generator;
import org.privllm.model.generate.Sampling;
import org.privllm.protocol.Executor;
import org.privllm.tensor.DoubleMatrix;
import org.privllm.tensor.Matrix;
import org.privllm.trusted.lora.LoraMerge;
import org.privllm.trusted.lora.LowRankAdapter;
import org.privllm.trusted.privacy.BlindingConfig;
import org.privllm.trusted.privacy.PrivacyLevel;
import org.privllm.trusted.privacy.TrustedAttentionDecoder;
import org.privllm.untrusted.InProcessExecutor;
import org.privllm.untrusted.Transcript;

/**
 * The leakage lab of the blinded levels: runs the prompts at a level on recording in-process executors (one
 * trusted session serving every prompt, as a user's session serves its requests), splits each executor's
 * transcript into per-sequence samples ({@link BlindedSample}), runs {@link BlindedAttacks} on every party's
 * view, and compares the outputs with plaintext (ids, largest logit error). One row per configuration and
 * party.
 *
 * <p>Each configuration also repeats the first {@link #REPEATED} prompts {@link #REPEATS} more times (one new
 * token each) for the pad-averaging attack and linkability; its known-plaintext variant sends every prompt in
 * one batch with a known prompt (the first built-in prompt, standing for a shared system prompt).
 */
public final class BlindedLab {
    static final int REPEATED = 10;
    static final int REPEATS = 16;

    private final Gpt2Config config;
    private final Gpt2Weights weights;
    private final DecoderConfig decoder;
    private final DecoderWeights decoderWeights;
    private final int newTokens;
    private final BlindedAttacks attacks;
    private final Map<String, LowRankAdapter> adapter;

    /** @param adapter the private adapter of the {@code +lora} rows (same for every session, as a user has) */
    public BlindedLab(Gpt2Config config, Gpt2Weights weights, int newTokens, Map<String, LowRankAdapter> adapter) {
        this.config = config;
        this.weights = weights;
        this.decoder = Gpt2Adapter.config(config, weights);
        this.decoderWeights = Gpt2Adapter.weights(weights);
        this.newTokens = newTokens;
        this.adapter = adapter;
        this.attacks = new BlindedAttacks(config, weights, new PublicModel(config, weights));
    }

    /** One configuration: level, pad ratio, private adapter, known-plaintext variant. */
    public record Config(PrivacyLevel level, double rho, boolean lora, boolean knownPlaintext, int rowBucket) {
        public Config(PrivacyLevel level, double rho, boolean lora, boolean knownPlaintext) {
            this(level, rho, lora, knownPlaintext, 1);
        }

        public String name() {
            String r = rho == BlindingConfig.DEFAULT_RHO ? "" : "/rho=" + ratio(rho);
            return level.label() + r + (lora ? "+lora" : "") + (knownPlaintext ? "+known" : "")
                    + (rowBucket > 1 ? "/row-bucket=" + rowBucket : "");
        }
    }

    /** A pad ratio as a row label: {@code 2^k} for large powers of two, else the plain number. */
    static String ratio(double rho) {
        long k = Math.round(Math.log(rho) / Math.log(2));
        if (rho >= 1024 && Math.scalb(1.0, (int) k) == rho) {
            return "2^" + k;
        }
        return rho == Math.rint(rho) ? String.valueOf((long) rho) : String.valueOf(rho);
    }

    /** The default grid: both levels (with adapter, with known plaintext) and the strong level's pad-ratio curve. */
    public static List<Config> grid() {
        double rho = BlindingConfig.DEFAULT_RHO;
        List<Config> g = new ArrayList<>(List.of(new Config(PrivacyLevel.STRONG, rho, false, false),
                new Config(PrivacyLevel.STRONG, rho, true, false), new Config(PrivacyLevel.STRONG, rho, false, true),
                new Config(PrivacyLevel.TWO_PARTY, rho, false, false), new Config(PrivacyLevel.TWO_PARTY, rho, true, false),
                new Config(PrivacyLevel.TWO_PARTY, rho, false, true)));
        for (double r : new double[] {0.25, 1, 4, 16, 64, 256, 1024, 0x1p14, 0x1p30, 0x1p40}) {
            g.add(new Config(PrivacyLevel.STRONG, r, false, false));
        }
        // --row-bucket's rows of pad alone: can the executor tell them from real rows (at ρ = 1 it should)?
        for (double r : new double[] {1, 16, rho}) {
            g.add(new Config(PrivacyLevel.STRONG, r, false, false, 16));
        }
        return g;
    }

    /** What one configuration's run produced: every party's samples, the repeats, and the agreement with plaintext. */
    public record Collected(Config config, List<List<BlindedSample>> parties, List<List<BlindedSample>> repeats,
                            double maxLogitError, double idsEqualRate, List<PadOnlyRows> padOnly) {}

    /** One party's first-layer rows of a run with a row bucket: the real ones and those of pad alone. */
    public record PadOnlyRows(List<double[]> real, List<double[]> padOnly) {}

    /** Runs the prompts at {@code c} and returns every party's view, split per sequence. */
    public Collected collect(Config c, List<int[]> prompts, long seed, Runnable step) {
        Map<String, LowRankAdapter> a = c.lora() ? adapter : Map.of();
        DecoderWeights merged = LoraMerge.merged(decoderWeights, a);
        DecoderForward plain = new DecoderForward(decoder, merged, new PlainDecoderOps(decoder, merged));
        List<Transcript> views = new ArrayList<>();
        List<Executor> execs = new ArrayList<>();
        for (int p = 0; p < c.level().parties(); p++) {
            Transcript t = new Transcript();
            views.add(t);
            execs.add(new InProcessExecutor(t));
        }
        List<List<BlindedSample>> parties = new ArrayList<>(), repeats = new ArrayList<>();
        List<PadOnlyRows> padOnly = new ArrayList<>();
        for (int p = 0; p < execs.size(); p++) {
            parties.add(new ArrayList<>());
            repeats.add(new ArrayList<>());
            padOnly.add(new PadOnlyRows(new ArrayList<>(), new ArrayList<>()));
        }
        double maxErr = 0;
        int equal = 0;
        BlindingConfig bc = BlindingConfig.of(c.level()).withRho(c.rho()).withRowBucket(c.rowBucket()).withSeed(seed);
        try (TrustedAttentionDecoder ops = TrustedAttentionDecoder.blinded(decoder, decoderWeights, a, execs, bc)) {
            views.forEach(Transcript::clear); // the public uploads
            Generator gen = new Generator(new DecoderForward(decoder, decoderWeights, ops));
            int[] known = prompts.get(0);
            List<int[]> users = c.knownPlaintext() ? prompts.subList(1, prompts.size()) : prompts;
            for (int[] prompt : users) {
                List<int[]> batch = c.knownPlaintext() ? List.of(known, prompt) : List.of(prompt);
                List<Matrix> ref = new ArrayList<>(), got = new ArrayList<>();
                Generator.Result want = new Generator(plain).generate(batch, newTokens, Sampling.GREEDY, -1, null, ref::add);
                Generator.Result r = gen.generate(batch, newTokens, Sampling.GREEDY, -1, null, got::add);
                maxErr = Math.max(maxErr, maxAbs(ref, got));
                equal += Arrays.equals(want.outputIds().get(batch.size() - 1), r.outputIds().get(batch.size() - 1)) ? 1 : 0;
                split(views, batch, r, c.knownPlaintext(), c.rowBucket(), parties, padOnly);
                if (step != null) {
                    step.run();
                }
            }
            for (int k = 0; k < REPEATS; k++) {
                for (int[] prompt : users.subList(0, Math.min(REPEATED, users.size()))) {
                    Generator.Result r = gen.generate(List.of(prompt), 1, Sampling.GREEDY, -1, null);
                    split(views, List.of(prompt), r, false, c.rowBucket(), repeats, null);
                }
            }
        } finally {
            execs.forEach(Executor::close);
        }
        return new Collected(c, parties, repeats, maxErr, (double) equal / Math.max(1, parties.get(0).size()),
                c.rowBucket() > 1 ? padOnly : null);
    }

    /** Each party's view of one generation, split per sequence into {@code into}; its pad-only rows into {@code padOnly}. */
    private void split(List<Transcript> views, List<int[]> batch, Generator.Result r, boolean firstKnown, int rowBucket,
                       List<List<BlindedSample>> into, List<PadOnlyRows> padOnly) {
        List<int[]> generated = new ArrayList<>();
        for (int b = 0; b < batch.size(); b++) {
            int[] ids = r.outputIds().get(b);
            generated.add(Arrays.copyOfRange(ids, batch.get(b).length, ids.length));
        }
        boolean[] known = new boolean[batch.size()];
        known[0] = firstKnown;
        for (int p = 0; p < views.size(); p++) {
            List<DoubleMatrix> calls = views.get(p).entries().stream().filter(e -> e.kind() == Transcript.Kind.LINEAR64)
                    .map(e -> e.wide("x")).toList();
            into.get(p).addAll(BlindedSample.split(p, config.layers(), calls, batch, generated, known, rowBucket));
            if (padOnly != null && rowBucket > 1) {
                List<List<double[]>> rows = BlindedSample.padOnlyRows(config.layers(), calls, batch);
                padOnly.get(p).real().addAll(rows.get(0));
                padOnly.get(p).padOnly().addAll(rows.get(1));
            }
            views.get(p).clear();
        }
    }

    /** Every attack on one party's samples: one table row. */
    public Map<String, Object> attack(String name, List<BlindedSample> samples, List<BlindedSample> repeats,
                                      double maxLogitError, double idsEqualRate, boolean allLayers, long seed) {
        return attack(name, samples, repeats, null, maxLogitError, idsEqualRate, allLayers, seed);
    }

    /**
     * Every attack on one party's samples: one table row. {@code padOnly}: a row-bucket run's first-layer rows (null:
     * none), on which the energy detector tries to tell the rows of pad alone from the real ones.
     */
    public Map<String, Object> attack(String name, List<BlindedSample> samples, List<BlindedSample> repeats,
                                      PadOnlyRows padOnly, double maxLogitError, double idsEqualRate, boolean allLayers,
                                      long seed) {
        long t0 = System.nanoTime();
        List<BlindedAttacks.Query> rows = new ArrayList<>();
        List<Integer> truth = new ArrayList<>();
        List<double[]> received = new ArrayList<>();
        for (BlindedSample s : samples) {
            DoubleMatrix x = s.layer0Prefill();
            for (int i = 0; i < s.prompt().length; i++) {
                double[] row = Arrays.copyOfRange(x.data, i * x.cols, (i + 1) * x.cols);
                rows.add(new BlindedAttacks.Query(row, i));
                truth.add(s.prompt()[i]);
                received.add(row);
            }
        }
        int tokens = rows.size();
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("config", name);
        row.put("sequences", samples.size());
        row.put("prompt_tokens", tokens);
        row.put("matched_filter_l0", rate(correct(attacks.matchedFilter(rows), truth), tokens));
        row.put("learned_inversion", rate(correct(attacks.learnedInversion(rows, received, seed), truth), tokens));
        // the hidden state itself: the executor's best linear estimate of every clean first-layer row
        List<double[]> clean = new ArrayList<>();
        for (int i = 0; i < tokens; i++) {
            clean.add(attacks.cleanRow(rows.get(i).pos(), truth.get(i)));
        }
        row.put("hidden_r2_l0", round(BlindedAttacks.reconstructionR2(attacks.reconstruct(rows, received, seed), clean)));
        row.put("score_probe", rate(correct(attacks.scoreProbe(rows), truth), tokens));
        if (allLayers) {
            List<double[][]> first = new ArrayList<>();
            List<Integer> firstTruth = new ArrayList<>();
            int calls = 4 * config.layers();
            for (BlindedSample s : samples) {
                double[][] f = new double[calls][];
                for (int c = 0; c < calls; c++) {
                    DoubleMatrix x = s.passes().get(0)[c];
                    f[c] = Arrays.copyOfRange(x.data, 0, x.cols);
                }
                first.add(f);
                firstTruth.add(s.prompt()[0]);
            }
            row.put("all_layers_pos0", rate(correct(attacks.allLayersAtStart(first), firstTruth), samples.size()));
        } else {
            row.put("all_layers_pos0", null);
        }
        // pad averaging: every repetition of a prompt (and its first run), averaged row by row
        List<List<BlindedAttacks.Query>> groups = new ArrayList<>();
        List<Integer> groupTruth = new ArrayList<>();
        for (BlindedSample s : samples) {
            List<BlindedSample> same = new ArrayList<>(List.of(s));
            repeats.stream().filter(r -> Arrays.equals(r.prompt(), s.prompt())).forEach(same::add);
            if (same.size() < 2) {
                continue;
            }
            for (int i = 0; i < s.prompt().length; i++) {
                List<BlindedAttacks.Query> g = new ArrayList<>();
                for (BlindedSample r : same) {
                    DoubleMatrix x = r.layer0Prefill();
                    g.add(new BlindedAttacks.Query(Arrays.copyOfRange(x.data, i * x.cols, (i + 1) * x.cols), i));
                }
                groups.add(g);
                groupTruth.add(s.prompt()[i]);
            }
        }
        row.put("pad_averaging_k", groups.isEmpty() ? null : groups.get(0).size());
        row.put("pad_averaging", groups.isEmpty() ? null : rate(correct(attacks.averaged(groups), groupTruth), groups.size()));
        // known plaintext: the anchors' pads in the same calls
        if (samples.stream().anyMatch(s -> !s.anchors().isEmpty())) {
            int ok = 0;
            for (BlindedSample s : samples) {
                List<double[]> pads = new ArrayList<>();
                for (BlindedSample.Anchor a : s.anchors()) {
                    pads.addAll(attacks.knownPads(a.prompt(), a.prefill()[0]));
                }
                List<BlindedAttacks.Query> q = new ArrayList<>();
                DoubleMatrix x = s.layer0Prefill();
                for (int i = 0; i < s.prompt().length; i++) {
                    q.add(new BlindedAttacks.Query(Arrays.copyOfRange(x.data, i * x.cols, (i + 1) * x.cols), i));
                }
                int[] got = attacks.knownPlaintext(q, pads);
                for (int i = 0; i < got.length; i++) {
                    ok += got[i] == s.prompt()[i] ? 1 : 0;
                }
            }
            row.put("known_plaintext", rate(ok, tokens));
        } else {
            row.put("known_plaintext", null);
        }
        // generated tokens: the executor's own logits, and each decode step's input (the token just generated)
        int out = 0, outHead = 0, outNext = 0, nextTotal = 0;
        double headRank = 0;
        List<BlindedAttacks.Query> next = new ArrayList<>();
        List<Integer> nextTruth = new ArrayList<>();
        int calls = BlindedSample.callsPerPass(config.layers());
        for (BlindedSample s : samples) {
            for (int k = 0; k < s.generated().length && k < s.passes().size(); k++) {
                out++;
                DoubleMatrix h = s.passes().get(k)[calls - 1];
                double[] logits = attacks.headLogits(Arrays.copyOf(h.data, h.cols));
                outHead += BlindedAttacks.headArgmax(logits) == s.generated()[k] ? 1 : 0;
                headRank += BlindedAttacks.headRank(logits, s.generated()[k]);
                if (k + 1 < s.passes().size()) {
                    DoubleMatrix x = s.passes().get(k + 1)[0];
                    next.add(new BlindedAttacks.Query(Arrays.copyOf(x.data, x.cols), s.prompt().length + k));
                    nextTruth.add(s.generated()[k]);
                    nextTotal++;
                }
            }
        }
        outNext = correct(attacks.matchedFilter(next), nextTruth);
        row.put("generated_tokens", out);
        row.put("output_head_argmax", rate(outHead, out));
        row.put("output_head_rank", out == 0 ? null : round(headRank / out));
        row.put("output_next_input", rate(outNext, nextTotal));
        row.put("link_auc", round(linkAuc(samples, repeats)));
        row.put("pad_only_rows", padOnly == null ? null : padOnly.padOnly().size());
        row.put("pad_only_auc", padOnly == null || padOnly.padOnly().isEmpty() ? null
                : round(BlindedAttacks.energyAuc(padOnly.real(), padOnly.padOnly())));
        row.put("max_logit_abs_err", Double.isFinite(maxLogitError) ? maxLogitError : null);
        row.put("ids_equal_rate", round(idsEqualRate));
        row.put("chance", Double.parseDouble(String.format("%.3g", 1.0 / config.vocab())));
        row.put("seconds", round((System.nanoTime() - t0) / 1e9));
        return row;
    }

    /** Runs and attacks every configuration (every party a row); writes JSON/CSV/Markdown and a chart under {@code out}. */
    public ResultTable run(List<Config> configs, List<int[]> prompts, long seed, boolean allLayers, Path out, RunInfo info,
                           boolean showProgress) {
        List<Map<String, Object>> rows = new ArrayList<>();
        java.util.Random seeds = new java.util.Random(seed);
        try (Progress progress = showProgress ? new Progress("blinded leakage", configs.size() * prompts.size()) : null) {
            for (Config c : configs) {
                Collected col = collect(c, prompts, seeds.nextLong(), progress == null ? null : () -> progress.step(c.name()));
                for (int p = 0; p < col.parties().size(); p++) {
                    String name = c.name() + (col.parties().size() > 1 ? (p == 0 ? " (party A: X+R)" : " (party B: -R)") : "");
                    rows.add(attack(name, col.parties().get(p), col.repeats().get(p),
                            col.padOnly() == null ? null : col.padOnly().get(p), col.maxLogitError(), col.idsEqualRate(),
                            allLayers, seeds.nextLong()));
                }
            }
        }
        return write(rows, out, info);
    }

    /** The table and chart of {@code rows} under {@code out} (null: nothing written). */
    public static ResultTable write(List<Map<String, Object>> rows, Path out, RunInfo info) {
        ResultTable table = new ResultTable("Leakage at the blinded levels: what each executor recovers from its own view");
        List<Charts.Bar> bars = new ArrayList<>();
        for (Map<String, Object> row : rows) {
            table.add(row);
            for (String[] a : new String[][] {{"matched_filter_l0", "matched filter L0"}, {"all_layers_pos0", "all layers, pos 0"},
                    {"learned_inversion", "learned inversion"}, {"pad_averaging", "pad averaging"},
                    {"known_plaintext", "known plaintext"}, {"score_probe", "score probe"},
                    {"output_next_input", "output (next input)"}, {"output_head_argmax", "output (head)"}}) {
                if (row.get(a[0]) instanceof Number v) {
                    bars.add(new Charts.Bar(a[1], (String) row.get("config"), v.doubleValue()));
                }
            }
        }
        if (out != null) {
            table.write(out, "blinded-leakage", info);
            Charts.bars(out, "blinded-leakage", "Recovery rate per configuration (chance = 1/V)", "rate", bars, false);
        }
        return table;
    }

    /**
     * AUC of "same prompt" over pairs of sessions of equal length, ranked by the distance of their first-layer
     * rows' mean (what survives averaging over positions); 0.5 is chance.
     */
    static double linkAuc(List<BlindedSample> samples, List<BlindedSample> repeats) {
        List<BlindedSample> all = new ArrayList<>(samples);
        all.addAll(repeats);
        List<Double> pos = new ArrayList<>(), neg = new ArrayList<>();
        for (int a = 0; a < all.size(); a++) {
            for (int b = a + 1; b < all.size(); b++) {
                BlindedSample x = all.get(a), y = all.get(b);
                if (x.prompt().length != y.prompt().length) {
                    continue;
                }
                double d = meanDistance(x.layer0Prefill(), y.layer0Prefill());
                (Arrays.equals(x.prompt(), y.prompt()) ? pos : neg).add(d);
            }
        }
        if (pos.isEmpty() || neg.isEmpty()) {
            return Double.NaN;
        }
        double wins = 0;
        for (double p : pos) {
            for (double q : neg) {
                wins += p < q ? 1 : p == q ? 0.5 : 0;
            }
        }
        return wins / ((double) pos.size() * neg.size());
    }

    private static double meanDistance(DoubleMatrix a, DoubleMatrix b) {
        double s = 0;
        for (int j = 0; j < a.cols; j++) {
            double ma = 0, mb = 0;
            for (int i = 0; i < a.rows; i++) {
                ma += a.get(i, j);
                mb += b.get(i, j);
            }
            s += (ma - mb) * (ma - mb);
        }
        return s;
    }

    private static int correct(int[] got, List<Integer> truth) {
        int c = 0;
        for (int i = 0; i < got.length; i++) {
            c += got[i] == truth.get(i) ? 1 : 0;
        }
        return c;
    }

    private static double maxAbs(List<Matrix> a, List<Matrix> b) {
        double m = 0;
        for (int i = 0; i < Math.min(a.size(), b.size()); i++) {
            for (int j = 0; j < a.get(i).data.length; j++) {
                m = Math.max(m, Math.abs(a.get(i).data[j] - b.get(i).data[j]));
            }
        }
        return a.size() == b.size() ? m : Double.POSITIVE_INFINITY;
    }

    private static Double rate(int k, int n) {
        return n == 0 ? null : round((double) k / n);
    }

    private static Double round(double x) {
        return Double.isFinite(x) ? Math.round(x * 1e4) / 1e4 : null;
    }
}
