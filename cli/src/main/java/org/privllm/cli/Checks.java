package org.privllm.cli;

import java.util.List;
import org.privllm.tensor.Matrix;

/** Comparisons of an obfuscated run against the plaintext run of the same process. */
final class Checks {
    private Checks() {}

    /** Largest |a − b| over step-aligned logit matrices; infinite when the runs took different numbers of steps. */
    static double maxAbsError(List<Matrix> reference, List<Matrix> observed) {
        if (reference.size() != observed.size()) {
            return Double.POSITIVE_INFINITY;
        }
        double max = 0;
        for (int i = 0; i < reference.size(); i++) {
            float[] a = reference.get(i).data, b = observed.get(i).data;
            if (a.length != b.length) {
                return Double.POSITIVE_INFINITY;
            }
            for (int j = 0; j < a.length; j++) {
                max = Math.max(max, Math.abs(a[j] - b[j]));
            }
        }
        return max;
    }
}
