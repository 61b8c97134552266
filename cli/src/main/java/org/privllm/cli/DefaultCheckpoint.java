package org.privllm.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The built-in default model: karpathy's stories260K, a real Llama-architecture model trained on TinyStories
 * (5 layers, 64 wide, 8 heads sharing 4 KV heads, a 512-token vocabulary with its {@code tokenizer.json}),
 * bundled in the jar with its licence (about 1 MB) and copied once into the user's cache directory, so a new
 * user's first command tells a real story — nothing is downloaded.
 */
final class DefaultCheckpoint {
    /** The bundled files, under {@code /org/privllm/cli/stories260k/} in the jar. */
    static final String[] FILES = {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "LICENSE"};
    static final String NAME = "stories260k-v1";

    private DefaultCheckpoint() {}

    static Path ensure() {
        Path dir = cacheRoot().resolve(NAME);
        if (!Files.exists(dir.resolve("LICENSE"))) {
            System.err.println("privllm: copying the built-in model (stories260K, MIT licence) to " + dir);
            try {
                Files.createDirectories(dir);
                for (String f : FILES) {
                    try (InputStream in = DefaultCheckpoint.class.getResourceAsStream("stories260k/" + f)) {
                        if (in == null) {
                            throw new IllegalStateException("the built-in model's " + f + " is missing from the jar");
                        }
                        Path tmp = Files.createTempFile(dir, f, ".part");
                        Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
                        Files.move(tmp, dir.resolve(f), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot write the built-in model to " + dir + ": " + e.getMessage(), e);
            }
        }
        return dir;
    }

    private static Path cacheRoot() {
        String env = System.getenv("PRIVLLM_CACHE");
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("privllm");
    }
}
