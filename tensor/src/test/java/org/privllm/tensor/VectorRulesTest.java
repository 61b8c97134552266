package org.privllm.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * No main code uses a Vector API operation whose result depends on whether the JIT has compiled it: a floating
 * {@code reduceLanes(ADD)} or {@code MUL} (the compiled order differs from the fallback's) or a transcendental
 * lanewise operator ({@code EXP}, {@code LOG}, {@code SIN}, … map to SVML once compiled, to {@code StrictMath}
 * before). {@code CompiledEqualsInterpretedTest} and {@code TierDeterminismTest} catch such an operation on the paths
 * they run; this catches it anywhere, before it ships (LayerNorm's {@code reduceLanes(ADD)} made a sequence's
 * logits differ alone and in a batch). Use {@code VectorMath.FOLDS} and {@code VectorMath.exp} instead.
 */
class VectorRulesTest {
    private static final Pattern TIER_DEPENDENT = Pattern.compile(
            "reduceLanes\\(\\s*VectorOperators\\.(ADD|MUL)\\b"
                    + "|VectorOperators\\.(EXP|EXPM1|LOG|LOG10|LOG1P|SIN|COS|TAN|ASIN|ACOS|ATAN|ATAN2|SINH|COSH|TANH|POW|HYPOT|CBRT)\\b");

    /** Files allowed a match, and why. */
    private static final Map<String, String> ALLOWED = Map.of(
            "MemoryBandwidth.java", "the read loop's sum is only kept so the loads are not optimised away");

    @Test
    void mainCodeUsesNoTierDependentVectorOperation() throws IOException {
        Path root = Path.of("").toAbsolutePath().getParent();
        assumeTrue(root != null && Files.exists(root.resolve("pom.xml")) && Files.isDirectory(root.resolve("tensor")),
                "run from a module of the checkout");
        List<String> found = new ArrayList<>();
        try (Stream<Path> modules = Files.list(root)) {
            for (Path main : modules.map(m -> m.resolve("src/main/java")).filter(Files::isDirectory).toList()) {
                try (Stream<Path> files = Files.walk(main)) {
                    files.filter(f -> f.toString().endsWith(".java"))
                            .filter(f -> !ALLOWED.containsKey(f.getFileName().toString()))
                            .forEach(f -> scan(root, f, found));
                }
            }
        }
        assertThat(found).as("tier-dependent Vector API operations in main code").isEmpty();
    }

    private static void scan(Path root, Path file, List<String> found) {
        try {
            List<String> lines = Files.readAllLines(file);
            for (int i = 0; i < lines.size(); i++) {
                if (TIER_DEPENDENT.matcher(lines.get(i)).find()) {
                    found.add(root.relativize(file) + ":" + (i + 1) + ": " + lines.get(i).strip());
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
