package org.privllm.lab;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import org.privllm.model.Fixture;
import org.privllm.model.Gpt2Config;
import org.privllm.model.Gpt2Model;

/** Random checkpoints for the lab's tests: written to a temporary folder, loaded, and the folder removed. */
public final class TestModels {
    private TestModels() {}

    public static Gpt2Model write(Gpt2Config c, long seed) {
        try {
            Path dir = Files.createTempDirectory("privllm-lab");
            Fixture.write(dir, c, seed);
            Gpt2Model m = Gpt2Model.load(dir);
            try (var s = Files.walk(dir)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
            return m;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
