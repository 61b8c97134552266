package org.privllm.lab.workload;

import org.privllm.model.Gpt2Config;
import org.privllm.model.Gpt2Model;

/** Random checkpoints written to a temporary folder, loaded, and the folder removed. */
final class WorkloadFixtures {
    private WorkloadFixtures() {}

    static Gpt2Model model(Gpt2Config c, long seed) {
        return org.privllm.lab.TestModels.write(c, seed);
    }

    /** 1 layer, d = 4, 2 heads, inner 16, vocab 5, 8 positions: small enough to count by hand. */
    static Gpt2Config tiny() {
        return Gpt2Config.of(1, 4, 2, 5, 8);
    }
}
