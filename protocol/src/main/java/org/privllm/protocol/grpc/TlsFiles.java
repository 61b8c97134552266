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
            TlsServerCredentials.Builder b = TlsServerCredentials.newBuilder().keyManager(readable(cert).toFile(),
                    readable(key).toFile());
            if (clientCa != null) {
                b.trustManager(readable(clientCa).toFile()).clientAuth(TlsServerCredentials.ClientAuth.REQUIRE);
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
            TlsChannelCredentials.Builder b = TlsChannelCredentials.newBuilder().trustManager(readable(ca).toFile());
            if (cert != null) {
                b.keyManager(readable(cert).toFile(), readable(key).toFile());
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

    private static String oneLine(Exception e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return m.lines().findFirst().orElse("");
    }
}
