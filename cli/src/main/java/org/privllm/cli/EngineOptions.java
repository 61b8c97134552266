package org.privllm.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.privllm.model.DecoderForward;
import org.privllm.model.DecoderModel;
import org.privllm.model.PlainDecoderOps;
import org.privllm.model.WeightReader;
import org.privllm.trusted.lora.LoraAdapter;
import org.privllm.trusted.lora.LoraMerge;
import org.privllm.trusted.lora.LowRankAdapter;
import org.privllm.protocol.Executor;
import org.privllm.trusted.gpt2.BoundaryMeter;
import org.privllm.trusted.obf.ObfuscatedDecoder;
import org.privllm.trusted.obf.MaskScope;
import org.privllm.trusted.obf.ObfuscationConfig;
import org.privllm.trusted.obf.ObfuscationMode;
import org.privllm.trusted.privacy.BlindingConfig;
import org.privllm.trusted.privacy.PrivacyLevel;
import org.privllm.trusted.privacy.TrustedAttentionDecoder;
import org.privllm.untrusted.InProcessExecutor;
import org.privllm.protocol.grpc.ExecutorEndpoints;
import org.privllm.protocol.grpc.GrpcExecutorClient;
import org.privllm.protocol.grpc.TlsFiles;
import org.privllm.trusted.integrity.IntegrityException;
import org.privllm.trusted.integrity.VerifyingExecutor;
import io.grpc.InsecureChannelCredentials;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Where the forward pass runs: plaintext (default) or protected on untrusted executors (in-process unless
 * {@code --executor} names one) at a {@code --privacy} level, with the level's options.
 */
final class EngineOptions {
    @Option(names = "--obfuscate", description = "Run protected on untrusted executor(s) (the --privacy level; default strong).")
    boolean obfuscate;

    @Option(names = "--privacy", paramLabel = "seed|strong|two-party",
            description = "What the executors may learn: strong (default: one executor, huge fresh pads, attention trusted), "
                    + "two-party (two non-colluding executors on additive shares), seed (the seed masking scheme; "
                    + "leaks the prompt to an executor that knows the public weights: docs/leakage.md). Implies --obfuscate.")
    String privacy;

    @Option(names = "--mode", paramLabel = "mask|pad", description = "Seed level: obfuscation mode (default mask; implies --privacy seed).")
    String mode;

    @Mixin MaskFamilyOption masks = new MaskFamilyOption();

    @Option(names = "--scope", paramLabel = "session|call",
            description = "Seed level: mask scope of the MLP layers (default session; implies --privacy seed).")
    String scope;

    @Option(names = "--pad-pool", paramLabel = "N", description = "Precomputed pads, up to N per layer and input size (seed pad mode: "
            + "pads with compensations; strong: pad products T·W), refilled in the background (bench refills between repetitions).")
    Integer padPool;

    @Option(names = "--pad-ratio", paramLabel = "RHO", description = "Strong and two-party: pad standard deviation over the layer "
            + "input's calibrated RMS (default 2^20; lower only for experiments).")
    Double padRatio;

    @Option(names = "--mask-seed", paramLabel = "S", description = "Seed masks and pads (experiments only; default: SecureRandom).")
    Long maskSeed;

    @Option(names = "--row-bucket", paramLabel = "N", description = "Strong and two-party: every blinded call's rows rounded up "
            + "to a multiple of N with rows of pad alone, so the executors see row counts in buckets of N (default 1).")
    Integer rowBucket;

    @Option(names = "--check", description = "Also run plaintext in this process and report the largest logit error.")
    boolean check;

    @Option(names = "--lora", paramLabel = "DIR", description = "Private PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors); "
            + "kept in the trusted domain (strong, two-party) or masked on the executor (seed), never merged there.")
    java.nio.file.Path lora;

    // Default native (issue 14): since decode's one-row GEMV widens BF16/F16 in registers, a BF16 124M checkpoint
    // decodes 1.57x faster than with f32 in bench (2026-11-30), bit for bit the same logits; a float32 checkpoint
    // is float32 either way.
    @Option(names = "--weights", paramLabel = "native|f32", defaultValue = "native",
            description = "Plaintext engine: keep each linear weight at the narrowest precision that holds it "
                    + "exactly (native, the default: a BF16 or F16 checkpoint's weights stay half width, decode reads "
                    + "half the bytes, results bit for bit those of f32) or widen every weight to float32 (f32).")
    String weights;

    /** The plaintext engine's weight storage from {@code --weights}. */
    PlainDecoderOps.Storage storage() {
        return switch (weights == null ? "native" : weights) {
            case "native" -> PlainDecoderOps.Storage.NATIVE;
            case "f32" -> PlainDecoderOps.Storage.F32;
            default -> throw new IllegalArgumentException("--weights must be native or f32, got '" + weights + "'");
        };
    }

    private Map<String, LowRankAdapter> adapters;

    /** The adapter's layers on the model's fused linears, loaded once (empty without --lora). */
    Map<String, LowRankAdapter> adapters(DecoderModel m) {
        if (adapters == null) {
            adapters = lora == null ? Map.of() : LoraAdapter.load(lora, m.config()).layers();
        }
        return adapters;
    }

    /**
     * The plaintext engine (the adapter merged in the trusted domain when given): the reference for --check. Its
     * weights are read a piece at a time and packed ({@link DecoderModel#reader}), so it holds no float32 copy of a
     * linear weight, merged or not.
     */
    DecoderForward plainForward(DecoderModel m) {
        PlainDecoderOps.Storage storage = storage();
        Map<String, LowRankAdapter> adapters = adapters(m);
        try (WeightReader w = m.reader()) {
            return PlainDecoderOps.forward(m.config(), LoraMerge.merging(w, adapters), storage);
        }
    }

    /**
     * Whether the run is protected at all: {@code --obfuscate}, {@code --privacy}, an executor address, or any option
     * that configures a level ({@code --mode}, {@code --masks}, {@code --scope}, {@code --pad-ratio},
     * {@code --pad-pool}, {@code --mask-seed}) — never a plaintext run that silently ignores a privacy option.
     */
    boolean protectedRun() {
        return obfuscate || privacy != null || remote() || mode != null || masks.given() || scope != null
                || padRatio != null || padPool != null || maskSeed != null || rowBucket != null;
    }

    /**
     * The privacy level: {@code --privacy} when given; otherwise {@code seed} if a seed-only option
     * ({@code --mode}, {@code --masks}, {@code --scope}) was named — so today's command lines keep their
     * meaning — else {@code strong}, the safe default.
     */
    PrivacyLevel level() {
        boolean seedOptions = mode != null || masks.given() || scope != null;
        if (privacy == null) {
            return seedOptions ? PrivacyLevel.SEED : PrivacyLevel.STRONG;
        }
        PrivacyLevel l = PrivacyLevel.parse(privacy);
        if (l != PrivacyLevel.SEED && seedOptions) {
            throw new IllegalArgumentException("--mode, --masks and --scope configure --privacy seed, not " + l);
        }
        if (l == PrivacyLevel.SEED && (padRatio != null || rowBucket != null)) {
            throw new IllegalArgumentException("--pad-ratio and --row-bucket apply to --privacy strong and two-party");
        }
        if (l != PrivacyLevel.TWO_PARTY && shareExecutorAddresses != null) {
            throw new IllegalArgumentException("--share-executor is the second party of --privacy two-party");
        }
        return l;
    }

    /** An engine over a model: its forward pass, the boundary meters (one per executor) and what to close. */
    record Engine(DecoderForward forward, List<BoundaryMeter> meters, AutoCloseable resources, long setupNanos)
            implements AutoCloseable {
        /** The first executor's meter (the only one below two-party); null for plaintext. */
        BoundaryMeter meter() {
            return meters.isEmpty() ? null : meters.get(0);
        }

        /** The blinded levels' model (trusted attention, counted trusted work), or null. */
        TrustedAttentionDecoder blinded() {
            return forward.ops() instanceof TrustedAttentionDecoder t ? t : null;
        }

        @Override
        public void close() {
            if (resources != null) {
                try {
                    resources.close();
                } catch (RuntimeException e) {
                    throw e;
                } catch (Exception e) {
                    throw new IllegalStateException(e.getMessage(), e);
                }
            }
        }
    }

    /** The seed level's scheme from {@code --mode/--masks/--scope/--pad-pool/--mask-seed}. */
    ObfuscationConfig obfuscationConfig() {
        ObfuscationMode m = switch (mode == null ? "mask" : mode) {
            case "mask" -> ObfuscationMode.MASK;
            case "pad" -> ObfuscationMode.PAD;
            default -> throw new IllegalArgumentException("--mode must be mask or pad, got '" + mode + "'");
        };
        MaskScope s = switch (scope == null ? "session" : scope) {
            case "session" -> MaskScope.PER_SESSION;
            case "call" -> MaskScope.PER_CALL;
            default -> throw new IllegalArgumentException("--scope must be session or call, got '" + scope + "'");
        };
        ObfuscationConfig c = ObfuscationConfig.defaults().withMode(m).withScope(s).withFamily(masks.family());
        if (padPool != null) {
            if (m != ObfuscationMode.PAD) {
                throw new IllegalArgumentException("--pad-pool at --privacy seed needs --mode pad");
            }
            c = c.withPadPool(padPool);
        }
        return maskSeed != null ? c.withSeed(maskSeed) : c;
    }

    /** The strong and two-party levels' blinding from {@code --pad-ratio/--pad-pool/--mask-seed}. */
    BlindingConfig blindingConfig() {
        BlindingConfig c = BlindingConfig.of(level());
        if (padRatio != null) {
            c = c.withRho(padRatio);
        }
        if (rowBucket != null) {
            c = c.withRowBucket(rowBucket);
        }
        if (padPool != null) {
            if (padPool <= 0) {
                throw new IllegalArgumentException("--pad-pool must be positive, got " + padPool);
            }
            c = c.withPadPool(padPool);
        }
        return maskSeed != null ? c.withSeed(maskSeed) : c;
    }

    /** A short description of the protection for reports (no secrets). */
    Map<String, Object> scheme() {
        Map<String, Object> s = new java.util.LinkedHashMap<>();
        PrivacyLevel l = level();
        s.put("privacy", l.label());
        if (l == PrivacyLevel.SEED) {
            ObfuscationConfig oc = obfuscationConfig();
            s.put("mode", oc.mode().name().toLowerCase());
            s.put("masks", masks.toString());
            s.put("pad_pool", oc.padPool());
        } else {
            BlindingConfig bc = blindingConfig();
            s.put("pad_ratio", bc.rho());
            s.put("pad_pool", bc.poolCapacity() > 0);
        }
        s.put("executor", executorName());
        return s;
    }

    @Option(names = "--executor", paramLabel = "HOST:PORT[,HOST:PORT…]",
            description = "Use the executor process(es) at these addresses (gRPC; see `privllm executor`); retries move down the list. "
                    + "Implies --obfuscate.")
    String executorAddresses;

    @Option(names = "--share-executor", paramLabel = "HOST:PORT[,HOST:PORT…]",
            description = "--privacy two-party: the second, non-colluding executor (its own failover list).")
    String shareExecutorAddresses;

    @Option(names = "--retries", defaultValue = "0", paramLabel = "N",
            description = "On a dead, stalled or tampering executor, redo the work on a fresh session up to N more times.")
    int retries;

    @Option(names = "--deadline-ms", defaultValue = "30000", paramLabel = "MS", description = "Per-call deadline for a remote executor.")
    long deadlineMs;

    @Option(names = "--tls-ca", paramLabel = "FILE", description = "Trust this CA (PEM) for the executor's TLS certificate.")
    java.nio.file.Path tlsCa;

    @Option(names = "--tls-cert", paramLabel = "FILE", description = "Client certificate (PEM) for mutual TLS.")
    java.nio.file.Path tlsCert;

    @Option(names = "--tls-key", paramLabel = "FILE", description = "Client private key (PEM) for mutual TLS.")
    java.nio.file.Path tlsKey;

    @Option(names = "--no-integrity", description = "Skip Freivalds/attention checks of a remote executor's results (not recommended).")
    boolean noIntegrity;

    private ExecutorEndpoints endpoints;
    private ExecutorEndpoints shareEndpoints;

    boolean remote() {
        return executorAddresses != null || shareExecutorAddresses != null;
    }

    private ExecutorEndpoints endpoints(String list) {
        if ((tlsCert == null) != (tlsKey == null)) {
            throw new IllegalArgumentException("--tls-cert and --tls-key go together");
        }
        var creds = tlsCa == null && tlsCert == null ? InsecureChannelCredentials.create()
                : TlsFiles.client(tlsCa, tlsCert, tlsKey);
        var options = GrpcExecutorClient.Options.defaults().withCallTimeout(java.time.Duration.ofMillis(deadlineMs));
        return ExecutorEndpoints.parse(list, creds, options);
    }

    /** Where the executors run, for reports. */
    String executorName() {
        if (!remote()) {
            return level() == PrivacyLevel.TWO_PARTY ? "two in-process" : "in-process";
        }
        return "grpc " + executorAddresses + (shareExecutorAddresses != null ? " + " + shareExecutorAddresses : "");
    }

    /**
     * Runs {@code work} on an engine over this model. With remote executors, every attempt opens fresh
     * sessions (re-upload, re-prefill) on the next address of each list, results are integrity-checked, and
     * a dead, stalled or lying executor is retried {@code --retries} times before a one-line error.
     */
    <T> T withEngine(DecoderModel m, Function<Engine, T> work) {
        PrivacyLevel l = protectedRun() ? level() : null;
        if (!remote()) {
            try (Engine e = open(m)) {
                return work.apply(e);
            }
        }
        connectEndpoints(l);
        return ExecutorEndpoints.retrying(retries, ex -> ex instanceof IntegrityException, attempt -> {
            List<Executor> parties = new ArrayList<>(List.of(checked(endpoints.forAttempt(attempt))));
            if (l == PrivacyLevel.TWO_PARTY) {
                parties.add(checked(shareEndpoints.forAttempt(attempt)));
            }
            try (Engine e = open(m, parties, false)) {
                return work.apply(e);
            }
        });
    }

    private Executor checked(Executor remote) {
        return noIntegrity ? remote : new VerifyingExecutor(remote);
    }

    /** Closes remote connections (after the last {@link #withEngine}). */
    void closeEndpoints() {
        if (endpoints != null) {
            endpoints.close();
        }
        if (shareEndpoints != null) {
            shareEndpoints.close();
        }
    }

    private Engine lastEngine;

    /** Zeroes the boundary counters of the engine opened last (to exclude warm-up from measurements). */
    void resetMeter() {
        if (lastEngine != null) {
            lastEngine.meters().forEach(BoundaryMeter::reset);
            if (lastEngine.blinded() != null) {
                lastEngine.blinded().trustedWork().reset();
                lastEngine.blinded().plaintextWork().reset();
            }
        }
    }

    /**
     * Checks every engine option against {@code m} before any work or output — the level and its options, the
     * adapter (read once, kept), the executor addresses — so a bad flag is the command's only output, not a line
     * after a printed prompt.
     */
    void validate(DecoderModel m) {
        storage();
        adapters(m);
        if (!protectedRun()) {
            refuseCheckWithoutProtection();
            return;
        }
        if (level() == PrivacyLevel.SEED) {
            obfuscationConfig();
        } else {
            blindingConfig();
        }
        if (remote()) {
            connectEndpoints(level());
        }
    }

    private void refuseCheckWithoutProtection() {
        if (check) {
            throw new IllegalArgumentException("--check compares a protected run with plaintext: add --obfuscate");
        }
    }

    /** The executor addresses parsed once (no connection is made before a session is opened). */
    private void connectEndpoints(PrivacyLevel l) {
        if (executorAddresses == null) {
            throw new IllegalArgumentException("--share-executor needs --executor for the first party");
        }
        if (endpoints == null) {
            endpoints = endpoints(executorAddresses);
        }
        if (l == PrivacyLevel.TWO_PARTY) {
            if (shareExecutorAddresses == null) {
                throw new IllegalArgumentException("--privacy two-party with --executor needs --share-executor for the second party");
            }
            if (shareEndpoints == null) {
                shareEndpoints = endpoints(shareExecutorAddresses);
            }
        }
    }

    /** An engine on in-process executors (callers that need retries use {@link #withEngine}). */
    Engine open(DecoderModel m) {
        if (!protectedRun()) {
            refuseCheckWithoutProtection();
            return new Engine(plainForward(m), List.of(), null, 0);
        }
        List<Executor> parties = new ArrayList<>();
        for (int p = 0; p < level().parties(); p++) {
            parties.add(new InProcessExecutor());
        }
        return open(m, parties, true);
    }

    /** An engine whose executors are {@code parties} (closed with the engine when {@code owned}). */
    private Engine open(DecoderModel m, List<Executor> parties, boolean owned) {
        PrivacyLevel l = level();
        long t0 = System.nanoTime();
        List<BoundaryMeter> meters = parties.stream().map(BoundaryMeter::new).toList();
        AutoCloseable ops;
        DecoderForward forward;
        if (l == PrivacyLevel.SEED) {
            ObfuscatedDecoder o = new ObfuscatedDecoder(m.config(), m.weights(), meters.get(0), obfuscationConfig(), adapters(m));
            ops = o;
            forward = new DecoderForward(m.config(), m.weights(), o);
        } else {
            TrustedAttentionDecoder t = TrustedAttentionDecoder.blinded(m.config(), m.weights(), adapters(m),
                    List.copyOf(meters), blindingConfig());
            ops = t;
            forward = new DecoderForward(m.config(), m.weights(), t);
        }
        Engine e = new Engine(forward, meters, () -> {
            ops.close();
            if (owned) {
                meters.forEach(BoundaryMeter::close);
            }
        }, System.nanoTime() - t0);
        lastEngine = e;
        return e;
    }
}
