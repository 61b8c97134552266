package org.privllm.server.http;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.List;

/** A PEM certificate chain and PKCS#8 private key ({@code --tls-cert}/{@code --tls-key}) as an in-memory key store. */
final class PemKeyStore {
    private PemKeyStore() {}

    static KeyStore load(Path certFile, Path keyFile, char[] password) {
        try {
            List<? extends Certificate> chain = List.copyOf(CertificateFactory.getInstance("X.509")
                    .generateCertificates(new ByteArrayInputStream(Files.readAllBytes(certFile))));
            if (chain.isEmpty()) {
                throw new IllegalArgumentException(certFile + ": no certificate in the file");
            }
            String pem = Files.readString(keyFile);
            int b = pem.indexOf("-----BEGIN PRIVATE KEY-----");
            int e = pem.indexOf("-----END PRIVATE KEY-----");
            if (b < 0 || e < b) {
                throw new IllegalArgumentException(keyFile + ": not a PKCS#8 PEM key (BEGIN PRIVATE KEY); convert it with "
                        + "openssl pkcs8 -topk8 -nocrypt");
            }
            byte[] der = Base64.getMimeDecoder().decode(pem.substring(b + 27, e));
            PrivateKey key = null;
            for (String alg : List.of("RSA", "EC", "Ed25519", "EdDSA")) {
                try {
                    key = KeyFactory.getInstance(alg).generatePrivate(new PKCS8EncodedKeySpec(der));
                    break;
                } catch (GeneralSecurityException ignored) {
                    // try the next algorithm
                }
            }
            if (key == null) {
                throw new IllegalArgumentException(keyFile + ": unsupported private key algorithm");
            }
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setKeyEntry("server", key, password, chain.toArray(new Certificate[0]));
            return ks;
        } catch (IOException | GeneralSecurityException e) {
            throw new IllegalArgumentException("cannot use the TLS files: " + e.getMessage(), e);
        }
    }
}
