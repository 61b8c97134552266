package org.privllm.lab.verify;

import java.util.LinkedHashMap;
import java.util.Map;
import org.privllm.trusted.verify.ErrorStats;

/**
 * One verification check: which stage, what was compared, and how far apart the two were. Carries
 * scalars only (no tensor, no mask), so it may be printed and reported.
 *
 * @param pass whether the check passed: {@code stats.allclose()} unless a check adds its own condition
 *             (e.g. identical token ids)
 */
public record Check(String stage, String check, ErrorStats stats, boolean pass) {

    public Check(String stage, String check, ErrorStats stats) {
        this(stage, check, stats, stats.allclose());
    }

    /** {@code {"stage", "check", "max_abs_err", "mean_abs_err", "allclose"}}: the row {@code verify} prints. */
    public Map<String, Object> row() {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("stage", stage);
        r.put("check", check);
        r.put("max_abs_err", stats.maxAbsError());
        r.put("mean_abs_err", stats.meanAbsError());
        r.put("allclose", pass);
        return r;
    }
}
