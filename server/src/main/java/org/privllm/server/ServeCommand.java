package org.privllm.server;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.privllm.model.DecoderModel;
import org.privllm.model.tokenizer.Tokenizer;
import org.privllm.model.tokenizer.Tokenizers;
import org.privllm.server.chat.ChatTemplate;
import org.privllm.server.engine.BatchStepper;
import org.privllm.server.engine.LaneFactory;
import org.privllm.server.engine.LaneStepper;
import org.privllm.server.engine.Lanes;
import org.privllm.server.engine.RaggedStepper;
import org.privllm.server.engine.Scheduler;
import org.privllm.server.http.OpenAiServer;
import org.privllm.server.http.ServerMetrics;
import org.privllm.trusted.mask.MaskFamily;
import org.privllm.trusted.obf.ObfuscationConfig;
import org.privllm.trusted.obf.ObfuscationMode;
import org.privllm.trusted.privacy.BlindingConfig;
import org.privllm.trusted.privacy.PrivacyLevel;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code privllm serve}: the trusted domain as an OpenAI-compatible server. Prints one line when it accepts
 * requests; SIGTERM stops it cleanly (requests in flight finish within the grace period or get an error object,
 * executor sessions are closed).
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Serve the model over an OpenAI-compatible HTTP API (/v1/completions, /v1/chat/completions, "
                + "/v1/models, /health, /metrics), plaintext or at a --privacy level.")
public final class ServeCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR",
            description = "HuggingFace checkpoint directory, GPT-2 or the Llama family (config.json, model.safetensors or "
                    + "shards; tokenizer.json or vocab.json + merges.txt for text; tokenizer_config.json's chat_template "
                    + "for /v1/chat/completions).")
    Path model;

    @Option(names = "--served-model-name", paramLabel = "NAME", description = "The model id clients name (default: the directory's name).")
    String servedName;

    @Option(names = "--privacy", paramLabel = "seed|strong|two-party",
            description = "Run protected on untrusted executors at this level (default: plaintext; strong when --executor is given).")
    String privacy;

    @Option(names = "--mode", paramLabel = "mask|pad", description = "Seed level: obfuscation mode (default mask).")
    String mode;

    @Option(names = "--masks", paramLabel = "FAMILY", description = "Seed level: mask family (default orthogonal).")
    String masks;

    @Option(names = "--pad-ratio", paramLabel = "RHO", description = "Strong and two-party: pad size over the input RMS (default 2^20).")
    Double padRatio;

    @Option(names = "--pad-pool", paramLabel = "N", description = "Strong: precomputed pad products per layer and shape.")
    Integer padPool;

    @Option(names = "--row-bucket", paramLabel = "N", description = "Strong and two-party: every blinded call's rows rounded up "
            + "to a multiple of N with rows of pad alone, so the executors see a step's row count (which holds each "
            + "admitted prompt's length) in buckets of N (default 1).")
    Integer rowBucket;

    @Option(names = "--executor", paramLabel = "HOST:PORT[,HOST:PORT…]",
            description = "Executor process(es) (privllm executor); a failed request moves down the list (see --retries).")
    String executors;

    @Option(names = "--share-executor", paramLabel = "HOST:PORT[,HOST:PORT…]", description = "--privacy two-party: the second party.")
    String shareExecutors;

    @Option(names = "--retries", defaultValue = "1", paramLabel = "N",
            description = "Redo a request on a fresh session of the next executor up to N times (default ${DEFAULT-VALUE}).")
    int retries;

    @Option(names = "--deadline-ms", defaultValue = "30000", paramLabel = "MS", description = "Per-call deadline for a remote executor.")
    long deadlineMs;

    @Option(names = "--executor-tls-ca", paramLabel = "FILE", description = "Trust this CA (PEM) for the executors' TLS.")
    Path executorTlsCa;

    @Option(names = "--executor-tls-cert", paramLabel = "FILE", description = "Client certificate (PEM) for executors with mutual TLS.")
    Path executorTlsCert;

    @Option(names = "--executor-tls-key", paramLabel = "FILE", description = "Client key (PEM) for executors with mutual TLS.")
    Path executorTlsKey;

    @Option(names = "--no-integrity", description = "Skip Freivalds/attention checks of remote executors (not recommended).")
    boolean noIntegrity;

    @Option(names = "--listen", defaultValue = "127.0.0.1:8080", paramLabel = "HOST:PORT",
            description = "Address to listen on (default ${DEFAULT-VALUE}: loopback only; port 0 picks a free one).")
    String listen;

    @Option(names = "--max-batch", defaultValue = "4", paramLabel = "N", description = "Sequences decoded together (default ${DEFAULT-VALUE}).")
    int maxBatch;

    @Option(names = "--max-step-tokens", defaultValue = "" + RaggedStepper.DEFAULT_MAX_STEP_TOKENS, paramLabel = "N",
            description = "Plaintext, strong, two-party: new prompt tokens one batched step takes at most (whole prompts, "
                    + "at least one per step; the rest join at the next step; default ${DEFAULT-VALUE}).")
    int maxStepTokens;

    @Option(names = "--max-queue", defaultValue = "64", paramLabel = "N",
            description = "Requests waiting for a slot before new ones get 429 (default ${DEFAULT-VALUE}).")
    int maxQueue;

    @Option(names = "--api-key-file", paramLabel = "FILE", description = "Require Authorization: Bearer <the file's first line>.")
    Path apiKeyFile;

    @Option(names = "--tls-cert", paramLabel = "FILE", description = "Serve HTTPS with this certificate chain (PEM).")
    Path tlsCert;

    @Option(names = "--tls-key", paramLabel = "FILE", description = "The certificate's private key (PEM, PKCS#8).")
    Path tlsKey;

    @Option(names = "--log-content", description = "Log prompts (token ids) and outputs (off by default: logs carry counts and timings only).")
    boolean logContent;

    @Option(names = "--max-body-bytes", defaultValue = "4194304", paramLabel = "N", description = "Largest request body (default ${DEFAULT-VALUE}).")
    long maxBodyBytes;

    @Option(names = "--body-timeout", defaultValue = "10", paramLabel = "S",
            description = "Seconds a client may take to send its request body (slow clients get 408; default ${DEFAULT-VALUE}).")
    long bodyTimeout;

    @Option(names = "--idle-timeout", defaultValue = "30", paramLabel = "S",
            description = "Seconds a connection may stay silent (slow-loris clients are cut off; default ${DEFAULT-VALUE}).")
    long idleTimeout;

    @Option(names = "--request-timeout", defaultValue = "600", paramLabel = "S", description = "Per-request deadline in seconds (default ${DEFAULT-VALUE}).")
    long requestTimeout;

    @Option(names = "--shutdown-grace", defaultValue = "30", paramLabel = "S",
            description = "On SIGTERM, seconds for requests in flight to finish (default ${DEFAULT-VALUE}).")
    long shutdownGrace;

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** The command line with the project's error convention ({@code error: …} on stderr, exit 1). */
    public static int execute(String... args) {
        CommandLine cl = new CommandLine(new ServeCommand());
        cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
            cmd.getErr().println("error: " + oneLine(e));
            return 1;
        });
        return cl.execute(args);
    }

    @Override
    public Integer call() throws Exception {
        OpenAiServer server = start(System.out, System.err);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            System.err.println("privllm serve stopped");
            stopped.countDown();
        }, "privllm-serve-shutdown"));
        stopped.await();
        return 0;
    }

    /** The privacy level: --privacy, else seed when a seed option is named, else strong with --executor, else plaintext. */
    PrivacyLevel level() {
        if (privacy != null) {
            PrivacyLevel l = PrivacyLevel.parse(privacy);
            if (l != PrivacyLevel.SEED && (mode != null || masks != null)) {
                throw new IllegalArgumentException("--mode and --masks configure --privacy seed, not " + l);
            }
            return l;
        }
        if (mode != null || masks != null) {
            return PrivacyLevel.SEED;
        }
        return executors != null ? PrivacyLevel.STRONG : null;
    }

    Lanes.Settings engineSettings() {
        PrivacyLevel l = level();
        if (l == null) {
            if (padRatio != null || padPool != null || rowBucket != null || shareExecutors != null) {
                throw new IllegalArgumentException("--pad-ratio, --pad-pool, --row-bucket and --share-executor need a --privacy level");
            }
            return Lanes.Settings.plaintext();
        }
        ObfuscationConfig seed = ObfuscationConfig.defaults();
        BlindingConfig blinding = null;
        if (l == PrivacyLevel.SEED) {
            if (padRatio != null || rowBucket != null) {
                throw new IllegalArgumentException("--pad-ratio and --row-bucket apply to --privacy strong and two-party");
            }
            seed = seed.withMode(switch (mode == null ? "mask" : mode) {
                case "mask" -> ObfuscationMode.MASK;
                case "pad" -> ObfuscationMode.PAD;
                default -> throw new IllegalArgumentException("--mode must be mask or pad, got '" + mode + "'");
            }).withFamily(MaskFamily.parse(masks == null ? "orthogonal" : masks));
            if (padPool != null) {
                seed = seed.withPadPool(padPool);
            }
        } else {
            blinding = BlindingConfig.of(l);
            if (padRatio != null) {
                blinding = blinding.withRho(padRatio);
            }
            if (rowBucket != null) {
                blinding = blinding.withRowBucket(rowBucket);
            }
            if (padPool != null) {
                blinding = blinding.withPadPool(padPool);
            }
        }
        return new Lanes.Settings(l, seed, blinding, executors, shareExecutors, retries, Duration.ofMillis(deadlineMs),
                executorTlsCa, executorTlsCert, executorTlsKey, !noIntegrity);
    }

    OpenAiServer.Settings httpSettings(String modelId) {
        int colon = listen.lastIndexOf(':');
        if (colon <= 0) {
            throw new IllegalArgumentException("--listen must be HOST:PORT, got '" + listen + "'");
        }
        String host = listen.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        int port;
        try {
            port = Integer.parseInt(listen.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--listen must be HOST:PORT, got '" + listen + "'");
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("--listen port must be in [0, 65535], got " + port);
        }
        if (requestTimeout < 1 || shutdownGrace < 0 || bodyTimeout < 1 || idleTimeout < 1) {
            throw new IllegalArgumentException("--request-timeout, --body-timeout and --idle-timeout must be >= 1, --shutdown-grace >= 0");
        }
        OpenAiServer.Settings s = OpenAiServer.Settings.defaults(modelId).withListen(host, port)
                .withLimits(maxBodyBytes, Duration.ofSeconds(bodyTimeout), Duration.ofSeconds(idleTimeout),
                        Duration.ofSeconds(requestTimeout))
                .withShutdownGrace(Duration.ofSeconds(shutdownGrace)).withTls(tlsCert, tlsKey).withLogContent(logContent);
        if (apiKeyFile != null) {
            try {
                String key = Files.readAllLines(apiKeyFile).stream().findFirst().orElse("").strip();
                if (key.isEmpty()) {
                    throw new IllegalArgumentException(apiKeyFile + ": the API key file is empty");
                }
                s = s.withApiKey(key);
            } catch (IOException e) {
                throw new UncheckedIOException(apiKeyFile + ": cannot read the API key file", e);
            }
        }
        return s;
    }

    /**
     * Fails in one line when the address cannot be bound — before the engine warms up, and without Jetty and
     * Javalin logging their own report of it. (A race with another process binding it meanwhile still fails below.)
     */
    private static void checkBindable(String host, int port) {
        if (port == 0) {
            return;
        }
        try (java.net.ServerSocket s = new java.net.ServerSocket()) {
            s.setReuseAddress(true); // as Jetty's connector: a port in TIME_WAIT is free, a listening one is not
            s.bind(new java.net.InetSocketAddress(host, port));
        } catch (IOException | IllegalArgumentException | SecurityException e) {
            throw new IllegalArgumentException("cannot listen on " + host + ":" + port + ": " + oneLine(e));
        }
    }

    /** Loads the model, opens the engine, starts listening and prints the ready line on {@code out}. */
    public OpenAiServer start(PrintStream out, PrintStream log) {
        if (maxBatch < 1 || maxQueue < 0) {
            throw new IllegalArgumentException("--max-batch must be >= 1 and --max-queue >= 0");
        }
        Lanes.Settings es = engineSettings();
        // weights read by the engine: a plaintext one keeps them packed only, a protected one asks for float32
        DecoderModel m = DecoderModel.open(model);
        String id = servedName != null ? servedName : model.toAbsolutePath().normalize().getFileName().toString();
        OpenAiServer.Settings hs = httpSettings(id);
        checkBindable(hs.host(), hs.port());
        Tokenizer tok = Tokenizers.present(model) ? Tokenizers.load(model) : null;
        int[] stopIds = Tokenizers.stopIds(m.config(), tok); // as privllm generate: the config's and the tokenizer's
        ChatTemplate template = ChatTemplate.load(model);
        LaneFactory lanes = Lanes.create(m, es);
        // the seed level's masks and cache are per session: one lane per request, never a shared call
        BatchStepper stepper = es.level() == PrivacyLevel.SEED ? new LaneStepper(lanes, maxBatch)
                : new RaggedStepper(lanes, maxBatch, maxStepTokens);
        ServerMetrics metrics = new ServerMetrics();
        Scheduler scheduler;
        try {
            if (stepper instanceof LaneStepper l) {
                l.warmUp();
            } else {
                ((RaggedStepper) stepper).warmUp();
            }
            scheduler = new Scheduler(stepper, maxQueue, metrics);
        } catch (RuntimeException e) {
            stepper.close();
            throw e;
        }
        OpenAiServer server;
        try {
            server = OpenAiServer.start(scheduler, new OpenAiServer.Model(id, m.config().vocab(), m.config().positions(),
                    stopIds, tok, template), metrics, hs, lanes.describe(), log);
        } catch (RuntimeException e) {
            scheduler.close(Duration.ZERO);
            throw new IllegalArgumentException("cannot listen on " + listen + ": " + oneLine(e), e);
        }
        String host = hs.host().contains(":") ? "[" + hs.host() + "]" : hs.host();
        out.println("privllm serve listening on " + (server.tls() ? "https" : "http") + "://" + host + ":" + server.port()
                + " (model " + id + ", " + lanes.describe() + ", max batch " + maxBatch
                + (stepper instanceof RaggedStepper ? ", batched" : ", one session per request") + ")");
        out.flush();
        return server;
    }

    static String oneLine(Throwable e) {
        Throwable t = e;
        while (t.getMessage() == null && t.getCause() != null) {
            t = t.getCause();
        }
        String m = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
        return m.lines().findFirst().orElse("");
    }
}
