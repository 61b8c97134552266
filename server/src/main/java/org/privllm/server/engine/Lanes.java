package org.privllm.server.engine;

import io.grpc.ChannelCredentials;
import io.grpc.InsecureChannelCredentials;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.privllm.model.DecoderForward;
import org.privllm.model.DecoderModel;
import org.privllm.model.PlainDecoderOps;
import org.privllm.protocol.Executor;
import org.privllm.protocol.grpc.ExecutorCallException;
import org.privllm.protocol.grpc.ExecutorEndpoints;
import org.privllm.protocol.grpc.GrpcExecutorClient;
import org.privllm.protocol.grpc.TlsFiles;
import org.privllm.trusted.obf.ObfuscatedDecoder;
import org.privllm.trusted.integrity.IntegrityException;
import org.privllm.trusted.integrity.VerifyingExecutor;
import org.privllm.trusted.obf.ObfuscationConfig;
import org.privllm.trusted.privacy.BlindingConfig;
import org.privllm.trusted.privacy.PrivacyLevel;
import org.privllm.trusted.privacy.TrustedAttentionDecoder;
import org.privllm.untrusted.InProcessExecutor;

/**
 * Lane factories for each {@code --privacy} level, built the way {@code privllm generate} builds its engine
 * ({@code cli/…/EngineOptions}): plaintext {@link PlainDecoderOps}; the seed level's {@link ObfuscatedDecoder}; the strong
 * and two-party levels' {@link TrustedAttentionDecoder#blinded}. Executors are in-process unless addresses are given;
 * remote ones are wrapped in a {@link VerifyingExecutor} (unless integrity checks are off), attempt {@code n} uses
 * the {@code n}-th address of each list, and dead, stalled or lying executors are retryable.
 */
public final class Lanes {
    private Lanes() {}

    /**
     * Where and how protected lanes run.
     *
     * @param level      null for plaintext
     * @param seed       the seed level's scheme (ignored at other levels)
     * @param blinding   the strong/two-party levels' pads (ignored at other levels)
     * @param executors  {@code HOST:PORT[,…]} of the first party, or null for in-process executors
     * @param shares     {@code HOST:PORT[,…]} of the second party ({@code two-party} with remote executors)
     */
    public record Settings(PrivacyLevel level, ObfuscationConfig seed, BlindingConfig blinding, String executors,
                           String shares, int retries, Duration deadline, Path tlsCa, Path tlsCert, Path tlsKey,
                           boolean integrity) {
        public Settings {
            if (retries < 0) {
                throw new IllegalArgumentException("--retries must be >= 0, got " + retries);
            }
            if (level == null && (executors != null || shares != null)) {
                throw new IllegalArgumentException("--executor needs a --privacy level");
            }
            if (shares != null && level != PrivacyLevel.TWO_PARTY) {
                throw new IllegalArgumentException("--share-executor is the second party of --privacy two-party");
            }
            if (level == PrivacyLevel.TWO_PARTY && (executors == null) != (shares == null)) {
                throw new IllegalArgumentException("--privacy two-party with remote executors needs both --executor and --share-executor");
            }
        }

        public static Settings plaintext() {
            return new Settings(null, null, null, null, null, 0, Duration.ofSeconds(30), null, null, null, true);
        }

        public static Settings inProcess(PrivacyLevel level) {
            return new Settings(level, ObfuscationConfig.defaults(),
                    level == PrivacyLevel.SEED ? null : BlindingConfig.of(level), null, null, 0, Duration.ofSeconds(30),
                    null, null, null, true);
        }

        public Settings withExecutors(String first, String second, int retries) {
            return new Settings(level, seed, blinding, first, second, retries, deadline, tlsCa, tlsCert, tlsKey, integrity);
        }
    }

    /** The lane factory for {@code settings} over {@code model}. */
    public static LaneFactory create(DecoderModel model, Settings settings) {
        return settings.level() == null ? new Plain(model) : new Protected(model, settings);
    }

    private static final class Plain implements LaneFactory {
        private final DecoderModel model;

        Plain(DecoderModel model) {
            this.model = model;
        }

        @Override
        public Lane open(int attempt) {
            return new Lane(model.plainForward(),
                    null);
        }

        @Override
        public boolean reusable() {
            return true;
        }

        @Override
        public boolean retryable(RuntimeException e) {
            return false;
        }

        @Override
        public int retries() {
            return 0;
        }

        @Override
        public int vocab() {
            return model.config().vocab();
        }

        @Override
        public int positions() {
            return model.config().positions();
        }

        @Override
        public String describe() {
            return "plaintext";
        }
    }

    private static final class Protected implements LaneFactory {
        private final DecoderModel model;
        private final Settings s;
        private final ExecutorEndpoints first;
        private final ExecutorEndpoints second;

        Protected(DecoderModel model, Settings s) {
            this.model = model;
            this.s = s;
            if (s.level() == PrivacyLevel.SEED && s.seed() == null || s.level() != PrivacyLevel.SEED && s.blinding() == null) {
                throw new IllegalArgumentException("no scheme configured for --privacy " + s.level());
            }
            ExecutorEndpoints a = null;
            ExecutorEndpoints b = null;
            if (s.executors() != null) {
                if ((s.tlsCert() == null) != (s.tlsKey() == null)) {
                    throw new IllegalArgumentException("--executor-tls-cert and --executor-tls-key go together");
                }
                ChannelCredentials creds = s.tlsCa() == null && s.tlsCert() == null ? InsecureChannelCredentials.create()
                        : TlsFiles.client(s.tlsCa(), s.tlsCert(), s.tlsKey());
                var options = GrpcExecutorClient.Options.defaults().withCallTimeout(s.deadline());
                a = ExecutorEndpoints.parse(s.executors(), creds, options);
                if (s.shares() != null) {
                    b = ExecutorEndpoints.parse(s.shares(), creds, options);
                }
            }
            this.first = a;
            this.second = b;
        }

        private Executor checked(Executor remote) {
            return s.integrity() ? new VerifyingExecutor(remote) : remote;
        }

        @Override
        public Lane open(int attempt) {
            List<Executor> parties = new ArrayList<>();
            List<Executor> owned = new ArrayList<>();
            if (first == null) {
                for (int p = 0; p < s.level().parties(); p++) {
                    Executor e = new InProcessExecutor();
                    parties.add(e);
                    owned.add(e);
                }
            } else {
                parties.add(checked(first.forAttempt(attempt)));
                if (s.level() == PrivacyLevel.TWO_PARTY) {
                    parties.add(checked(second.forAttempt(attempt)));
                }
            }
            AutoCloseable ops;
            DecoderForward forward;
            try {
                if (s.level() == PrivacyLevel.SEED) {
                    ObfuscatedDecoder o = new ObfuscatedDecoder(model.config(), model.weights(), parties.get(0), s.seed(), Map.of());
                    ops = o;
                    forward = new DecoderForward(model.config(), model.weights(), o);
                } else {
                    TrustedAttentionDecoder t = TrustedAttentionDecoder.blinded(model.config(), model.weights(), Map.of(), parties,
                            s.blinding());
                    ops = t;
                    forward = new DecoderForward(model.config(), model.weights(), t);
                }
            } catch (RuntimeException e) {
                owned.forEach(Executor::close);
                throw e;
            }
            return new Lane(forward, () -> {
                try {
                    ops.close();
                } finally {
                    owned.forEach(Executor::close);
                }
            });
        }

        @Override
        public boolean reusable() {
            return s.level() != PrivacyLevel.SEED;
        }

        @Override
        public boolean retryable(RuntimeException e) {
            if (first == null) {
                return false; // an in-process executor does not die on its own: a failure is a bug, not a fault
            }
            return e instanceof ExecutorCallException c ? c.retryable() : e instanceof IntegrityException;
        }

        @Override
        public int retries() {
            return s.retries();
        }

        @Override
        public int vocab() {
            return model.config().vocab();
        }

        @Override
        public int positions() {
            return model.config().positions();
        }

        @Override
        public String describe() {
            return "privacy " + s.level().label() + " on " + (first == null
                    ? (s.level().parties() == 2 ? "two in-process executors" : "an in-process executor")
                    : "grpc " + s.executors() + (s.shares() != null ? " + " + s.shares() : ""));
        }

        @Override
        public void close() {
            if (first != null) {
                first.close();
            }
            if (second != null) {
                second.close();
            }
        }
    }
}
