package org.privllm.lab.workload;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.function.Function;
import org.privllm.lab.report.Progress;
import org.privllm.model.Gpt2Config;
import org.privllm.model.DecoderForward;
import org.privllm.model.Gpt2Model;
import org.privllm.model.PlainDecoderOps;
import org.privllm.model.TransformerOps;
import org.privllm.model.generate.Generator;
import org.privllm.model.generate.Sampling;
import org.privllm.protocol.Executor;
import org.privllm.trusted.gpt2.BoundaryMeter;
import org.privllm.trusted.obf.ObfuscatedDecoder;
import org.privllm.trusted.mask.DenseMask;
import org.privllm.trusted.mask.MaskFamily;
import org.privllm.trusted.obf.ObfuscationConfig;
import org.privllm.trusted.obf.ObfuscationMode;
import org.privllm.trusted.privacy.TrustedAttentionDecoder;
import org.privllm.untrusted.InProcessExecutor;

/**
 * The workload analyzer (DESIGN §2): runs {@code plain}, {@code trusted_nonlinear} and {@code masked} (each mode
 * and mask family) for real on one random prompt with greedy decoding, counting through {@link CountingOps} and
 * {@link CountingExecutor}; replays the same {@link Placement}s as {@link GenerationPlan}s for the modelled
 * {@code masked_gpu_nonlinear} and {@code amulet_reference} (and, as a self-check, for the real ones); and
 * projects wall time with a TEE slowdown, a link bandwidth and a per-call latency.
 */
public final class WorkloadAnalyzer {
    private WorkloadAnalyzer() {}

    /**
     * @param teeSlowdown   multiplies trusted time
     * @param linkGbps      boundary bandwidth in Gbit/s
     * @param callLatencyUs latency per round trip in µs
     * @param reps          measured generations per real strategy (after one warm-up); the fastest is reported
     * @param seed          prompt ids and masks; null: fixed prompt, secure masks
     * @param planOnly      count every strategy from its plan, run nothing (for shapes too slow to run here)
     * @param trustedGflops, executorGflops rates for the projection where no run measured one (plan-only)
     * @param planFamilies  mask families whose {@code masked} rows are counted from their plan instead of run (too
     *                      heavy to run here); families that cannot run at this shape or in this heap are added
     *                      automatically ({@link #planReason})
     */
    public record Options(int promptTokens, int newTokens, double teeSlowdown, double linkGbps, double callLatencyUs,
                          List<MaskFamily> families, List<ObfuscationMode> modes, int reps, Long seed, boolean planOnly,
                          double trustedGflops, double executorGflops, List<MaskFamily> planFamilies) {
        public Options(int promptTokens, int newTokens, double teeSlowdown, double linkGbps, double callLatencyUs,
                       List<MaskFamily> families, List<ObfuscationMode> modes, int reps, Long seed, boolean planOnly,
                       double trustedGflops, double executorGflops) {
            this(promptTokens, newTokens, teeSlowdown, linkGbps, callLatencyUs, families, modes, reps, seed, planOnly,
                    trustedGflops, executorGflops, List.of());
        }

        public Options {
            if (!(trustedGflops > 0) || !(executorGflops > 0)) {
                throw new IllegalArgumentException("--trusted-gflops and --executor-gflops must be positive");
            }
            if (promptTokens < 1 || newTokens < 1 || reps < 1) {
                throw new IllegalArgumentException("--prompt-tokens, --new-tokens and --reps must be >= 1");
            }
            if (!(teeSlowdown >= 1) || Double.isInfinite(teeSlowdown)) {
                throw new IllegalArgumentException("--tee-slowdown must be a finite number >= 1");
            }
            if (!(linkGbps > 0) || Double.isInfinite(linkGbps)) {
                throw new IllegalArgumentException("--link-gbps must be a positive finite number");
            }
            if (!(callLatencyUs >= 0) || Double.isInfinite(callLatencyUs)) {
                throw new IllegalArgumentException("--call-latency-us must be a finite number >= 0");
            }
            families = List.copyOf(families);
            modes = List.copyOf(modes);
            planFamilies = List.copyOf(planFamilies);
        }

        /** The four mask families, the block size capped at the model width. */
        public static List<MaskFamily> allFamilies(Gpt2Config c) {
            return List.of(new MaskFamily.Orthogonal(), MaskFamily.parse("gaussian"),
                    new MaskFamily.BlockOrthogonal(Math.min(64, c.embd())), MaskFamily.parse("perm"));
        }
    }

    /**
     * Wall time of a real run: the fastest measured generation (after a warm-up one), split at the executor boundary;
     * and the fastest prefill and decode phases over the measured generations (as {@code bench} times them).
     */
    public record Measured(double totalS, double trustedS, double untrustedS, double setupS, int[] ids,
                           double prefillS, double decodeS) {}

    /** Round trips and bytes each way of one request's inference, as one counter saw them. */
    public record Boundary(long roundTrips, long bytesToExecutor, long bytesFromExecutor) {
        static Boundary of(Ledger l) {
            return new Boundary(l.roundTrips(), l.bytesToExecutor(), l.bytesFromExecutor());
        }

        static Boundary of(BoundaryMeter m) {
            return new Boundary(m.roundTrips(), m.bytesToExecutor(), m.bytesFromExecutor());
        }
    }

    /**
     * One strategy's counts (live or planned), measurement (null when not run) and plan self-check; for live runs
     * with an executor, what {@code bench}'s {@link BoundaryMeter} saw of the same request (null otherwise); for
     * rows of implemented strategies counted from their plan, why they were not run (null otherwise).
     */
    public record Result(Placement placement, Ledger counts, Measured measured, Boolean planAgrees, Boundary meter,
                         String notRunBecause) {
        Result(Placement placement, Ledger counts) {
            this(placement, counts, null, null, null, null);
        }
    }

    /**
     * A session's set-up peaks at about this multiple of the trusted state a plan counts. Measured: a 124M
     * pad-mode dense-orthogonal session (counted 5.3 GB) runs in a 5 GB heap with the plaintext engine beside it,
     * since wide orthogonal masks are held as packed float32 only.
     */
    static final double SETUP_MEMORY_FACTOR = 1;

    /** Throws (one line) unless the request fits the model. */
    public static void check(Gpt2Config c, Options o) {
        if (o.promptTokens() + o.newTokens() > c.positions()) {
            throw new IllegalArgumentException("--prompt-tokens + --new-tokens = " + (o.promptTokens() + o.newTokens())
                    + " exceeds n_positions " + c.positions());
        }
    }

    public static List<Result> run(Gpt2Model model, Options o, Progress progress) {
        Gpt2Config c = model.config();
        check(c, o);
        List<Result> out = new ArrayList<>();
        if (o.planOnly()) {
            for (Placement p : placements(c, o)) {
                out.add(new Result(p, GenerationPlan.replay(p, o.promptTokens(), o.newTokens())));
                progress.step(p.strategy());
            }
            return out;
        }
        int[] prompt = new SplittableRandom(o.seed() == null ? 1 : o.seed()).ints(o.promptTokens(), 0, c.vocab()).toArray();
        Random masks = o.seed() == null ? null : new Random(o.seed() ^ 0x5DEECE66DL);
        // JIT warm-up of the shared kernels, so the first strategy is not measured cold
        Generator warm = new Generator(model.plainForward());
        for (int i = 0; i < 2; i++) {
            warm.generate(List.of(prompt), o.newTokens(), Sampling.GREEDY, -1, null);
        }
        for (Placement p : placements(c, o)) {
            out.add(switch (p) {
                case PlainPlacement plain -> live(model, plain, null, prompt, o);
                case TrustedNonlinearPlacement t -> live(model, t, ex -> TrustedAttentionDecoder.plaintextLinears(
                        model.decoder().config(), model.decoder().weights(), ex), prompt, o);
                case MaskedPlacement m -> {
                    ObfuscationConfig obf = ObfuscationConfig.defaults().withMode(m.obfuscationMode()).withFamily(m.maskFamily());
                    ObfuscationConfig cfg = masks == null ? obf : obf.withSeed(masks.nextLong());
                    String why = planReason(m, o, Runtime.getRuntime().maxMemory());
                    yield why != null
                            ? new Result(p, GenerationPlan.replay(p, o.promptTokens(), o.newTokens()), null, null, null, why)
                            : live(model, m, ex -> new ObfuscatedDecoder(c, model.weights(), ex, cfg, Map.of()), prompt, o);
                }
                default -> new Result(p, GenerationPlan.replay(p, o.promptTokens(), o.newTokens()));
            });
            progress.step(p.strategy());
        }
        return out;
    }

    /**
     * Why a {@code masked} row is counted from its plan instead of run, or null to run it: named in
     * {@code --plan-families}; a Gaussian mask wider than {@link DenseMask#MAX_GAUSSIAN_DIM} (refused by the family);
     * or a session whose set-up would not fit the heap (the plan's trusted peak × {@link #SETUP_MEMORY_FACTOR}).
     */
    static String planReason(MaskedPlacement m, Options o, long heapBytes) {
        Gpt2Config c = m.config;
        MaskFamily f = m.maskFamily();
        if (o.planFamilies().stream().anyMatch(g -> g.toString().equals(f.toString()))) {
            return "named in --plan-families (too heavy to run here)";
        }
        int widest = Math.max(c.embd(), c.inner());
        if (f instanceof MaskFamily.Gaussian && widest > DenseMask.MAX_GAUSSIAN_DIM) {
            return "gaussian masks refuse d = " + widest + " (at most " + DenseMask.MAX_GAUSSIAN_DIM
                    + ": float32 accuracy at condition number ~4.7d)";
        }
        double need = SETUP_MEMORY_FACTOR * GenerationPlan.replay(m, o.promptTokens(), o.newTokens()).trustedPeakBytes();
        if (need > heapBytes) {
            return String.format(java.util.Locale.ROOT, "a session needs about %.1f GB in set-up (%.0fx the counted "
                    + "trusted state), more than this JVM's %.1f GB heap", need / 1e9, SETUP_MEMORY_FACTOR, heapBytes / 1e9);
        }
        return null;
    }

    /** Number of progress steps {@link #run} takes: one per strategy row. */
    public static int steps(Options o) {
        return 4 + o.modes().size() * o.families().size();
    }

    /** Every strategy in report order. */
    static List<Placement> placements(Gpt2Config c, Options o) {
        List<Placement> ps = new ArrayList<>(List.of(new PlainPlacement(c), new TrustedNonlinearPlacement(c)));
        for (ObfuscationMode mode : o.modes()) {
            for (MaskFamily f : o.families()) {
                ps.add(new MaskedPlacement(c, f, mode));
            }
        }
        ps.add(new GpuNonlinearPlacement(c));
        ps.add(new AmuletPlacement(c));
        return ps;
    }

    /**
     * Runs one implemented strategy: {@code build} wraps a counting executor into the strategy's ops (null: the
     * plaintext engine is the executor). A warm-up generation precedes the measured ones.
     */
    static Result live(Gpt2Model model, Placement p, Function<Executor, TransformerOps> build, int[] prompt, Options o) {
        Gpt2Config c = model.config();
        Ledger ledger = new Ledger();
        long t0 = System.nanoTime();
        TransformerOps ops;
        Ledger charged;
        BoundaryMeter meter = null;
        if (build == null) {
            p.setup(ledger);
            ops = new PlainDecoderOps(model.decoder().config(), model.decoder().weights());
            charged = ledger;
        } else {
            p.setup(ledger.trustedView()); // resident state; the uploads are counted from the real calls
            // bench's own meter under the counting executor: both see every call; the report compares them
            meter = new BoundaryMeter(new InProcessExecutor());
            ops = build.apply(new CountingExecutor(meter, ledger));
            charged = ledger.trustedView();
        }
        double setupS = (System.nanoTime() - t0) / 1e9;
        // The rows run in one JVM: without this, the garbage of an earlier session (a dense 124M session
        // holds gigabytes) is collected on a later row's clock — measured: pad block:64 at 124M ran 2.2x
        // plaintext alone and 4-5x after the orthogonal rows.
        System.gc();
        ledger.beginInference();
        try {
            Generator gen = new Generator(new DecoderForward(model.decoder().config(), model.decoder().weights(),
                    new CountingOps(ops, p, charged)));
            gen.generate(List.of(prompt), o.newTokens(), Sampling.GREEDY, -1, null); // warm-up
            Measured m = null;
            double prefill = Double.MAX_VALUE, decode = Double.MAX_VALUE;
            for (int rep = 0; rep < o.reps(); rep++) {
                ledger.resetInference(); // every repetition counts the same; the last one's counts stay
                if (meter != null) {
                    meter.reset();
                }
                long t1 = System.nanoTime();
                Generator.Result r = gen.generate(List.of(prompt), o.newTokens(), Sampling.GREEDY, -1, null);
                double total = (System.nanoTime() - t1) / 1e9;
                double untrusted = build == null ? total : ledger.executorNanos() / 1e9;
                prefill = Math.min(prefill, r.prefillNanos() / 1e9);
                decode = Math.min(decode, r.decodeNanos() / 1e9);
                if (m == null || total < m.totalS()) {
                    m = new Measured(total, total - untrusted, untrusted, setupS, r.outputIds().get(0), 0, 0);
                }
            }
            m = new Measured(m.totalS(), m.trustedS(), m.untrustedS(), m.setupS(), m.ids(), prefill, decode);
            ledger.endInference();
            return new Result(p, ledger, m, agrees(ledger, GenerationPlan.replay(p, o.promptTokens(), o.newTokens())),
                    meter == null ? null : Boundary.of(meter), null);
        } finally {
            if (ops instanceof AutoCloseable a) {
                try {
                    a.close();
                } catch (Exception e) {
                    throw new IllegalStateException("closing the " + p.strategy() + " session failed: " + e.getMessage(), e);
                }
            }
        }
    }

    /** Whether a live count and its plan agree on every reported quantity. */
    static boolean agrees(Ledger a, Ledger b) {
        return Arrays.equals(quantities(a), quantities(b));
    }

    private static long[] quantities(Ledger l) {
        return new long[] {l.trustedFlops(), l.untrustedFlops(), l.roundTrips(), l.bytesToExecutor(), l.bytesFromExecutor(),
                l.setupRoundTrips(), l.setupBytesToExecutor(), l.trustedPeakBytes()};
    }

    /** Wall-time projection per strategy (seconds). */
    public record Projection(double trustedS, double untrustedS, double transferS, String basis) {
        public double totalS() {
            return trustedS + untrustedS + transferS;
        }
    }

    /**
     * Real strategies: measured trusted time × slowdown + measured executor time. Modelled ones: FLOPs over the
     * rates the real runs achieved — executor FLOP/s over all real runs, trusted FLOP/s over the {@code masked}
     * runs (their trusted work, like the modelled ones', is mostly mask algebra); the given rates where nothing
     * was measured. Transfers: bytes over the link
     * plus a latency per round trip, for all.
     */
    public static Map<Result, Projection> project(List<Result> results, Options o) {
        double untrustedRate = rate(results.stream().filter(r -> r.measured() != null).toList(), false, o.executorGflops() * 1e9);
        double trustedRate = rate(results.stream().filter(r -> r.measured() != null && r.placement() instanceof MaskedPlacement)
                .toList(), true, o.trustedGflops() * 1e9);
        Map<Result, Projection> out = new LinkedHashMap<>();
        for (Result r : results) {
            Ledger l = r.counts();
            double transfer = 8.0 * (l.bytesToExecutor() + l.bytesFromExecutor()) / (o.linkGbps() * 1e9)
                    + l.roundTrips() * o.callLatencyUs() * 1e-6;
            if (r.measured() != null) {
                out.put(r, new Projection(r.measured().trustedS() * o.teeSlowdown(), r.measured().untrustedS(), transfer, "measured"));
            } else {
                out.put(r, new Projection(l.trustedFlops() / trustedRate * o.teeSlowdown(), l.untrustedFlops() / untrustedRate,
                        transfer, String.format("flops at %.3g trusted / %.3g executor GFLOP/s", trustedRate / 1e9, untrustedRate / 1e9)));
            }
        }
        return out;
    }

    /** Counted FLOPs over measured seconds, summed over runs (the fallback when nothing was measured). */
    private static double rate(List<Result> runs, boolean trusted, double fallback) {
        double flops = 0, seconds = 0;
        for (Result r : runs) {
            flops += trusted ? r.counts().trustedFlops() : r.counts().untrustedFlops();
            seconds += trusted ? r.measured().trustedS() : r.measured().untrustedS();
        }
        return flops > 0 && seconds > 0 ? flops / seconds : fallback;
    }
}
