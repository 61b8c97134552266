package org.privllm.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import org.privllm.model.DecoderConfig;
import org.privllm.model.DecoderForward;
import org.privllm.model.DecoderModel;
import org.privllm.model.PlainDecoderOps;
import org.privllm.model.generate.Generator;
import org.privllm.model.generate.Sampling;
import org.privllm.tensor.Kernels;
import org.privllm.tensor.MemoryBandwidth;
import org.privllm.tensor.Parallel;
import org.privllm.tensor.Profile;
import org.privllm.trusted.obf.ObfuscatedDecoder;
import org.privllm.trusted.gpt2.SchemeCost;
import org.privllm.trusted.obf.PadPool;
import org.privllm.trusted.gpt2.BoundaryMeter;
import org.privllm.trusted.privacy.BlindedSession;
import org.privllm.trusted.privacy.BlindingConfig;
import org.privllm.trusted.privacy.PrivacyLevel;
import org.privllm.trusted.privacy.TrustedAttentionDecoder;
import org.privllm.trusted.obf.ObfuscationConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "bench", mixinStandardHelpOptions = true, description = "Prefill and decode speed on random prompt ids (greedy, warm-up excluded), with the machine's "
        + "read bandwidth; with --obfuscate also the plaintext run, the ratio and the trusted domain's share of the time.")
final class BenchCommand implements Callable<Integer> {
    @Mixin ModelOptions model = new ModelOptions();
    @Option(names = "--prompt-tokens", defaultValue = "128") int promptTokens;
    @Option(names = "--new-tokens", defaultValue = "64") int newTokens;
    @Option(names = "--batch", defaultValue = "1") int batch;
    @Option(names = "--reps", description = "Measured repetitions; the median is reported (default: 3, more while they "
            + "have taken less than a second in all).") Integer reps;
    /** The repetitions the last measurement ran. */
    private int measuredReps;
    @Option(names = "--json", description = "Print one JSON object.") boolean json;
    @Option(names = "--profile", description = "Also time the measured engine's prefill and decode by kind of work "
            + "(GEMM, GEMV, attention, norms, activation, residual adds, rope; blinded levels: float64 products) in "
            + "extra runs after the measured ones: \"profile\" in ms per pass and share of the wall time.") boolean profile;
    @Mixin EngineOptions engine = new EngineOptions();

    /**
     * Median speeds of one engine over the measured repetitions; with a pad pool also the pads it had to
     * make on the critical path and the median time to refill it between repetitions (off the critical path).
     */
    record Speed(double prefill, double decode, double prefillBest, double decodeBest, long nanos, long padMisses,
                 double padRefillSeconds) {}

    @Override
    public Integer call() throws Exception {
        if (promptTokens < 1 || newTokens < 2 || batch < 1 || reps != null && reps < 1) {
            throw new IllegalArgumentException("--prompt-tokens, --batch and --reps must be >= 1 and --new-tokens >= 2");
        }
        DecoderModel m = model.load();
        DecoderConfig c = m.config();
        if (promptTokens + newTokens > c.positions()) {
            throw new IllegalArgumentException("--prompt-tokens + --new-tokens exceeds n_positions " + c.positions());
        }
        List<int[]> prompts = randomPrompts(batch, promptTokens, c.vocab(), 1234);
        DecoderForward plainForward = engine.plainForward(m);
        Speed plain = measure(plainForward, prompts, c);
        profiledForward = plainForward;
        Map<String, Object> j = new LinkedHashMap<>();
        Speed main = plain;
        if (engine.protectedRun()) {
            PrivacyLevel level = engine.level();
            SchemeCost.Prediction p;
            boolean pool;
            if (level == PrivacyLevel.SEED) {
                ObfuscationConfig oc = engine.obfuscationConfig();
                pool = oc.padPool();
                p = SchemeCost.predict(c, oc.family(), oc.mode(), !pool, promptTokens);
            } else {
                BlindingConfig bc = engine.blindingConfig();
                pool = bc.poolCapacity() > 0;
                int passes = level.parties() + (level == PrivacyLevel.STRONG && !pool ? 1 : 0);
                p = SchemeCost.predictBlinded(c, passes, promptTokens);
            }
            Run obf;
            try {
                obf = engine.withEngine(m, e -> run(e, prompts, c));
                if (engine.remote()) {
                    // The same scheme with the executors in this process, measured in the same run.
                    try (EngineOptions.Engine local = engine.open(m)) {
                        Run in = run(local, prompts, c);
                        j.put("in_process_prefill_tokens_per_s", Json.round(in.speed().prefill(), 2));
                        j.put("in_process_decode_tokens_per_s", Json.round(in.speed().decode(), 2));
                    }
                }
            } finally {
                engine.closeEndpoints();
            }
            main = obf.speed();
            profiledForward = null;
            j.put("obfuscated", true);
            j.put("privacy", level.label());
            j.put("scheme", engine.scheme());
            j.put("session_setup_s", Json.round(obf.setupSeconds(), 2));
            j.put("plaintext_prefill_tokens_per_s", Json.round(plain.prefill(), 2));
            j.put("plaintext_decode_tokens_per_s", Json.round(plain.decode(), 2));
            j.put("decode_time_ratio", Json.round(plain.decode() / main.decode(), 3));
            j.put("prefill_time_ratio", Json.round(plain.prefill() / main.prefill(), 3));
            j.put("predicted_decode_time_ratio", Json.round(p.decodeRatio(), 3));
            j.put("predicted_prefill_time_ratio", Json.round(p.prefillRatio(), 3));
            if (level != PrivacyLevel.SEED) {
                // The same operation counts at unit costs measured here: a pad value's draw against the
                // plaintext run's FLOP rate (prefill) and byte rate (decode) of this process.
                double padNanos = padValueNanos();
                boolean padsOnPath = !pool;
                double weights = SchemeCost.linearParams(c) + (double) c.vocab() * c.hidden();
                double flopRate = plain.prefill() * 2 * weights, byteRate = plain.decode() * 4 * weights / batch;
                int passes = level.parties() + (level == PrivacyLevel.STRONG && !pool ? 1 : 0);
                SchemeCost.Prediction cal = SchemeCost.predictBlinded(c, passes, promptTokens,
                        padsOnPath ? padNanos * 1e-9 * flopRate : 0, padsOnPath ? padNanos * 1e-9 * byteRate : 0);
                j.put("pad_value_ns", Json.round(padNanos, 3));
                j.put("calibrated_decode_time_ratio", Json.round(cal.decodeRatio(), 3));
                j.put("calibrated_prefill_time_ratio", Json.round(cal.prefillRatio(), 3));
            }
            j.put("trusted_time_share", Json.round(obf.trustedShare(), 3));
            if (pool) {
                j.put("pad_pool_misses", main.padMisses());
                j.put("pad_pool_refill_s", Json.round(main.padRefillSeconds(), 3));
            }
            if (obf.work() != null) {
                j.putAll(obf.work());
            }
            j.put("boundary", obf.boundary());
        }
        if (profile) {
            j.put("profile", profiledForward != null ? profileRuns(profiledForward, prompts, c) : profileMap);
        }
        double bw = MemoryBandwidth.measureReadGbps();
        // bytes one decode step reads: the plaintext engine's packed weights (half width for a BF16/F16
        // checkpoint unless --weights f32); a protected run's executors keep float32
        double bytesPerStep = profiledForward != null && profiledForward.ops() instanceof PlainDecoderOps p
                ? p.weightBytes() : 4.0 * decodeWeightFloats(c);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("prefill_tokens_per_s", Json.round(main.prefill(), 2));
        out.put("decode_tokens_per_s", Json.round(main.decode(), 2));
        out.put("prefill_tokens_per_s_best", Json.round(main.prefillBest(), 2));
        out.put("decode_tokens_per_s_best", Json.round(main.decodeBest(), 2));
        out.put("read_bandwidth_gb_s", Json.round(bw, 2));
        out.put("decode_bound_tokens_per_s", Json.round(batch * bw * 1e9 / bytesPerStep, 2));
        out.put("weights_mb_per_decode_step", Json.round(bytesPerStep / 1e6, 1));
        out.put("peak_rss_mb", peakRssMb());
        out.put("threads", Parallel.threads());
        out.put("kernels", Kernels.backend());
        out.put("gemm", Kernels.gemm());
        out.put("weights", profiledForward != null && profiledForward.ops() instanceof PlainDecoderOps p
                ? p.weightPrecision() : "f32");
        out.put("prompt_tokens", promptTokens);
        out.put("new_tokens", newTokens);
        out.put("batch", batch);
        out.putAll(j);
        if (json) {
            Json.print(System.out, out);
        } else {
            out.forEach((k, v) -> System.out.println(k + ": " + v));
        }
        return 0;
    }

    private DecoderForward profiledForward;
    private Map<String, Object> profileMap;

    /**
     * Where a pass's wall time goes ({@link Profile}), over {@code reps} extra runs of the engine after its
     * measured ones: prefill is one forward step over the prompts, decode one step of one token per sequence
     * plus the LM head and a greedy pick, for {@code newTokens - 1} steps. Per kind: ms per pass and share of
     * the wall time; {@code other} is the rest (embeddings, rope, copies, allocation, the pick, bookkeeping).
     */
    private Map<String, Object> profileRuns(DecoderForward f, List<int[]> prompts, DecoderConfig c) {
        int b = prompts.size(), len = promptTokens;
        int[] ids = new int[b * len], pos = new int[b * len];
        for (int s = 0; s < b; s++) {
            for (int i = 0; i < len; i++) {
                ids[s * len + i] = prompts.get(s)[i];
                pos[s * len + i] = i;
            }
        }
        Map<String, Long> prefill = new LinkedHashMap<>(), decode = new LinkedHashMap<>();
        long prefillWall = 0, decodeWall = 0;
        int steps = newTokens - 1;
        int reps = this.reps != null ? this.reps : DEFAULT_REPS;
        for (int r = 0; r < reps; r++) {
            f.ops().startCache(new int[b], len + newTokens);
            Profile.reset();
            Profile.enable(true);
            long t0 = System.nanoTime();
            org.privllm.tensor.Matrix h = f.step(ids, pos, len);
            prefillWall += System.nanoTime() - t0;
            Profile.enable(false);
            Profile.snapshot().forEach((k, v) -> prefill.merge(k, v, Long::sum));
            org.privllm.tensor.Matrix last = new org.privllm.tensor.Matrix(b, h.cols);
            for (int s = 0; s < b; s++) {
                System.arraycopy(h.data, ((s + 1) * len - 1) * h.cols, last.data, s * h.cols, h.cols);
            }
            Profile.reset();
            Profile.enable(true);
            t0 = System.nanoTime();
            for (int step = 0; step < steps; step++) {
                org.privllm.tensor.Matrix logits = f.ops().lmHead(last);
                int[] next = new int[b], nextPos = new int[b];
                for (int s = 0; s < b; s++) {
                    // the generator's own pick: a scalar scan here put 0.3–0.4 ms of batch 8's step into "other"
                    next[s] = org.privllm.model.generate.Sampler.argmax(logits.data, s * c.vocab(), c.vocab());
                    nextPos[s] = len + step;
                }
                last = f.step(next, nextPos, 1);
            }
            decodeWall += System.nanoTime() - t0;
            Profile.enable(false);
            Profile.snapshot().forEach((k, v) -> decode.merge(k, v, Long::sum));
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("prefill", profileTable(prefill, prefillWall, reps));
        out.put("decode_per_step", profileTable(decode, decodeWall, (long) reps * steps));
        return out;
    }

    /** {@code {"wall_ms": …, kind: {"ms": …, "share": …}, …, "other": …}}, per pass. */
    private static Map<String, Object> profileTable(Map<String, Long> kinds, long wall, long passes) {
        Map<String, Object> t = new LinkedHashMap<>();
        t.put("wall_ms", Json.round(wall / 1e6 / passes, 3));
        long timed = 0;
        for (Map.Entry<String, Long> e : kinds.entrySet()) {
            t.put(e.getKey(), profileEntry(e.getValue(), wall, passes));
            timed += e.getValue();
        }
        long other = Math.max(0, wall - timed);
        t.put("other", profileEntry(other, wall, passes));
        return t;
    }

    /** {@code {"ms": per pass, "share": of the wall time}}, in that order. */
    private static Map<String, Object> profileEntry(long nanos, long wall, long passes) {
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("ms", Json.round(nanos / 1e6 / passes, 3));
        e.put("share", Json.round(nanos / (double) wall, 3));
        return e;
    }

    /**
     * One protected engine measured: speeds, its session set-up time, the trusted share, the boundary traffic
     * (per executor) and, for the blinded levels, the counted work of one request.
     */
    record Run(Speed speed, double setupSeconds, double trustedShare, Object boundary, Map<String, Object> work) {}

    private Run run(EngineOptions.Engine e, List<int[]> prompts, DecoderConfig c) {
        Speed s = measure(e, prompts, c);
        // read before the profile's extra runs: the meters cover the measured repetitions only.
        // Concurrent parties: the longest one is the executors' share of the wall time
        long executorNanos = e.meters().stream().mapToLong(BoundaryMeter::executorNanos).max().orElse(0);
        Object boundary = e.meters().size() == 1 ? e.meter().summary()
                : e.meters().stream().map(BoundaryMeter::summary).toList();
        Map<String, Object> work = work(e, c);
        if (profile && profileMap == null) {
            profileMap = profileRuns(e.forward(), prompts, c);
        }
        return new Run(s, setupSeconds(e), 1 - executorNanos / (double) s.nanos(), boundary, work);
    }

    /**
     * Per request (the measured repetitions' mean): trusted and plaintext FLOPs counted for the same calls, by
     * kind; the trusted KV cache; the attention core's trusted cost per token at 128, 512 and 1024 of context.
     */
    private Map<String, Object> work(EngineOptions.Engine e, DecoderConfig c) {
        TrustedAttentionDecoder t = e.blinded();
        if (t == null) {
            return null;
        }
        Map<String, Object> w = new LinkedHashMap<>();
        long trusted = t.trustedWork().total() / measuredReps, plaintext = t.plaintextWork().total() / measuredReps;
        w.put("trusted_flops", trusted);
        w.put("plaintext_flops", plaintext);
        w.put("trusted_flops_ratio", Json.round(trusted / (double) plaintext, 4));
        Map<String, Object> byKind = new LinkedHashMap<>();
        t.trustedWork().byKind().forEach((k, v) -> byKind.put(k, v / measuredReps));
        w.put("trusted_flops_by_kind", byKind);
        w.put("trusted_kv_bytes", t.cache().bytes());
        Map<String, Object> perToken = new LinkedHashMap<>();
        for (int ctx : new int[] {128, 512, 1024}) {
            perToken.put(String.valueOf(ctx), Map.of(
                    "flops", c.layers() * TrustedAttentionDecoder.attentionCoreFlops(c, ctx),
                    "kv_bytes", 2L * c.layers() * ctx * c.kvWidth() * Float.BYTES));
        }
        w.put("trusted_attention_per_token", perToken);
        return w;
    }

    private static double setupSeconds(EngineOptions.Engine e) {
        return e.setupNanos() / 1e9;
    }

    private Speed measure(EngineOptions.Engine e, List<int[]> prompts, DecoderConfig c) {
        return measure(e.forward(), prompts, c);
    }

    /** The pad pool of a protected engine (seed pad mode or strong), or null. */
    private static ReadyPool pool(DecoderForward f) {
        if (f.ops() instanceof ObfuscatedDecoder o && o.session().pads() instanceof PadPool p) {
            return new ReadyPool(p::backgroundRefill, p::replenish, p::misses);
        }
        if (f.ops() instanceof TrustedAttentionDecoder t && t.placement() instanceof BlindedSession b && b.pool() != null) {
            var q = b.pool();
            return new ReadyPool(q::backgroundRefill, q::replenish, q::misses);
        }
        return null;
    }

    /** The three things bench does with a pool. */
    private record ReadyPool(java.util.function.Consumer<Boolean> backgroundRefill, java.util.function.LongSupplier replenish,
                             java.util.function.LongSupplier misses) {}

    /** Nanoseconds per float64 Gaussian pad value on this machine now: the best of five 1M-value draws. */
    private static double padValueNanos() {
        org.privllm.trusted.linalg.GaussianStream g = new org.privllm.trusted.linalg.GaussianStream(new java.security.SecureRandom());
        double best = Double.MAX_VALUE;
        for (int i = 0; i < 8; i++) {
            long t0 = System.nanoTime();
            g.gaussian64(1024, 1024, 1.0);
            if (i >= 3) { // the first draws compile the kernel
                best = Math.min(best, (System.nanoTime() - t0) / (1024.0 * 1024));
            }
        }
        return best;
    }

    private static final int WARM_UP_MAX_PASSES = 30;
    private static final double WARM_UP_MAX_SECONDS = 90;
    /**
     * Warm-up ends only after this long without a compilation finishing: a small model's pass takes a millisecond,
     * and the compilation-time counter (counted when a compilation ends) stayed still over two such passes while
     * C2 was still compiling the tile methods — stories260K's 16-token prefill then measured 150–1,700 tok/s where
     * 24 and 32 tokens measured 12,000–60,000.
     */
    private static final double WARM_UP_QUIET_SECONDS = 1;
    /** Without {@code --reps}: at least three repetitions and at least this long in all (a small model's take ms). */
    private static final double MEASURE_MIN_SECONDS = 1;
    private static final int DEFAULT_REPS = 3, MEASURE_MAX_REPS = 1000;

    /** Full-prompt passes (16 new tokens) until the JIT is done and prefill and decode settle; see {@link #measure}. */
    private void warmUp(Generator gen, List<int[]> prompts) {
        double bestPrefill = 0, bestDecode = 0;
        int settled = 0;
        long start = System.nanoTime(), quietSince = start;
        var jit = java.lang.management.ManagementFactory.getCompilationMXBean();
        for (int pass = 0; ; pass++) {
            long compiledBefore = jit == null ? 0 : jit.getTotalCompilationTime();
            Generator.Result r = gen.generate(prompts, Math.min(newTokens, 16), Sampling.GREEDY, -1, null);
            boolean compiled = jit != null && jit.getTotalCompilationTime() != compiledBefore;
            double prefill = r.prefillTokensPerSecond();
            double decode = r.decodeSteps() / Math.max(1e-9, r.decodeNanos() / 1e9);
            boolean near = !compiled && prefill >= 0.95 * bestPrefill && decode >= 0.95 * bestDecode;
            bestPrefill = Math.max(bestPrefill, prefill);
            bestDecode = Math.max(bestDecode, decode);
            settled = pass >= 3 && near ? settled + 1 : 0;
            long now = System.nanoTime();
            if (compiled || jit == null && pass == 0) {
                quietSince = now;
            }
            boolean quiet = (now - quietSince) / 1e9 >= WARM_UP_QUIET_SECONDS;
            if ((now - start) / 1e9 > WARM_UP_MAX_SECONDS || quiet && (settled >= 2 || pass + 1 >= WARM_UP_MAX_PASSES)) {
                break;
            }
        }
    }

    private Speed measure(DecoderForward f, List<int[]> prompts, DecoderConfig c) {
        Generator gen = new Generator(f);
        // A pad pool is refilled between repetitions, as a server would between requests, never during one:
        // on two cores a background refill competes with the critical path it exists to relieve.
        ReadyPool pool = pool(f);
        if (pool != null) {
            pool.backgroundRefill().accept(false);
        }
        // Warm-up: let the JIT compile (C2, with its loop optimisations) every kernel at these shapes. On two cores
        // a compiler thread busy with the big tile methods stalls every parallel region it shares a core with, so
        // a fixed handful of passes measured the compiler as often as the engine (128-token prefill 350-1330
        // tok/s across runs of one build at 124M): warm up until two passes in a row compile nothing and run
        // within 5% of the best prefill and decode seen, at least 4 passes and WARM_UP_QUIET_SECONDS since a
        // compilation last finished, at most WARM_UP_MAX_PASSES (once quiet) or WARM_UP_MAX_SECONDS.
        gen.generate(randomPrompts(batch, Math.min(promptTokens, 32), c.vocab(), 99), Math.min(newTokens, 8),
                Sampling.GREEDY, -1, null);
        warmUp(gen, prompts);
        if (pool != null) { // one full-length run so every (layer, rows) learns how many pads a request uses
            gen.generate(prompts, newTokens, Sampling.GREEDY, -1, null);
        }
        if (!(f.ops() instanceof org.privllm.model.PlainDecoderOps)) {
            engine.resetMeter();
        }
        // exactly --reps repetitions; without it three, more while they have run less than MEASURE_MIN_SECONDS
        int most = reps != null ? reps : MEASURE_MAX_REPS;
        double[] prefill = new double[most], decode = new double[most], refill = new double[most];
        long nanos = 0, missesBefore = pool == null ? 0 : pool.misses().getAsLong();
        int n = 0;
        for (; n < most && (reps != null || n < DEFAULT_REPS || nanos < MEASURE_MIN_SECONDS * 1e9); n++) {
            if (pool != null) {
                long t0 = System.nanoTime();
                pool.replenish().getAsLong();
                refill[n] = (System.nanoTime() - t0) / 1e9;
            }
            Generator.Result r = gen.generate(prompts, newTokens, Sampling.GREEDY, -1, null);
            prefill[n] = r.prefillTokensPerSecond();
            // The first new token comes from the prefill logits: decode speed counts the steps that ran.
            decode[n] = r.decodeSteps() * (double) batch / (r.decodeNanos() / 1e9);
            nanos += r.prefillNanos() + r.decodeNanos();
        }
        measuredReps = n;
        prefill = Arrays.copyOf(prefill, n);
        decode = Arrays.copyOf(decode, n);
        refill = Arrays.copyOf(refill, n);
        return new Speed(median(prefill), median(decode), Arrays.stream(prefill).max().orElse(0),
                Arrays.stream(decode).max().orElse(0), nanos, pool == null ? 0 : pool.misses().getAsLong() - missesBefore,
                median(refill));
    }

    static List<int[]> randomPrompts(int batch, int len, int vocab, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        List<int[]> out = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            out.add(r.ints(len, 0, vocab).toArray());
        }
        return out;
    }

    /**
     * Floats one decode step must read: every linear weight at the config's widths (fused q/k/v of
     * {@code (H + 2·KV)·hd} columns, the output projection, {@code [gate | up]} or up, down) and the LM head.
     */
    static long decodeWeightFloats(DecoderConfig c) {
        return (long) SchemeCost.linearParams(c) + (long) c.vocab() * c.hidden();
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    static long peakRssMb() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            // not Linux: no figure
        }
        return -1;
    }
}
