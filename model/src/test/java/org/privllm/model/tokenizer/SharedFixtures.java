package org.privllm.model.tokenizer;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/** Finds {@code ../shared/fixtures/…}; tests that need it are skipped where it is absent. */
final class SharedFixtures {
    private SharedFixtures() {}

    static Path gpt2TokenizerDir() {
        return fixture("gpt2-tokenizer");
    }

    /** {@code shared/fixtures/<name>}, e.g. {@code tokenizers/qwen3}; skips the test when it is absent. */
    static Path fixture(String name) {
        Path dir = null;
        String property = System.getProperty("privllm.shared");
        if (property != null && Files.isDirectory(Path.of(property))) {
            dir = Path.of(property);
        } else {
            // Tests run in the module directory; the shared folder sits next to the repository root.
            Path fallback = Path.of("").toAbsolutePath().getParent().resolveSibling("shared");
            if (Files.isDirectory(fallback)) dir = fallback;
        }
        assumeTrue(dir != null, "shared folder not found (privllm.shared=" + property + ")");
        Path fixture = dir.resolve("fixtures").resolve(name);
        assumeTrue(Files.isDirectory(fixture), "no " + fixture);
        return fixture;
    }
}
