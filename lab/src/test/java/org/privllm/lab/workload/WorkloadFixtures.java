package org.privllm.lab.workload;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import org.privllm.model.Fixture;
import org.privllm.model.Gpt2Config;
import org.privllm.model.Gpt2Model;

/** Random checkpoints written to a temporary folder, loaded, and the folder removed. */
final class WorkloadFixtures {
    private WorkloadFixtures() {}

    static Gpt2Model model(Gpt2Config c, long seed) {
        try {
            Path dir = Files.createTempDirectory("privllm-workload");
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

    /** 1 layer, d = 4, 2 heads, inner 16, vocab 5, 8 positions: small enough to count by hand. */
    static Gpt2Config tiny() {
        return Gpt2Config.of(1, 4, 2, 5, 8);
    }
}
