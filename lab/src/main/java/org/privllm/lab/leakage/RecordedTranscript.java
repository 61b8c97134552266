package org.privllm.lab.leakage;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.privllm.model.Gpt2Config;
import org.privllm.protocol.SessionId;
import org.privllm.tensor.Matrix;
import org.privllm.trusted.integrity.VerifyingExecutor;
import org.privllm.untrusted.Transcript;
import org.privllm.untrusted.server.TranscriptReader;

/**
 * The executor's view read back from a transcript folder that a real executor process wrote
 * ({@code privllm executor --transcript DIR}, format in {@code docs/transcript-format.md}), split into
 * the sequences the attacks score: every cache start of a session begins a generation, every row of
 * its batch is a sequence. Only what the attacks read is loaded (the c_attn and head uploads, the
 * attention inputs, the head calls); everything else stays on disk.
 *
 * <p>What the run's configuration was is read off the transcript where the executor can see it:
 * padding mode (compensations arrive), per-call scope (sessions that compute linear layers without a
 * cache) and an adapter (c_attn uploads carry one). The mask family is public by Kerckhoffs' principle
 * and is given by the user.
 *
 * @param views       one per sequence, in arrival order (generations by cache start, then batch rows)
 * @param generationOf for each view, the index of its generation (0, 1, …)
 * @param generations executor sessions' complete generations (cache starts with a prefill of every layer and
 *                    at least one LM-head call)
 * @param skipped     generations left out as incomplete (a run that failed, was retried or was killed before
 *                    its first token: the executor records a call before it runs it)
 * @param padMode     compensations arrived with the attention inputs
 * @param perCall     some sessions computed linear layers without a cache (per-call MLP masks)
 * @param lora        the c_attn uploads carry a masked adapter
 */
public record RecordedTranscript(List<ExecutorView> views, List<Integer> generationOf, int generations, int skipped,
                                 boolean padMode, boolean perCall, boolean lora) {

    /**
     * Reads {@code dir} for a model of shape {@code config}; a one-line error if it holds no complete generation
     * of it. Memory: every session's c_attn and head uploads (about 240 MB per session at 124M) and every
     * prefill are held while reading.
     */
    public static RecordedTranscript read(Path dir, Gpt2Config config) {
        List<TranscriptReader.Call> calls = TranscriptReader.read(dir);
        Map<String, List<TranscriptReader.Call>> bySession = new LinkedHashMap<>();
        for (TranscriptReader.Call c : calls) {
            bySession.computeIfAbsent(c.session(), k -> new ArrayList<>()).add(c);
        }
        // generations ordered by their cache start, across sessions
        List<Generation> gens = new ArrayList<>();
        boolean perCall = false;
        for (var session : bySession.entrySet()) {
            List<TranscriptReader.Call> cs = session.getValue();
            boolean hasCache = cs.stream().anyMatch(c -> c.call().equals("start_cache"));
            if (!hasCache) {
                perCall |= cs.stream().anyMatch(c -> c.call().equals("linear"));
                continue;
            }
            try {
                gens.addAll(generations(session.getKey(), cs, config));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("transcript " + dir + ", session " + session.getKey() + ": "
                        + e.getMessage() + " (is it a transcript of this model?)");
            }
        }
        gens.sort(java.util.Comparator.comparingLong(Generation::startSeq));
        List<ExecutorView> views = new ArrayList<>();
        List<Integer> generationOf = new ArrayList<>();
        boolean pad = false, lora = false;
        int complete = 0, skipped = 0;
        for (Generation g : gens) {
            if (!g.complete(config.layers())) {
                skipped++;
                g.entries().clear();
                continue;
            }
            List<ExecutorView> seqs;
            try {
                seqs = ExecutorView.sequences(g.entries(), config);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("transcript " + dir + ", generation at call " + g.startSeq() + ": "
                        + e.getMessage() + " (is it a transcript of this model?)");
            }
            for (ExecutorView v : seqs) {
                pad |= v.prefillCompensation().get(0) != null;
                lora |= v.qkv().get(0).loraA() != null;
                views.add(v);
                generationOf.add(complete);
            }
            complete++;
            g.entries().clear(); // the batch's tensors: only the per-sequence views are kept
        }
        if (complete == 0) {
            throw new IllegalArgumentException("transcript " + dir + " holds no complete generation (a cache started, "
                    + "every layer's prefill and at least one LM-head call)" + (skipped > 0 ? "; " + skipped + " incomplete" : ""));
        }
        return new RecordedTranscript(List.copyOf(views), List.copyOf(generationOf), complete, skipped, pad, perCall, lora);
    }

    /**
     * The attack samples: each view with its ground truth, the user's own output ids ({@code generate --json}'s
     * {@code output_ids}, one per sequence in the order of the views). The lines must fit the transcript: one
     * per sequence, each at least its prompt (the prompt length the executor saw) plus 1 to {@code rounds}
     * generated tokens, and in every generation some sequence generated on every round (the batch stops
     * when its last sequence does). Anything else means the files do not belong together or are out of order.
     */
    public List<ViewCollector.Sample> samples(List<int[]> truth) {
        if (truth.size() != views.size()) {
            throw new IllegalArgumentException("--truth holds " + truth.size() + " sequences, the transcript " + views.size()
                    + ": give the generate --json output of every run the executor served, in the order the runs started "
                    + "(a run retried after a failure leaves a partial generation behind: record runs that did not fail)");
        }
        List<ViewCollector.Sample> out = new ArrayList<>();
        int[] longest = new int[generations];
        for (int i = 0; i < truth.size(); i++) {
            ExecutorView v = views.get(i);
            int[] ids = truth.get(i);
            int n = v.promptLength(), generated = ids.length - n;
            if (generated < 1 || generated > v.rounds()) {
                throw new IllegalArgumentException("--truth sequence " + (i + 1) + " has " + ids.length + " ids, but the "
                        + "executor saw a prompt of " + n + " and " + v.rounds() + " rounds: the files do not belong together "
                        + "or are out of order (run clients one at a time)");
            }
            longest[generationOf.get(i)] = Math.max(longest[generationOf.get(i)], generated);
            out.add(new ViewCollector.Sample(java.util.Arrays.copyOf(ids, n), java.util.Arrays.copyOfRange(ids, n, ids.length), v));
        }
        for (int i = 0; i < views.size(); i++) {
            if (longest[generationOf.get(i)] != views.get(i).rounds()) {
                throw new IllegalArgumentException("--truth: generation " + (generationOf.get(i) + 1) + " ran "
                        + views.get(i).rounds() + " rounds but no sequence of it generated that many tokens: the files "
                        + "do not belong together or are out of order (run clients one at a time)");
            }
        }
        return out;
    }

    private record Generation(long startSeq, List<Transcript.Entry> entries) {
        /** A prefill call for every layer and at least one LM-head call (the head is the only LINEAR kept). */
        boolean complete(int layers) {
            Set<Integer> prefilled = new HashSet<>();
            boolean head = false;
            for (Transcript.Entry e : entries) {
                if (e.kind() == Transcript.Kind.ATTENTION) {
                    prefilled.add(e.layer());
                }
                head |= e.kind() == Transcript.Kind.LINEAR;
            }
            return head && prefilled.size() == layers;
        }
    }

    /**
     * The generations of one session: each cache start with the calls up to the next one, after the
     * session's uploads so far (shared: prompts of one session are attacked with the same weights).
     */
    private static List<Generation> generations(String label, List<TranscriptReader.Call> calls, Gpt2Config config) {
        SessionId session = new SessionId(label);
        int d = config.embd(), vocab = config.vocab();
        Set<Long> qkvIds = new HashSet<>();
        for (TranscriptReader.Call c : calls) {
            if (c.call().equals("attention")) {
                qkvIds.add(c.args().path("qkv").asLong(-1));
            }
        }
        List<Transcript.Entry> uploads = new ArrayList<>();
        Set<Long> headIds = new HashSet<>();
        List<Generation> out = new ArrayList<>();
        List<Transcript.Entry> current = null;
        long currentStart = -1;
        Set<Integer> prefilled = new HashSet<>();
        for (TranscriptReader.Call c : calls) {
            switch (c.call()) {
                case "upload_linear" -> {
                    int[] shape = c.shape("weight");
                    long id = c.args().path("weight").asLong(-1);
                    boolean head = shape != null && shape[0] == d && isWidth(shape[1], vocab);
                    if (qkvIds.contains(id) || head) {
                        uploads.add(entry(c, session, Transcript.Kind.UPLOAD_LINEAR, -1, id,
                                List.of("weight", "bias", "loraA", "loraB"), head ? vocab : 3 * d));
                        if (head) {
                            headIds.add(id);
                        }
                    }
                }
                case "start_cache" -> {
                    if (current != null) {
                        out.add(new Generation(currentStart, current));
                    }
                    current = new ArrayList<>(uploads);
                    currentStart = c.seq();
                    prefilled.clear();
                    JsonNode a = c.args();
                    List<Number> args = new ArrayList<>(List.of(a.path("layers").asInt(), a.path("capacity").asInt(),
                            a.path("width").asInt()));
                    for (JsonNode p : a.path("left_pad")) {
                        args.add(p.asInt());
                    }
                    current.add(new Transcript.Entry(c.seq(), Transcript.Kind.START_CACHE, session, -1, -1, List.of(), args));
                }
                case "attention" -> {
                    // the attacks read the prefill (each layer's first call); decode steps are not loaded
                    if (current != null && prefilled.add(c.layer())) {
                        current.add(entry(c, session, Transcript.Kind.ATTENTION, c.layer(), c.args().path("qkv").asLong(-1),
                                List.of("x", "compensation"), 3 * d));
                    }
                }
                case "linear" -> {
                    long id = c.args().path("weight").asLong(-1);
                    if (current != null && headIds.contains(id)) {
                        current.add(entry(c, session, Transcript.Kind.LINEAR, -1, id, List.of("x", "compensation"), vocab));
                    }
                }
                default -> { }
            }
        }
        if (current != null) {
            out.add(new Generation(currentStart, current));
        }
        return out;
    }

    /**
     * Whether an output width is {@code width}, or {@code width} plus the checksum columns that a verifying
     * client appends (at the end, as linear combinations of the others; the attacker drops them).
     */
    private static boolean isWidth(int cols, int width) {
        return cols == width || cols == width + VerifyingExecutor.CHECK_COLUMNS;
    }

    /**
     * The call as a transcript entry holding the named tensors; output-side tensors (weight, bias, adapter
     * B, compensation) are cut to {@code outWidth} columns (the checksum columns dropped).
     */
    private static Transcript.Entry entry(TranscriptReader.Call c, SessionId session, Transcript.Kind kind, int layer,
                                          long weight, List<String> names, int outWidth) {
        List<Transcript.Tensor> tensors = new ArrayList<>();
        for (String name : names) {
            Matrix m = c.tensor(name);
            if (m == null) {
                continue;
            }
            boolean outputSide = !name.equals("x") && !name.equals("loraA");
            if (outputSide && m.cols != outWidth) {
                if (!isWidth(m.cols, outWidth)) {
                    throw new IllegalArgumentException("call " + c.seq() + ": " + name + " has " + m.cols
                            + " columns, expected " + outWidth);
                }
                m = m.cols(0, outWidth);
            }
            tensors.add(new Transcript.Tensor(name, m));
        }
        return new Transcript.Entry(c.seq(), kind, session, layer, weight, List.copyOf(tensors), List.of());
    }
}
