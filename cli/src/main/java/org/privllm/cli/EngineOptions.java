package org.privllm.cli;

import java.util.Map;
import org.privllm.model.Gpt2Forward;
import org.privllm.model.Gpt2Model;
import org.privllm.model.Gpt2Weights;
import org.privllm.model.PlainOps;
import org.privllm.trusted.lora.LoraAdapter;
import org.privllm.trusted.lora.LoraMerge;
import org.privllm.trusted.lora.LowRankAdapter;
import org.privllm.protocol.Executor;
import org.privllm.trusted.gpt2.BoundaryMeter;
import org.privllm.trusted.gpt2.ObfuscatedGpt2;
import org.privllm.trusted.obf.MaskScope;
import org.privllm.trusted.obf.ObfuscationConfig;
import org.privllm.trusted.obf.ObfuscationMode;
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
 * Where the forward pass runs: plaintext (default) or {@code --obfuscate} on an untrusted executor
 * (in-process unless {@code --executor} names one), with the scheme's options.
 */
final class EngineOptions {
    @Option(names = "--obfuscate", description = "Run on the untrusted executor behind masks.")
    boolean obfuscate;

    @Option(names = "--mode", defaultValue = "mask", paramLabel = "mask|pad",
            description = "Obfuscation mode (default ${DEFAULT-VALUE}).")
    String mode;

    @Mixin MaskFamilyOption masks = new MaskFamilyOption();

    @Option(names = "--scope", defaultValue = "session", paramLabel = "session|call",
            description = "Mask scope of the MLP layers (attention and head are always per session).")
    String scope;

    @Option(names = "--pad-pool", paramLabel = "N", description = "Pad mode: draw pads from a precomputed pool holding up to N per layer and input size (refilled in the background; bench refills it between repetitions).")
    Integer padPool;

    @Option(names = "--mask-seed", paramLabel = "S", description = "Seed masks and pads (experiments only; default: SecureRandom).")
    Long maskSeed;

    @Option(names = "--check", description = "Also run plaintext in this process and report the largest logit error.")
    boolean check;

    @Option(names = "--lora", paramLabel = "DIR", description = "Private PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors); "
            + "masked on the executor, never merged there.")
    java.nio.file.Path lora;

    private Map<String, LowRankAdapter> adapters;

    /** The adapter's layers, loaded once (empty without --lora). */
    Map<String, LowRankAdapter> adapters(Gpt2Model m) {
        if (adapters == null) {
            adapters = lora == null ? Map.of() : LoraAdapter.load(lora, m.config()).layers();
        }
        return adapters;
    }

    /** The plaintext engine (the adapter merged in the trusted domain when given): the reference for --check. */
    Gpt2Forward plainForward(Gpt2Model m) {
        Gpt2Weights w = LoraMerge.merged(m.weights(), adapters(m));
        return new Gpt2Forward(m.config(), w, new PlainOps(m.config(), w));
    }

    /** An engine over a model: its forward pass and, when obfuscated, the boundary meter. */
    record Engine(Gpt2Forward forward, BoundaryMeter meter, AutoCloseable resources, long setupNanos) implements AutoCloseable {
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

    ObfuscationConfig obfuscationConfig() {
        ObfuscationMode m = switch (mode) {
            case "mask" -> ObfuscationMode.MASK;
            case "pad" -> ObfuscationMode.PAD;
            default -> throw new IllegalArgumentException("--mode must be mask or pad, got '" + mode + "'");
        };
        MaskScope s = switch (scope) {
            case "session" -> MaskScope.PER_SESSION;
            case "call" -> MaskScope.PER_CALL;
            default -> throw new IllegalArgumentException("--scope must be session or call, got '" + scope + "'");
        };
        ObfuscationConfig c = ObfuscationConfig.defaults().withMode(m).withScope(s).withFamily(masks.family());
        if (padPool != null) {
            if (m != ObfuscationMode.PAD) {
                throw new IllegalArgumentException("--pad-pool needs --mode pad");
            }
            c = c.withPadPool(padPool);
        }
        return maskSeed != null ? c.withSeed(maskSeed) : c;
    }

    @Option(names = "--executor", paramLabel = "HOST:PORT[,HOST:PORT…]",
            description = "Use the executor process(es) at these addresses (gRPC; see `privllm executor`); retries move down the list.")
    String executorAddresses;

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

    boolean remote() {
        return executorAddresses != null;
    }

    private ExecutorEndpoints endpoints() {
        if (endpoints == null) {
            if ((tlsCert == null) != (tlsKey == null)) {
                throw new IllegalArgumentException("--tls-cert and --tls-key go together");
            }
            var creds = tlsCa == null && tlsCert == null ? InsecureChannelCredentials.create()
                    : TlsFiles.client(tlsCa, tlsCert, tlsKey);
            var options = GrpcExecutorClient.Options.defaults().withCallTimeout(java.time.Duration.ofMillis(deadlineMs));
            endpoints = ExecutorEndpoints.parse(executorAddresses, creds, options);
        }
        return endpoints;
    }

    /** Where the executor runs, for reports. */
    String executorName() {
        return remote() ? "grpc " + executorAddresses : "in-process";
    }

    /**
     * Runs {@code work} on an engine over this model. With {@code --executor}, every attempt opens a
     * fresh session (re-upload, re-prefill) on the next address, results are integrity-checked, and a
     * dead, stalled or lying executor is retried {@code --retries} times before a one-line error.
     */
    <T> T withEngine(Gpt2Model m, java.util.function.Function<Engine, T> work) {
        if (!obfuscate || !remote()) {
            if (remote()) {
                throw new IllegalArgumentException("--executor runs the obfuscated pipeline: add --obfuscate");
            }
            try (Engine e = open(m, new InProcessExecutor())) {
                return work.apply(e);
            }
        }
        return endpoints().withRetries(retries, ex -> ex instanceof IntegrityException, ex -> {
            try (Engine e = open(m, noIntegrity ? ex : new VerifyingExecutor(ex))) {
                return work.apply(e);
            }
        });
    }

    /** Closes remote connections (after the last {@link #withEngine}). */
    void closeEndpoints() {
        if (endpoints != null) {
            endpoints.close();
        }
    }

    private BoundaryMeter lastMeter;

    /** Zeroes the boundary counters of the engine opened last (to exclude warm-up from measurements). */
    void resetMeter() {
        if (lastMeter != null) {
            lastMeter.reset();
        }
    }

    /** An engine on an in-process executor (callers that need retries use {@link #withEngine}). */
    Engine open(Gpt2Model m) {
        return open(m, new InProcessExecutor());
    }

    private Engine open(Gpt2Model m, Executor executor) {
        if (!obfuscate) {
            if (check) {
                throw new IllegalArgumentException("--check compares an --obfuscate run with plaintext: add --obfuscate");
            }
            return new Engine(plainForward(m), null, null, 0);
        }
        ObfuscationConfig c = obfuscationConfig();
        long t0 = System.nanoTime();
        BoundaryMeter meter = new BoundaryMeter(executor);
        lastMeter = meter;
        ObfuscatedGpt2 ops = new ObfuscatedGpt2(m.config(), m.weights(), meter, c, adapters(m));
        // A remote client belongs to the endpoint list (reused by retries); only in-process executors die with the engine.
        boolean ownsExecutor = executor instanceof InProcessExecutor;
        return new Engine(new Gpt2Forward(m.config(), m.weights(), ops), meter, () -> {
            ops.close();
            if (ownsExecutor) {
                meter.close();
            }
        }, System.nanoTime() - t0);
    }
}
