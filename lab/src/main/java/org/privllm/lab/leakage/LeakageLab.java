package org.privllm.lab.leakage;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.SingularValueDecomposition_F64;
import org.privllm.lab.report.Charts;
import org.privllm.lab.report.Progress;
import org.privllm.lab.report.ResultTable;
import org.privllm.lab.report.RunInfo;
import org.privllm.model.Gpt2Config;
import org.privllm.model.Gpt2Weights;
import org.privllm.tensor.Matrix;
import org.privllm.trusted.linalg.Dense;
import org.privllm.trusted.mask.MaskFamily;

/**
 * The leakage experiment: for each {@link LeakageConfig}, generations of every prompt on a recording
 * executor, then the five attacks on each session's view. One row per configuration; rates are over
 * all prompt tokens (token rates), prompts (exact-prompt rates) or generated tokens (output rate).
 */
public final class LeakageLab {
    /** Prompts run a second time (fresh session, fresh masks) for the linkability pairs. */
    public static final int LINK_REPEATS = 10;
    /** Head columns identified per decode round by the output attack. */
    static final int OUTPUT_TOP_K = 16;

    private final Gpt2Config config;
    private final PublicModel pub;
    private final ViewCollector collector;

    /** @param adapterSeed seeds the private adapter of the {@code +lora} rows */
    public LeakageLab(Gpt2Config config, Gpt2Weights weights, int newTokens, long adapterSeed) {
        this.config = config;
        this.pub = new PublicModel(config, weights);
        this.collector = new ViewCollector(config, weights, newTokens, adapterSeed);
    }

    public PublicModel publicModel() {
        return pub;
    }

    public ViewCollector collector() {
        return collector;
    }

    /**
     * Scores of the attacks on one session (ground truth used only here, to score): attacks 1–5 as first built,
     * then 6 (the pad fit's residual, NaN without pads), 7 (the strongest mask recovery on the pad-free input:
     * its error up to a global factor and the tokens matched after it) and 8 (the head readout).
     */
    public record SessionResult(int tokens, int layer0Correct, boolean layer1Correct, double maskRelError,
                                int unmaskedCorrect, int attentionCorrect, int outputCorrect, int outputTokens,
                                boolean lengthRevealed, LinkFeatures link, double padResidual, double recoveredMaskRelError,
                                int recoveredCorrect, int readoutCorrect) {
        /** A repeat run only used for linkability. */
        static SessionResult linkOnly(LinkFeatures link) {
            return new SessionResult(0, 0, false, 0, 0, 0, 0, 0, false, link, Double.NaN, 0, 0, 0);
        }
    }

    /** Mask-invariant statistics of a session for the linkability test. */
    public record LinkFeatures(int length, double[] scores, double[] singularValues) {}

    /** Runs every attack on one session's view. */
    public SessionResult attack(LeakageConfig lc, ViewCollector.Sample s) {
        return attack(lc, s, new java.util.IdentityHashMap<>());
    }

    /**
     * Runs every attack on one prompt's view; {@code perSession} keeps what the attacker derives from the
     * session's weights (eigenbases, the recovered permutation), keyed by the weight it came from, so that
     * prompts of one session share it as a real attacker would.
     */
    SessionResult attack(LeakageConfig lc, ViewCollector.Sample s, Map<Object, Map<String, Object>> perSession) {
        ExecutorView view = s.view();
        int[] truth = s.prompt();
        int n = view.promptLength(), vocab = config.vocab();
        MaskFamily family = lc.family();
        Matrix x0 = view.prefillInputs().get(0);
        Matrix qkvWeight = view.qkv().get(0).weight();

        // 1. vocabulary matching on the first layer's input, and on layer 1's input at position 0
        int[] l0 = view.visibleTokens() != null ? view.visibleTokens()
                : Attacks.decode(n, vocab, Attacks.vocabularyMatcher(family, x0, pub.layer0()));
        boolean l1 = false;
        if (view.visibleTokens() != null) {
            l1 = true;
        } else if (config.layers() > 1) {
            int[] got = Attacks.decode(1, vocab, Attacks.vocabularyMatcher(family, view.prefillInputs().get(1),
                    pub.layer1AtStart()));
            l1 = got[0] == truth[0];
        }

        // 2. mask recovery from the obfuscated c_attn weight against the public one, then unmasking
        Matrix truthRows = pub.layer0().sequence(truth);
        Unmasked weak = weightAttack(family, x0, qkvWeight, perSession);
        double maskErr = relativeError(weak.rows(), truthRows, family instanceof MaskFamily.Permutation);

        // 3. token identity from the (plaintext by design) layer-0 attention scores
        double[][][] scores = Attacks.layer0Scores(view, config.heads());
        int[] attn = Attacks.decode(n, vocab, Attacks.scores(scores, pub, config.heads()));

        // 6. pads removed from the compensation (pad mode): the layer-0 input as mask mode would send it
        Matrix comp0 = view.prefillCompensation().get(0);
        PadRemoval.Result unpadded = comp0 == null ? null
                : derived(perSession, qkvWeight, "pad", () -> PadRemoval.of(view.qkv().get(0))).remove(x0, comp0);
        Matrix x0Clear = unpadded == null ? x0 : unpadded.masked();

        // 7. the strongest mask recovery on the pad-free input (mask mode's spectral attack needs no second run)
        Unmasked strong = x0Clear == x0 && recovery(family).equals("spectral") ? weak
                : strongestUnmask(family, x0Clear, qkvWeight, perSession);

        // 5. generated tokens from the masked logits the executor computes; 8. read through the recovered head mask
        int outCorrect = 0, readoutCorrect = 0;
        if (!view.headCalls().isEmpty()) {
            Matrix headWeight = view.head().weight();
            boolean masked = lc.strategy() == LeakageConfig.Strategy.MASKED;
            DMatrixRMaj headBasis = masked ? derived(perSession, headWeight, "eig", () -> Attacks.headMaskedBasis(view)) : null;
            double[] colNormSq = masked ? derived(perSession, headWeight, "norms", () -> Attacks.columnNormsSq(headWeight)) : null;
            HeadReadout readout = masked ? derived(perSession, headWeight, "readout", () -> HeadReadout.recover(headWeight, family, pub)) : null;
            for (int r = 0; r < view.rounds() && r < s.generated().length; r++) {
                ExecutorView.Call call = view.headCalls().get(r);
                // reference strategies: the head is not permuted, the column index is the token
                int guess = masked
                        ? Attacks.outputToken(view, call, headBasis, colNormSq, pub, OUTPUT_TOP_K)
                        : Attacks.argmax(view.head().apply(call.x(), call.compensation()).data);
                int read = masked ? readout.token(headInput(view, call, perSession)) : guess;
                outCorrect += guess == s.generated()[r] ? 1 : 0;
                readoutCorrect += read == s.generated()[r] ? 1 : 0;
            }
        }
        return new SessionResult(n, matches(l0, truth), l1, maskErr, matches(weak.tokens(), truth), matches(attn, truth),
                outCorrect, s.generated().length, view.rounds() == s.generated().length, link(view, scores),
                unpadded == null ? Double.NaN : unpadded.residual(), relativeError(strong.rows(), truthRows, true),
                matches(strong.tokens(), truth), readoutCorrect);
    }

    /** Unmasked layer-0 rows and the tokens matched from them. */
    private record Unmasked(Matrix rows, int[] tokens) {}

    /**
     * Attack 2 as first built: perm masks by uncentred sorted row profiles; every other family by the spectral
     * estimate {@code N̂ = Ũ·S·Uᵀ} (exact for (block-)orthogonal masks), its signs from the matched candidates.
     */
    private Unmasked weightAttack(MaskFamily family, Matrix x, Matrix qkvWeight, Map<Object, Map<String, Object>> perSession) {
        int n = x.rows, vocab = config.vocab();
        if (family instanceof MaskFamily.Permutation) {
            Attacks.RecoveredPermutation perm = derived(perSession, qkvWeight, "perm",
                    () -> Attacks.recoverPermutation(qkvWeight, pub.weights().layers().get(0).cAttn()));
            Matrix rows = perm.unmask(x);
            return new Unmasked(rows, Attacks.decode(n, vocab, Attacks.direction(rows, pub.layer0())));
        }
        DMatrixRMaj basis = derived(perSession, qkvWeight, "eig", () -> Attacks.maskedEigenbasis(qkvWeight));
        Matrix projected = org.privllm.tensor.Kernels.matmul(x, Attacks.toFloat(basis));
        int[] tokens = Attacks.decode(n, vocab, Attacks.absolute(projected, pub.layer0(), pub.qkvEigenbasis(0), "qkv0"));
        return new Unmasked(Attacks.unmaskSpectral(projected, pub.layer0().sequence(tokens), pub.qkvEigenbasis(0)), tokens);
    }

    /**
     * The recovery attack 7 uses for a family (the scheme is public): double-centring for permutation masks,
     * c_attn's structure where its dense system is small enough, else the spectral estimate of attack 2
     * (which only orthogonal families satisfy); reference strategies have nothing to unmask.
     */
    String recovery(MaskFamily family) {
        if (family instanceof MaskFamily.Permutation) {
            return "double-centring";
        }
        return family != null && MaskRecovery.structureFeasible(config.embd(), config.heads()) ? "structure" : "spectral";
    }

    /** Attack 7: the layer-0 input mask recovered by {@link #recovery}, then tokens by direction matching. */
    private Unmasked strongestUnmask(MaskFamily family, Matrix x, Matrix qkvWeight, Map<Object, Map<String, Object>> perSession) {
        Matrix rows = switch (recovery(family)) {
            case "double-centring" -> derived(perSession, qkvWeight, "dc", () -> MaskRecovery.permutation(
                    MaskRecovery.profiles(qkvWeight), pub.attnProfiles(0))).unmask(x);
            case "structure" -> structureUnmask(x, qkvWeight, perSession);
            default -> null;
        };
        return rows == null ? weightAttack(family, x, qkvWeight, perSession)
                : new Unmasked(rows, Attacks.decode(x.rows, config.vocab(), Attacks.direction(rows, pub.layer0())));
    }

    /** {@code x̃·M} with the structure solve's {@code M ∝ N⁻¹}, its sign chosen so that the rows are LayerNorm outputs. */
    private Matrix structureUnmask(Matrix x, Matrix qkvWeight, Map<Object, Map<String, Object>> perSession) {
        Gpt2Weights.Layer l0 = pub.weights().layers().get(0);
        Matrix m = derived(perSession, qkvWeight, "structure", () -> MaskRecovery.structure(qkvWeight, l0.cAttn(), config.heads()));
        Matrix rows = new MaskRecovery.DenseUnmasking(m).unmask(x);
        if (MaskRecovery.layerNormSign(rows, l0.ln1Gamma(), l0.ln1Beta()) < 0) {
            for (int i = 0; i < rows.data.length; i++) {
                rows.data[i] = -rows.data[i];
            }
        }
        return rows;
    }

    /** A head call's masked input as mask mode would send it (attack 6 removes the pad where there is one). */
    private static Matrix headInput(ExecutorView view, ExecutorView.Call call, Map<Object, Map<String, Object>> perSession) {
        if (call.compensation() == null) {
            return call.x();
        }
        return derived(perSession, view.head().weight(), "pad", () -> PadRemoval.of(view.head()))
                .remove(call.x(), call.compensation()).masked();
    }

    /** The linkability statistics of a view (all an unattacked repeat needs). */
    LinkFeatures link(ExecutorView view, double[][][] scores) {
        return new LinkFeatures(view.promptLength(), flatten(scores == null ? Attacks.layer0Scores(view, config.heads()) : scores),
                singularValues(view.prefillInputs().get(0)));
    }

    @SuppressWarnings("unchecked")
    private static <T> T derived(Map<Object, Map<String, Object>> perSession, Object weight, String what,
                                 java.util.function.Supplier<T> make) {
        return (T) perSession.computeIfAbsent(weight, w -> new HashMap<>()).computeIfAbsent(what, k -> make.get());
    }

    /**
     * Runs one configuration over the prompts and aggregates a table row: the prompts in one trusted
     * session, then the first {@link #LINK_REPEATS} again in a second, fresh session (fresh masks) for the
     * linkability pairs; the repeats are only used for linkability.
     */
    public Map<String, Object> row(LeakageConfig lc, List<int[]> prompts, long seed, Progress progress) {
        Random seeds = new Random(seed);
        List<SessionResult> results = new ArrayList<>();
        List<Integer> promptOf = new ArrayList<>();
        long t0 = System.nanoTime();
        int repeats = Math.min(LINK_REPEATS, prompts.size());
        Runnable step = progress == null ? null : () -> progress.step(lc.name() + " (run)");
        List<ViewCollector.Sample> primarySamples = collector.runSession(lc, prompts, seeds.nextLong(), step);
        Map<Object, Map<String, Object>> perSession = new java.util.IdentityHashMap<>();
        for (int p = 0; p < primarySamples.size(); p++) {
            results.add(attack(lc, primarySamples.get(p), perSession));
            promptOf.add(p);
            if (progress != null) {
                progress.step(lc.name() + " (attack)");
            }
        }
        primarySamples = null;
        perSession.clear();
        List<ViewCollector.Sample> repeatSamples = collector.runSession(lc, prompts.subList(0, repeats), seeds.nextLong(), step);
        for (int p = 0; p < repeats; p++) {
            results.add(SessionResult.linkOnly(link(repeatSamples.get(p).view(), null)));
            promptOf.add(p);
        }
        repeatSamples = null;
        return aggregate(lc.name(), recoveryName(lc), results, promptOf, prompts.size(), 2, t0);
    }

    /**
     * Scores the attacks on sequences a real executor process recorded (see {@link RecordedTranscript}):
     * every sample is attacked; the samples of one executor session share what the attacker derives from
     * its weights; linkability pairs are samples whose ground-truth prompts are equal (none: no AUC).
     *
     * @param lc       the configuration the run used (the family as the user states it, the rest as read off the transcript)
     * @param sessions how many generations (trusted sessions' cache starts) the samples came from
     */
    public Map<String, Object> recordedRow(LeakageConfig lc, List<ViewCollector.Sample> samples, int sessions) {
        long t0 = System.nanoTime();
        Map<Object, Map<String, Object>> perSession = new java.util.IdentityHashMap<>();
        List<SessionResult> results = new ArrayList<>();
        List<Integer> promptOf = new ArrayList<>();
        for (int i = 0; i < samples.size(); i++) {
            results.add(attack(lc, samples.get(i), perSession));
            int first = i;
            for (int j = 0; j < i; j++) {
                if (Arrays.equals(samples.get(j).prompt(), samples.get(i).prompt())) {
                    first = j;
                    break;
                }
            }
            promptOf.add(first);
        }
        return aggregate(lc.name() + " (transcript)", recoveryName(lc), results, promptOf, samples.size(), sessions, t0);
    }

    /** One table row from the attack results; the first {@code primaryCount} count for the recovery rates. */
    private Map<String, Object> aggregate(String name, String recoveryName, List<SessionResult> results, List<Integer> promptOf,
                                          int primaryCount, int trustedSessions, long t0) {
        List<SessionResult> primary = results.subList(0, primaryCount);
        int tokens = 0, l0 = 0, l0Exact = 0, un = 0, unExact = 0, attn = 0, attnExact = 0, l1 = 0, out = 0, outTotal = 0, len = 0;
        int rec = 0, recExact = 0, readout = 0;
        double[] errs = new double[primary.size()], recErrs = new double[primary.size()], padResiduals = new double[primary.size()];
        for (int i = 0; i < primary.size(); i++) {
            SessionResult r = primary.get(i);
            tokens += r.tokens();
            l0 += r.layer0Correct();
            l0Exact += r.layer0Correct() == r.tokens() ? 1 : 0;
            un += r.unmaskedCorrect();
            unExact += r.unmaskedCorrect() == r.tokens() ? 1 : 0;
            attn += r.attentionCorrect();
            attnExact += r.attentionCorrect() == r.tokens() ? 1 : 0;
            l1 += r.layer1Correct() ? 1 : 0;
            out += r.outputCorrect();
            outTotal += r.outputTokens();
            len += r.lengthRevealed() ? 1 : 0;
            errs[i] = r.maskRelError();
            rec += r.recoveredCorrect();
            recExact += r.recoveredCorrect() == r.tokens() ? 1 : 0;
            readout += r.readoutCorrect();
            recErrs[i] = r.recoveredMaskRelError();
            padResiduals[i] = r.padResidual();
        }
        int sessions = primary.size();
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("config", name);
        row.put("prompt_runs", results.size());
        row.put("trusted_sessions", trustedSessions);
        row.put("prompt_tokens", tokens);
        row.put("l0_token_rate", rate(l0, tokens));
        row.put("l0_prompt_rate", rate(l0Exact, sessions));
        row.put("l1_first_token_rate", config.layers() > 1 ? rate(l1, sessions) : null);
        row.put("mask_rel_err_median", round(median(errs)));
        row.put("unmasked_token_rate", rate(un, tokens));
        row.put("unmasked_prompt_rate", rate(unExact, sessions));
        row.put("attn_token_rate", rate(attn, tokens));
        row.put("attn_prompt_rate", rate(attnExact, sessions));
        row.put("link_auc_scores", round(auc(results, promptOf, Linkability.SCORES)));
        row.put("link_auc_singular_values", round(auc(results, promptOf, Linkability.SINGULAR_VALUES)));
        row.put("link_auc_length_only", round(auc(results, promptOf, Linkability.LENGTH)));
        row.put("output_token_rate", rate(out, outTotal));
        row.put("output_length_revealed", rate(len, sessions));
        row.put("pad_residual_median", significant(median(padResiduals)));
        row.put("mask_recovery", recoveryName);
        row.put("recovered_mask_rel_err_median", significant(median(recErrs)));
        row.put("recovered_token_rate", rate(rec, tokens));
        row.put("recovered_prompt_rate", rate(recExact, sessions));
        row.put("readout_token_rate", rate(readout, outTotal));
        row.put("best_token_rate", max(row, "l0_token_rate", "unmasked_token_rate", "attn_token_rate", "recovered_token_rate"));
        row.put("best_prompt_rate", max(row, "l0_prompt_rate", "unmasked_prompt_rate", "attn_prompt_rate", "recovered_prompt_rate"));
        row.put("best_output_token_rate", max(row, "output_token_rate", "readout_token_rate"));
        row.put("chance_token_rate", significant(1.0 / config.vocab()));
        row.put("seconds", round((System.nanoTime() - t0) / 1e9));
        return row;
    }

    /** The whole grid: table (JSON/CSV/Markdown) and chart under {@code out}; returns the table. */
    public ResultTable run(List<LeakageConfig> configs, List<int[]> prompts, long seed, Path out, RunInfo info,
                           boolean showProgress) {
        List<Map<String, Object>> rows = new ArrayList<>();
        Random seeds = new Random(seed);
        int repeats = Math.min(LINK_REPEATS, prompts.size());
        try (Progress progress = showProgress ? new Progress("leakage", configs.size() * (2 * prompts.size() + repeats)) : null) {
            for (LeakageConfig lc : configs) {
                rows.add(row(lc, prompts, seeds.nextLong(), progress));
                if (out != null && rows.size() < configs.size()) {
                    write(rows, out, info); // the rows so far survive a later row's failure (hours at 124M)
                }
            }
        }
        return write(rows, out, info);
    }

    /** The table (JSON/CSV/Markdown) and chart of {@code rows} under {@code out} (null: nothing written). */
    public static ResultTable write(List<Map<String, Object>> rows, Path out, RunInfo info) {
        ResultTable table = new ResultTable("Leakage: what the untrusted executor recovers from its own view");
        List<Charts.Bar> bars = new ArrayList<>();
        for (Map<String, Object> row : rows) {
            table.add(row);
            for (String[] attack : new String[][] {{"l0_token_rate", "1 vocab match L0"},
                    {"unmasked_token_rate", "2 unmask from weights"}, {"attn_token_rate", "3 attention scores"},
                    {"link_auc_scores", "4 linkability AUC"}, {"output_token_rate", "5 output tokens"},
                    {"recovered_token_rate", "7 pads removed + mask recovered"}, {"readout_token_rate", "8 head readout"}}) {
                if (row.get(attack[0]) instanceof Number v) {
                    bars.add(new Charts.Bar(attack[1], (String) row.get("config"), v.doubleValue()));
                }
            }
        }
        if (out != null) {
            table.write(out, "leakage", info);
            Charts.bars(out, "leakage", "Recovery rate (AUC for linkability) per configuration", "rate", bars, false);
        }
        return table;
    }

    // ---------------------------------------------------------------- linkability

    /** Which mask-invariant statistic links two sessions. */
    public enum Linkability { SCORES, SINGULAR_VALUES, LENGTH }

    /**
     * AUC of "same prompt" over all session pairs, ranking pairs by the distance of their statistics
     * (different prompt lengths count as maximally distant, except for {@code LENGTH} itself).
     */
    static double auc(List<SessionResult> results, List<Integer> promptOf, Linkability stat) {
        List<Double> pos = new ArrayList<>(), neg = new ArrayList<>();
        for (int a = 0; a < results.size(); a++) {
            for (int b = a + 1; b < results.size(); b++) {
                double d = distance(results.get(a).link(), results.get(b).link(), stat);
                (promptOf.get(a).equals(promptOf.get(b)) ? pos : neg).add(d);
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

    static double distance(LinkFeatures a, LinkFeatures b, Linkability stat) {
        if (stat == Linkability.LENGTH) {
            return Math.abs(a.length() - b.length());
        }
        if (a.length() != b.length()) {
            return Double.POSITIVE_INFINITY;
        }
        double[] x = stat == Linkability.SCORES ? a.scores() : a.singularValues();
        double[] y = stat == Linkability.SCORES ? b.scores() : b.singularValues();
        double diff = 0, norm = 0;
        for (int i = 0; i < x.length; i++) {
            diff += (x[i] - y[i]) * (x[i] - y[i]);
            norm += x[i] * x[i] + y[i] * y[i];
        }
        return Math.sqrt(diff / Math.max(norm, 1e-300));
    }

    private static double[] flatten(double[][][] s) {
        List<Double> all = new ArrayList<>();
        for (double[][] head : s) {
            for (int i = 0; i < head.length; i++) {
                for (int j = 0; j <= i; j++) {
                    all.add(head[i][j]);
                }
            }
        }
        return all.stream().mapToDouble(Double::doubleValue).toArray();
    }

    private static double[] singularValues(Matrix x) {
        DMatrixRMaj m = Dense.of(x);
        SingularValueDecomposition_F64<DMatrixRMaj> svd = DecompositionFactory_DDRM.svd(m.numRows, m.numCols, false, false, true);
        if (!svd.decompose(m)) {
            return new double[0];
        }
        double[] sv = svd.getSingularValues().clone();
        Arrays.sort(sv);
        return sv;
    }

    // ---------------------------------------------------------------- scoring helpers

    private static int matches(int[] got, int[] truth) {
        int c = 0;
        for (int i = 0; i < truth.length; i++) {
            c += got[i] == truth[i] ? 1 : 0;
        }
        return c;
    }

    /** {@code ‖x̂ − x‖/‖x‖}; with {@code anyScale} after the best global scale (perm recovery fixes scale only up to one factor). */
    static double relativeError(Matrix est, Matrix truth, boolean anyScale) {
        double dot = 0, ee = 0, tt = 0;
        for (int i = 0; i < truth.data.length; i++) {
            dot += (double) est.data[i] * truth.data[i];
            ee += (double) est.data[i] * est.data[i];
            tt += (double) truth.data[i] * truth.data[i];
        }
        double k = anyScale && ee > 0 ? dot / ee : 1;
        double err = 0;
        for (int i = 0; i < truth.data.length; i++) {
            double e = k * est.data[i] - truth.data[i];
            err += e * e;
        }
        return Math.sqrt(err / Math.max(tt, 1e-300));
    }

    /** Attack 7's method for a row (none for the reference strategies: their view is plaintext). */
    private String recoveryName(LeakageConfig lc) {
        return lc.strategy() == LeakageConfig.Strategy.MASKED ? recovery(lc.family()) : "none";
    }

    /** The median, NaN-free values only (NaN if there are none). */
    static double median(double[] values) {
        double[] v = Arrays.stream(values).filter(x -> !Double.isNaN(x)).sorted().toArray();
        return v.length == 0 ? Double.NaN : v[v.length / 2];
    }

    /** The largest of the row's named rates (the strongest attack's), null if none is defined. */
    private static Double max(Map<String, Object> row, String... keys) {
        Double best = null;
        for (String k : keys) {
            if (row.get(k) instanceof Double v && (best == null || v > best)) {
                best = v;
            }
        }
        return best;
    }

    private static Double rate(int k, int n) {
        return n == 0 ? null : round((double) k / n);
    }

    /** Two significant digits (for errors far below the four decimals of {@link #round}); null for NaN. */
    private static Double significant(double x) {
        return Double.isFinite(x) ? Double.parseDouble(String.format(java.util.Locale.ROOT, "%.2g", x)) : null;
    }

    /** Four decimals; null for undefined values (JSON has no NaN). */
    private static Double round(double x) {
        return Double.isFinite(x) ? Math.round(x * 1e4) / 1e4 : null;
    }
}
