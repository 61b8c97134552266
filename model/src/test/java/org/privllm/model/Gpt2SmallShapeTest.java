package org.privllm.model;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The 124M shape (12 layers, 768 wide, 12 heads, 50257 tokens) against the float64 reference at 1e-3. */
class Gpt2SmallShapeTest {
    @Test
    void gpt2_124M_shapeMatchesFloat64Reference(@TempDir Path dir) {
        Fixture.write(dir, Fixture.gpt2Preset(), 7);
        Gpt2Model m = Gpt2Model.load(dir);
        ReferenceAgreementTest.checkAgainstReference(m, ReferenceAgreementTest.randomIds(3, 5, 50257), 1e-3, 2);
    }
}
