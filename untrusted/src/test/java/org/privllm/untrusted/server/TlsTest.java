package org.privllm.untrusted.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.privllm.protocol.grpc.ExecutorCallException;
import org.privllm.protocol.grpc.GrpcExecutorClient;
import org.privllm.protocol.grpc.GrpcExecutorServer;
import org.privllm.protocol.grpc.ServerLimits;
import org.privllm.protocol.grpc.TlsFiles;
import org.privllm.untrusted.InProcessExecutor;

/** Server TLS and mutual TLS with self-signed certificates made by openssl in the test. */
class TlsTest {
    @TempDir
    static Path dir;

    /** A self-signed certificate (its own CA) for 127.0.0.1/localhost, with a PKCS#8 key. */
    private static void selfSigned(String name) throws Exception {
        Process p = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-nodes", "-days", "2", "-subj", "/CN=" + name, "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                "-keyout", dir.resolve(name + ".key").toString(), "-out", dir.resolve(name + ".pem").toString())
                .redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        assertThat(p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0).as("openssl made " + name).isTrue();
    }

    @BeforeAll
    static void certificates() throws Exception {
        selfSigned("server");
        selfSigned("client");
        selfSigned("stranger");
    }

    private static GrpcExecutorServer server(Path clientCa) throws Exception {
        return GrpcExecutorServer.start(new InetSocketAddress("127.0.0.1", 0), InProcessExecutor::new, ServerLimits.defaults(),
                TlsFiles.server(dir.resolve("server.pem"), dir.resolve("server.key"), clientCa));
    }

    private static GrpcExecutorClient client(GrpcExecutorServer s, Path ca, String cert) {
        return GrpcExecutorClient.connect("127.0.0.1:" + s.port(),
                TlsFiles.client(ca, cert == null ? null : dir.resolve(cert + ".pem"), cert == null ? null : dir.resolve(cert + ".key")),
                GrpcExecutorClient.Options.defaults().withCallTimeout(Duration.ofSeconds(10)));
    }

    @Test
    void serverTlsWorksForATrustingClientAndFailsForOthers() throws Exception {
        try (GrpcExecutorServer s = server(null)) {
            try (GrpcExecutorClient c = client(s, dir.resolve("server.pem"), null)) {
                c.closeSession(c.openSession());
            }
            try (GrpcExecutorClient c = client(s, dir.resolve("stranger.pem"), null)) {
                assertThatThrownBy(c::openSession).isInstanceOfSatisfying(ExecutorCallException.class,
                        e -> assertThat(e.reason()).isEqualTo(ExecutorCallException.Reason.UNAVAILABLE));
            }
            try (GrpcExecutorClient c = client(s, null, null)) { // plaintext against a TLS server
                assertThatThrownBy(c::openSession).isInstanceOf(ExecutorCallException.class);
            }
        }
    }

    @Test
    void mutualTlsRequiresAClientCertificateFromTheClientCa() throws Exception {
        try (GrpcExecutorServer s = server(dir.resolve("client.pem"))) {
            try (GrpcExecutorClient c = client(s, dir.resolve("server.pem"), "client")) {
                c.closeSession(c.openSession());
            }
            try (GrpcExecutorClient c = client(s, dir.resolve("server.pem"), null)) {
                assertThatThrownBy(c::openSession).isInstanceOf(ExecutorCallException.class);
            }
            try (GrpcExecutorClient c = client(s, dir.resolve("server.pem"), "stranger")) {
                assertThatThrownBy(c::openSession).isInstanceOf(ExecutorCallException.class);
            }
        }
    }

    @Test
    void badTlsOptionsAreOneLineErrors() {
        assertThatThrownBy(() -> TlsFiles.server(dir.resolve("server.pem"), null, null))
                .hasMessage("TLS needs both --tls-cert and --tls-key");
        assertThatThrownBy(() -> TlsFiles.server(dir.resolve("missing.pem"), dir.resolve("server.key"), null))
                .hasMessageContaining("cannot read TLS file");
        assertThatThrownBy(() -> TlsFiles.client(dir.resolve("server.key"), null, null))
                .hasMessageContaining("holds no PEM CERTIFICATE");
        assertThatThrownBy(() -> TlsFiles.server(dir.resolve("server.key"), dir.resolve("server.pem"), null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("cannot use TLS files");
    }
}
