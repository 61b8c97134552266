package org.privllm.protocol.grpc;

import io.grpc.ChannelCredentials;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ServerCredentials;
import io.grpc.TlsChannelCredentials;
import io.grpc.TlsServerCredentials;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Credentials from PEM files: server certificate and PKCS#8 key, CA bundles, client certificates. */
public final class TlsFiles {
    private TlsFiles() {}

    /**
     * Plaintext when {@code cert} is null; TLS with {@code cert}/{@code key}; mutual TLS (client
     * certificates required and checked against {@code clientCa}) when {@code clientCa} is given.
     */
    public static ServerCredentials server(Path cert, Path key, Path clientCa) {
        if (cert == null && key == null) {
            if (clientCa != null) {
                throw new IllegalArgumentException("--tls-client-ca needs --tls-cert and --tls-key");
            }
            return InsecureServerCredentials.create();
        }
        if (cert == null || key == null) {
            throw new IllegalArgumentException("TLS needs both --tls-cert and --tls-key");
        }
        try {
            TlsServerCredentials.Builder b = TlsServerCredentials.newBuilder().keyManager(pem(cert, "CERTIFICATE").toFile(),
                    pem(key, "PRIVATE KEY").toFile());
            if (clientCa != null) {
                b.trustManager(pem(clientCa, "CERTIFICATE").toFile()).clientAuth(TlsServerCredentials.ClientAuth.REQUIRE);
            }
            return b.build();
        } catch (IOException | IllegalArgumentException e) {
            throw new IllegalArgumentException("cannot use TLS files: " + oneLine(e), e);
        }
    }

    /**
     * Plaintext when {@code ca} is null; otherwise TLS trusting {@code ca}, presenting {@code cert}/{@code key}
     * as client certificate when given (for a server with a client CA).
     */
    public static ChannelCredentials client(Path ca, Path cert, Path key) {
        if ((cert == null) != (key == null)) {
            throw new IllegalArgumentException("a client certificate needs both --tls-client-cert and --tls-client-key");
        }
        if (ca == null) {
            if (cert != null) {
                throw new IllegalArgumentException("a client certificate needs --tls-ca");
            }
            return InsecureChannelCredentials.create();
        }
        try {
            TlsChannelCredentials.Builder b = TlsChannelCredentials.newBuilder().trustManager(pem(ca, "CERTIFICATE").toFile());
            if (cert != null) {
                b.keyManager(pem(cert, "CERTIFICATE").toFile(), pem(key, "PRIVATE KEY").toFile());
            }
            return b.build();
        } catch (IOException | IllegalArgumentException e) {
            throw new IllegalArgumentException("cannot use TLS files: " + oneLine(e), e);
        }
    }

    private static Path readable(Path p) {
        if (!Files.isReadable(p)) {
            throw new IllegalArgumentException("cannot read TLS file " + p);
        }
        return p;
    }

    /** A readable PEM file holding a block whose label ends with {@code label} (checked now, not at the first handshake). */
    private static Path pem(Path p, String label) throws IOException {
        String text = Files.readString(readable(p), java.nio.charset.StandardCharsets.US_ASCII);
        if (!text.matches("(?s).*-----BEGIN [A-Z ]*" + label + "-----.*")) {
            throw new IllegalArgumentException(p + " holds no PEM " + label);
        }
        return p;
    }

    private static String oneLine(Exception e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return m.lines().findFirst().orElse("");
    }
}
