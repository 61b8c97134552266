package org.privllm.model;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Locates the shared real checkpoints; tests using them are skipped when the folder is absent. */
public final class Fixtures {
    private Fixtures() {}

    public static Path shared() {
        String p = System.getProperty("privllm.shared");
        Path dir = p != null ? Path.of(p) : Path.of("../shared");
        if (!Files.isDirectory(dir)) {
            dir = Path.of("../../shared");
        }
        return dir.toAbsolutePath().normalize();
    }

    /** The real GPT-2-family checkpoints in {@code shared/fixtures} (empty when absent). */
    public static List<Path> checkpoints() {
        List<Path> out = new ArrayList<>();
        for (String name : List.of("tiny-random-gpt2", "tiny-gpt2")) {
            Path d = shared().resolve("fixtures").resolve(name);
            if (Files.exists(d.resolve("config.json"))) {
                out.add(d);
            }
        }
        return out;
    }
}
