package org.privllm.lab.leakage.blinded;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.privllm.tensor.DoubleMatrix;
import org.privllm.untrusted.server.TranscriptReader;

/**
 * A blinded-level transcript written by a real executor process ({@code privllm executor --transcript DIR}):
 * one executor session per trusted session, each holding the public weights' uploads and then the
 * {@code linear64} calls of the generations it served. Split into per-sequence samples against the trusted
 * side's ground truth (used only to score). Holds one session's calls at a time.
 */
public final class RecordedBlinded {
    private RecordedBlinded() {}

    /** One generation of the ground truth: the batch's prompts and what each sequence generated. */
    public record Generation(List<int[]> prompts, List<int[]> generated) {}

    /**
     * Samples of every generation in {@code dir}: the executor's sessions in order, each holding the next
     * generations of {@code truth} (as many as its calls make up, {@code passes × (4L + 1)} each).
     *
     * @param knownFirst whether the first sequence of every generation is a prompt the attacker knows
     */
    public static List<BlindedSample> read(Path dir, int layers, int party, List<Generation> truth, boolean knownFirst) {
        Map<String, List<DoubleMatrix>> calls = new LinkedHashMap<>();
        for (TranscriptReader.Call c : TranscriptReader.read(dir)) {
            if (c.call().equals("linear64")) {
                calls.computeIfAbsent(c.session(), k -> new ArrayList<>()).add(c.wide("x"));
            } else if (c.call().equals("linear") || c.call().equals("attention")) {
                throw new IllegalArgumentException("transcript " + dir + " holds " + c.call()
                        + " calls: it is a seed-level transcript (drop --privacy)");
            }
        }
        int per = BlindedSample.callsPerPass(layers);
        List<BlindedSample> out = new ArrayList<>();
        int g = 0;
        for (var e : calls.entrySet()) {
            List<DoubleMatrix> session = e.getValue();
            int at = 0;
            while (at < session.size()) {
                if (g >= truth.size()) {
                    throw new IllegalArgumentException("transcript " + dir + " holds more generations than --truth (" + truth.size() + ")");
                }
                Generation gen = truth.get(g++);
                int passes = gen.generated().stream().mapToInt(x -> x.length).max().orElse(0);
                int n = passes * per;
                if (at + n > session.size()) {
                    throw new IllegalArgumentException("transcript session " + e.getKey() + " ends inside generation " + g
                            + " of --truth: the run failed, or --truth does not belong to this transcript");
                }
                boolean[] known = new boolean[gen.prompts().size()];
                known[0] = knownFirst;
                out.addAll(BlindedSample.split(party, layers, session.subList(at, at + n), gen.prompts(), gen.generated(), known));
                at += n;
            }
        }
        if (g != truth.size()) {
            throw new IllegalArgumentException("--truth has " + truth.size() + " generations, the transcript " + g);
        }
        return out;
    }
}
