package org.privllm.lab.leakage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.privllm.model.Gpt2Config;
import org.privllm.model.Gpt2Forward;
import org.privllm.model.generate.Generator;
import org.privllm.model.generate.Sampling;
import org.privllm.protocol.Executor;
import org.privllm.trusted.obf.ObfuscatedDecoder;
import org.privllm.trusted.integrity.VerifyingExecutor;
import org.privllm.trusted.linalg.Dense;
import org.privllm.trusted.lora.LowRankAdapter;
import org.privllm.trusted.mask.MaskFamily;
import org.privllm.trusted.obf.MaskScope;
import org.privllm.trusted.obf.ObfuscationConfig;
import org.privllm.trusted.obf.ObfuscationMode;
import org.privllm.untrusted.InProcessExecutor;
import org.privllm.untrusted.Transcript;
import org.privllm.untrusted.server.DiskTranscript;
import org.privllm.untrusted.server.RecordingExecutor;

/**
 * The leakage attacks on what a real executor wrote to disk ({@code executor --transcript}): the views
 * read back are exactly what it was sent, batches split by their public left padding, checksum columns
 * of a verifying client dropped, and the attacks score on them as on the lab's own views.
 */
class RecordedTranscriptTest {
    static final Gpt2Config CONFIG = LeakageLabTest.MODEL.config();
    static final List<int[]> PROMPTS = LeakageLabTest.PROMPTS;

    /**
     * Runs each group of batches in its own trusted session (one {@link ObfuscatedDecoder}), through
     * [verifying client →] recording executor → in-process executor; returns the output ids in order.
     */
    static List<int[]> record(Path dir, Transcript memory, ObfuscationConfig obf, boolean verify,
                              Map<String, LowRankAdapter> adapters, List<List<List<int[]>>> sessions) {
        return record(dir, memory, obf, verify, adapters, sessions, -1);
    }

    static List<int[]> record(Path dir, Transcript memory, ObfuscationConfig obf, boolean verify,
                              Map<String, LowRankAdapter> adapters, List<List<List<int[]>>> sessions, int eos) {
        try (DiskTranscript disk = new DiskTranscript(dir)) {
            Executor executor = new RecordingExecutor(memory == null ? new InProcessExecutor() : new InProcessExecutor(memory), disk);
            if (verify) {
                executor = new VerifyingExecutor(executor, new Random(3));
            }
            return generate(executor, obf, adapters, sessions, eos);
        }
    }

    /** Each group of batches in its own trusted session on {@code executor}; the output ids in order. */
    static List<int[]> generate(Executor executor, ObfuscationConfig obf, Map<String, LowRankAdapter> adapters,
                                List<List<List<int[]>>> sessions, int eos) {
        List<int[]> truth = new ArrayList<>();
        long seed = 40;
        for (List<List<int[]>> batches : sessions) {
            try (ObfuscatedDecoder ops = new ObfuscatedDecoder(CONFIG, LeakageLabTest.MODEL.weights(), executor,
                    obf.withSeed(seed++), adapters)) {
                for (List<int[]> batch : batches) {
                    truth.addAll(new Generator(new Gpt2Forward(CONFIG, LeakageLabTest.MODEL.weights(), ops))
                            .generate(batch, 3, Sampling.GREEDY, eos, null).outputIds());
                }
            }
        }
        return truth;
    }

    static ObfuscationConfig obf(String family) {
        return ObfuscationConfig.defaults().withFamily(MaskFamily.parse(family));
    }

    static List<ViewCollector.Sample> samples(RecordedTranscript rec, List<int[]> truth) {
        List<ViewCollector.Sample> out = new ArrayList<>();
        for (int i = 0; i < truth.size(); i++) {
            int n = rec.views().get(i).promptLength();
            out.add(new ViewCollector.Sample(Arrays.copyOf(truth.get(i), n),
                    Arrays.copyOfRange(truth.get(i), n, truth.get(i).length), rec.views().get(i)));
        }
        return out;
    }

    @Test
    void theViewsReadFromDiskAreWhatTheExecutorWasSentSplitPerSequence(@TempDir Path dir) {
        Transcript memory = new Transcript();
        int[] shortPrompt = Arrays.copyOf(PROMPTS.get(1), 3);
        List<int[]> truth = record(dir, memory, obf("orthogonal"), false, Map.of(),
                List.of(List.of(List.of(PROMPTS.get(0), shortPrompt), List.of(PROMPTS.get(2)))));
        RecordedTranscript rec = RecordedTranscript.read(dir, CONFIG);
        assertThat(rec.generations()).isEqualTo(2);
        assertThat(rec.views()).hasSize(3);
        assertThat(rec.padMode() || rec.perCall() || rec.lora()).isFalse();
        assertThat(rec.views().get(0).promptLength()).isEqualTo(PROMPTS.get(0).length);
        assertThat(rec.views().get(1).promptLength()).as("left padding dropped").isEqualTo(3);
        assertThat(rec.views().get(2).promptLength()).isEqualTo(PROMPTS.get(2).length);

        // the same generations from the in-memory record of the same executor
        List<Transcript.Entry> all = memory.entries();
        int second = 0;
        for (int i = 0, starts = 0; i < all.size(); i++) {
            if (all.get(i).kind() == Transcript.Kind.START_CACHE && ++starts == 2) {
                second = i;
            }
        }
        List<Transcript.Entry> uploads = all.subList(0, second).stream()
                .filter(e -> e.kind() == Transcript.Kind.UPLOAD_LINEAR).toList();
        List<Transcript.Entry> gen2 = new ArrayList<>(uploads);
        gen2.addAll(all.subList(second, all.size()));
        List<ExecutorView> expected = new ArrayList<>(ExecutorView.sequences(all.subList(0, second), CONFIG));
        expected.addAll(ExecutorView.sequences(gen2, CONFIG));
        for (int i = 0; i < 3; i++) {
            ExecutorView got = rec.views().get(i), want = expected.get(i);
            for (int l = 0; l < CONFIG.layers(); l++) {
                assertThat(got.prefillInputs().get(l).data).containsExactly(want.prefillInputs().get(l).data);
                assertThat(got.qkv().get(l).weight().data).containsExactly(want.qkv().get(l).weight().data);
                assertThat(got.qkv().get(l).bias()).containsExactly(want.qkv().get(l).bias());
            }
            assertThat(got.head().weight().data).containsExactly(want.head().weight().data);
            assertThat(got.rounds()).isEqualTo(want.rounds()).isEqualTo(3);
            for (int r = 0; r < got.rounds(); r++) {
                assertThat(got.headCalls().get(r).x().data).containsExactly(want.headCalls().get(r).x().data);
            }
        }
        // the batch's rows are the sequences: row 1's prefill is the last 3 rows of the padded batch
        Transcript.Entry firstAttention = all.stream().filter(e -> e.kind() == Transcript.Kind.ATTENTION).findFirst().orElseThrow();
        int t = PROMPTS.get(0).length;
        assertThat(rec.views().get(1).prefillInputs().get(0).data)
                .containsExactly(firstAttention.tensor("x").rows(2 * t - 3, 2 * t).data);
        // and each LM-head call's row b is sequence b's
        long headId = all.stream().filter(e -> e.kind() == Transcript.Kind.UPLOAD_LINEAR
                && e.tensor("weight").cols == CONFIG.vocab()).findFirst().orElseThrow().weight();
        List<Transcript.Entry> headCalls = all.subList(0, second).stream()
                .filter(e -> e.kind() == Transcript.Kind.LINEAR && e.weight() == headId).toList();
        assertThat(headCalls).hasSize(3);
        for (int r = 0; r < 3; r++) {
            for (int b = 0; b < 2; b++) {
                assertThat(rec.views().get(b).headCalls().get(r).x().data)
                        .containsExactly(headCalls.get(r).tensor("x").rows(b, b + 1).data);
            }
        }
        assertThat(truth).hasSize(3);
        assertThat(rec.generationOf()).containsExactly(0, 0, 1);
        assertThat(rec.samples(truth)).extracting(ViewCollector.Sample::prompt)
                .containsExactly(PROMPTS.get(0), shortPrompt, PROMPTS.get(2));
    }

    @Test
    void attacksOnARecordedVerifiedRunScoreAsTheyDoOnTheLabsOwnViews(@TempDir Path ortho, @TempDir Path gauss) {
        // two prompts in one session, the first again in a second session (a linkability pair)
        List<List<List<int[]>>> sessions = List.of(List.of(List.of(PROMPTS.get(0)), List.of(PROMPTS.get(1))),
                List.of(List.of(PROMPTS.get(0))));
        LeakageLab lab = LeakageLabTest.LAB;
        List<int[]> truth = record(ortho, null, obf("orthogonal"), true, Map.of(), sessions);
        RecordedTranscript rec = RecordedTranscript.read(ortho, CONFIG);
        assertThat(rec.views().get(0).head().weight().cols).as("checksum columns dropped").isEqualTo(CONFIG.vocab());
        Map<String, Object> row = lab.recordedRow(LeakageLabTest.ORTHOGONAL, samples(rec, truth), rec.generations());
        assertThat(row.get("config")).isEqualTo("mask/orthogonal/session (transcript)");
        assertThat((Double) row.get("l0_token_rate")).as("norms + Gram matching").isGreaterThanOrEqualTo(0.9);
        assertThat((Double) row.get("unmasked_token_rate")).isGreaterThanOrEqualTo(0.9);
        assertThat((Double) row.get("output_token_rate")).as("generated tokens through the head").isGreaterThanOrEqualTo(0.8);
        assertThat(row.get("link_auc_scores")).as("the repeated prompt is found").isEqualTo(1.0);

        List<int[]> truthG = record(gauss, null, obf("gaussian"), true, Map.of(), sessions);
        RecordedTranscript recG = RecordedTranscript.read(gauss, CONFIG);
        Map<String, Object> rowG = lab.recordedRow(LeakageLabTest.GAUSSIAN, samples(recG, truthG), recG.generations());
        assertThat((Double) rowG.get("l0_token_rate")).as("Gaussian masks defeat matching").isLessThanOrEqualTo(0.1);
        assertThat((Double) rowG.get("output_token_rate")).isLessThanOrEqualTo(0.2);
        // ...but not the structure solve nor the Tyler-whitened head readout
        assertThat(rowG.get("recovered_token_rate")).isEqualTo(1.0);
        assertThat(rowG.get("readout_token_rate")).isEqualTo(1.0);
    }

    @Test
    void padModePerCallScopeAndAnAdapterAreReadOffTheTranscript(@TempDir Path dir) {
        Random rnd = new Random(5);
        int d = CONFIG.embd();
        Map<String, LowRankAdapter> adapter = Map.of("h.0.attn.c_attn", new LowRankAdapter(
                Dense.gaussian(d, 2, 0.2, rnd), Dense.gaussian(2, 3 * d, 0.05, rnd), 1.0));
        ObfuscationConfig c = obf("block:4").withMode(ObfuscationMode.PAD).withScope(MaskScope.PER_CALL);
        Transcript memory = new Transcript();
        int[] shortPrompt = Arrays.copyOf(PROMPTS.get(1), 2);
        List<int[]> truth = record(dir, memory, c, true, adapter, List.of(List.of(List.of(PROMPTS.get(0), shortPrompt))));
        RecordedTranscript rec = RecordedTranscript.read(dir, CONFIG);
        assertThat(rec.padMode()).isTrue();
        assertThat(rec.perCall()).isTrue();
        assertThat(rec.lora()).isTrue();
        ExecutorView v = rec.views().get(1);
        Transcript.Entry prefill = memory.entries().stream().filter(e -> e.kind() == Transcript.Kind.ATTENTION)
                .findFirst().orElseThrow();
        int t = PROMPTS.get(0).length;
        assertThat(v.prefillCompensation().get(0).data).as("the padded row's compensation rows")
                .containsExactly(prefill.tensor("compensation").rows(2 * t - 2, 2 * t).data);
        assertThat(v.prefillCompensation().get(0).cols).isEqualTo(3 * d);
        assertThat(v.headCalls().get(0).compensation().cols).as("checksum columns dropped").isEqualTo(CONFIG.vocab());
        // the pads come off the recorded compensations, batch rows and the adapter included
        LeakageConfig lc = LeakageConfig.masked(ObfuscationMode.PAD, MaskFamily.parse("block:4"), MaskScope.PER_CALL, true);
        Map<String, Object> row = LeakageLabTest.LAB.recordedRow(lc, rec.samples(truth), rec.generations());
        assertThat((Double) row.get("pad_residual_median")).isLessThan(1e-5);
        assertThat(row.get("recovered_token_rate")).isEqualTo(1.0);
        assertThat(row.get("readout_token_rate")).isEqualTo(1.0);
    }

    @Test
    void aTranscriptWithoutAGenerationOrOfAnotherModelIsAOneLineError(@TempDir Path dir) throws Exception {
        record(dir, null, obf("perm"), false, Map.of(), List.of(List.of(List.of(PROMPTS.get(0)))));
        Gpt2Config wider = Gpt2Config.of(2, 32, 2, 2000, 32);
        assertThatThrownBy(() -> RecordedTranscript.read(dir, wider))
                .hasMessageContaining("is it a transcript of this model?").hasMessageNotContaining("\n");
        // keep only the set-up calls: no cache was ever started
        Path index = dir.resolve("index.jsonl");
        List<String> lines = Files.readAllLines(index, StandardCharsets.UTF_8);
        Files.write(index, lines.stream().filter(l -> l.contains("upload_linear") || l.contains("open_session")).toList());
        assertThatThrownBy(() -> RecordedTranscript.read(dir, CONFIG)).hasMessageContaining("holds no complete generation");
    }

    @Test
    void theTruthMustFitTheTranscriptAndIncompleteGenerationsAreLeftOut(@TempDir Path dir) {
        // a token the model generates right after prompt 0: as end-of-sequence it stops row 0 after one token
        int eos = new Generator(new Gpt2Forward(CONFIG, LeakageLabTest.MODEL.weights(), LeakageLabTest.MODEL.plainForward().ops()))
                .generate(List.of(PROMPTS.get(0)), 1, Sampling.GREEDY, -1, null).outputIds().get(0)[PROMPTS.get(0).length];
        List<int[]> truth;
        try (DiskTranscript disk = new DiskTranscript(dir)) {
            Executor e = new RecordingExecutor(new InProcessExecutor(), disk);
            truth = generate(e, obf("perm"), Map.of(),
                    List.of(List.of(List.of(PROMPTS.get(0), PROMPTS.get(1))), List.of(List.of(PROMPTS.get(2)))), eos);
            // a run that died before its first token: a cache started, nothing else
            e.startCache(e.openSession(), CONFIG.layers(), 8, CONFIG.embd(), new int[] {0});
        }
        assertThat(truth.get(0).length - PROMPTS.get(0).length).as("row 0 stopped early").isEqualTo(1);
        RecordedTranscript rec = RecordedTranscript.read(dir, CONFIG);
        assertThat(rec.skipped()).isEqualTo(1);
        assertThat(rec.generations()).isEqualTo(2);
        List<ViewCollector.Sample> samples = rec.samples(truth);
        assertThat(samples.get(0).generated()).hasSize(1);
        assertThat(samples.get(1).generated()).hasSize(rec.views().get(1).rounds());

        assertThatThrownBy(() -> rec.samples(truth.subList(0, 2))).hasMessageContaining("--truth holds 2 sequences, the transcript 3");
        // the two runs' lines swapped: the lengths no longer fit
        assertThatThrownBy(() -> rec.samples(List.of(truth.get(2), truth.get(0), truth.get(1))))
                .hasMessageContaining("do not belong together or are out of order");
        // a line from a run that stopped every row early: no sequence of the generation ran its rounds
        int[] cut = Arrays.copyOf(truth.get(1), truth.get(1).length - 1);
        assertThatThrownBy(() -> rec.samples(List.of(truth.get(0), cut, truth.get(2))))
                .hasMessageContaining("generation 1 ran 3 rounds");
    }
}
