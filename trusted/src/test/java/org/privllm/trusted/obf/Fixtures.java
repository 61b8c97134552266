package org.privllm.trusted.obf;

import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.privllm.trusted.linalg.Dense;
import org.privllm.trusted.lora.LowRankAdapter;

/** Random layers and inputs at unit output scale (entries N(0, 1/in)), so absolute and relative tolerances agree. */
final class Fixtures {
    private Fixtures() {}

    static PlainLinear layer(Random rnd, int in, int out, boolean bias, int loraRank) {
        DMatrixRMaj w = Dense.gaussian(in, out, 1 / Math.sqrt(in), rnd);
        double[] b = bias ? Dense.gaussian(1, out, 0.5, rnd).data : null;
        LowRankAdapter lora = loraRank == 0 ? null
                : new LowRankAdapter(Dense.gaussian(in, loraRank, 1 / Math.sqrt(in), rnd),
                        Dense.gaussian(loraRank, out, 1 / Math.sqrt(loraRank), rnd), 16.0 / loraRank / 4);
        return new PlainLinear(w, b, lora);
    }

    static DMatrixRMaj input(Random rnd, int n, int in) {
        return Dense.gaussian(n, in, 1, rnd);
    }
}
