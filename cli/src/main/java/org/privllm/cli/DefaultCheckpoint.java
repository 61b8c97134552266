package org.privllm.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import org.privllm.model.Fixture;
import org.privllm.model.Gpt2Config;
import org.privllm.model.tokenizer.Gpt2Tokenizer;

/**
 * The built-in default model: a small random GPT-2 (4 layers, 256 wide, 8 heads, the full GPT-2
 * vocabulary and tokenizer) generated once into the user's cache directory. Nothing is downloaded.
 */
final class DefaultCheckpoint {
    static final Gpt2Config CONFIG = Gpt2Config.of(4, 256, 8, 50257, 512);
    static final long SEED = 20261125L;

    private DefaultCheckpoint() {}

    static Path ensure() {
        Path dir = cacheRoot().resolve("default-gpt2-l4-d256-v1");
        if (!Files.exists(dir.resolve("model.safetensors")) || !Gpt2Tokenizer.present(dir)) {
            System.err.println("privllm: writing the built-in default checkpoint to " + dir);
            Fixture.write(dir, CONFIG, SEED);
            Gpt2Tokenizer.writeGpt2Files(dir);
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
