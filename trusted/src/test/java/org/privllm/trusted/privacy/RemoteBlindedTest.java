package org.privllm.trusted.privacy;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.InsecureChannelCredentials;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.privllm.model.Activation;
import org.privllm.model.Architecture;
import org.privllm.model.DecoderForward;
import org.privllm.model.DecoderModel;
import org.privllm.model.Fixture;
import org.privllm.model.Gpt2Config;
import org.privllm.model.LlamaFixture;
import org.privllm.model.SafeTensors;
import org.privllm.model.generate.Generator;
import org.privllm.model.generate.Sampling;
import org.privllm.protocol.Executor;
import org.privllm.protocol.grpc.ExecutorEndpoints;
import org.privllm.protocol.grpc.GrpcExecutorClient;
import org.privllm.trusted.integrity.IntegrityException;
import org.privllm.trusted.integrity.TestExecutors;
import org.privllm.trusted.integrity.VerifyingExecutor;
import org.privllm.trusted.lora.LoraAdapter;
import org.privllm.trusted.lora.LoraMerge;
import org.privllm.trusted.lora.LowRankAdapter;

/**
 * The blinded levels through executors in their own processes, verified: the plaintext ids at strong and
 * two-party, on GPT-2 and on a Llama-family model with a private adapter; a share executor killed mid-generation is retried on the next one of its own list; a lying
 * executor is caught or harmless, and the retries end with the plaintext answer.
 */
class RemoteBlindedTest {
    static DecoderModel model;
    static DecoderModel qwen;
    static Map<String, LowRankAdapter> qwenLora;
    static Process a;
    static Process b;
    static Process liar;
    static String aAddress;
    static String bAddress;
    static String liarAddress;

    @BeforeAll
    static void setUp() throws Exception {
        Path dir = Files.createTempDirectory("privllm-remote-blinded");
        Fixture.write(dir, new Gpt2Config(2, 48, 4, 192, 300, 64, 1e-5f, Activation.GELU_NEW, true, true, 299), 5);
        model = DecoderModel.load(dir);
        // GQA, q/k/v biases, head_dim ≠ hidden/heads; a private adapter on q, v, gate and down
        Path q = Files.createTempDirectory("privllm-remote-blinded-qwen2");
        Fixture.write(q, new LlamaFixture.Spec(Architecture.QWEN2, 2, 24, 4, 2, 8, 40, 150, 64, false, SafeTensors.DType.BF16,
                1, 8, 1e6, null, false));
        qwen = DecoderModel.load(q);
        LoraAdapter.writeRandom(q.resolve("lora"), qwen.config(), 3, 6f, List.of("q_proj", "v_proj", "gate_proj", "down_proj"), 9);
        qwenLora = LoraAdapter.load(q.resolve("lora"), qwen.config()).layers();
        a = TestExecutors.startProcess(0);
        b = TestExecutors.startProcess(0);
        liar = TestExecutors.startProcess(0.05);
        aAddress = TestExecutors.address(a);
        bAddress = TestExecutors.address(b);
        liarAddress = TestExecutors.address(liar);
    }

    @AfterAll
    static void tearDown() throws Exception {
        for (Process p : new Process[] {a, b, liar}) {
            if (p != null) {
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    static final List<int[]> PROMPTS = List.of(new int[] {5, 17, 42, 7, 9}, new int[] {100, 3});

    static List<int[]> generate(List<Executor> parties) {
        return generate(model, Map.of(), parties);
    }

    static List<int[]> generate(DecoderModel m, Map<String, LowRankAdapter> adapters, List<Executor> parties) {
        return generate(m, adapters, parties, null);
    }

    static List<int[]> generate(DecoderModel m, Map<String, LowRankAdapter> adapters, List<Executor> parties,
                                List<org.privllm.tensor.Matrix> logits) {
        BlindingConfig c = BlindingConfig.of(parties.size() == 1 ? PrivacyLevel.STRONG : PrivacyLevel.TWO_PARTY);
        try (TrustedAttentionDecoder ops = TrustedAttentionDecoder.blinded(m.config(), m.weights(), adapters, parties, c)) {
            return new Generator(new DecoderForward(m.config(), m.weights(), ops))
                    .generate(PROMPTS, 6, Sampling.GREEDY, -1, null, logits == null ? null : logits::add).outputIds();
        }
    }

    static List<int[]> plain() {
        return new Generator(model.plainForward()).generate(PROMPTS, 6, Sampling.GREEDY, -1, null).outputIds();
    }

    static List<int[]> plain(DecoderModel m, Map<String, LowRankAdapter> adapters, List<org.privllm.tensor.Matrix> logits) {
        var w = LoraMerge.merged(m.weights(), adapters);
        return new Generator(new DecoderForward(m.config(), w, new org.privllm.model.PlainDecoderOps(m.config(), w)))
                .generate(PROMPTS, 6, Sampling.GREEDY, -1, null, logits::add).outputIds();
    }

    static double maxAbs(List<org.privllm.tensor.Matrix> a, List<org.privllm.tensor.Matrix> b) {
        assertThat(a).hasSameSizeAs(b);
        double m = 0;
        for (int i = 0; i < a.size(); i++) {
            for (int j = 0; j < a.get(i).data.length; j++) {
                m = Math.max(m, Math.abs(a.get(i).data[j] - b.get(i).data[j]));
            }
        }
        return m;
    }

    static ExecutorEndpoints endpoints(String list) {
        return ExecutorEndpoints.parse(list, InsecureChannelCredentials.create(),
                GrpcExecutorClient.Options.defaults().withCallTimeout(Duration.ofSeconds(10)));
    }

    @Test
    void strongAndTwoPartyOverGrpcGiveThePlaintextIds() {
        List<int[]> expected = plain();
        try (ExecutorEndpoints ea = endpoints(aAddress); ExecutorEndpoints eb = endpoints(bAddress)) {
            List<int[]> strong = generate(List.of(new VerifyingExecutor(ea.forAttempt(0))));
            List<int[]> shared = generate(List.of(new VerifyingExecutor(ea.forAttempt(0)), new VerifyingExecutor(eb.forAttempt(0))));
            for (int i = 0; i < expected.size(); i++) {
                assertThat(strong.get(i)).isEqualTo(expected.get(i));
                assertThat(shared.get(i)).isEqualTo(expected.get(i));
            }
        }
    }

    @Test
    void aLlamaFamilyModelWithAPrivateAdapterOverGrpcGivesThePlaintextIds() {
        List<org.privllm.tensor.Matrix> want = new ArrayList<>(), base = new ArrayList<>(), a1 = new ArrayList<>(),
                a2 = new ArrayList<>();
        List<int[]> expected = plain(qwen, qwenLora, want);
        plain(qwen, Map.of(), base);
        assertThat(maxAbs(want, base)).as("the adapter matters").isGreaterThan(1e-2);
        try (ExecutorEndpoints ea = endpoints(aAddress); ExecutorEndpoints eb = endpoints(bAddress)) {
            List<int[]> strong = generate(qwen, qwenLora, List.of(new VerifyingExecutor(ea.forAttempt(0))), a1);
            List<int[]> shared = generate(qwen, qwenLora,
                    List.of(new VerifyingExecutor(ea.forAttempt(0)), new VerifyingExecutor(eb.forAttempt(0))), a2);
            for (int i = 0; i < expected.size(); i++) {
                assertThat(strong.get(i)).isEqualTo(expected.get(i));
                assertThat(shared.get(i)).isEqualTo(expected.get(i));
            }
            assertThat(maxAbs(want, a1)).isLessThan(1e-4);
            assertThat(maxAbs(want, a2)).isLessThan(1e-4);
        }
    }

    @Test
    void aShareExecutorKilledMidGenerationIsRetriedOnTheNextOfItsList() throws Exception {
        List<int[]> expected = plain();
        Process victim = TestExecutors.startProcess(0);
        String victimAddress = TestExecutors.address(victim);
        AtomicInteger calls = new AtomicInteger();
        List<String> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
        try (ExecutorEndpoints ea = endpoints(aAddress); ExecutorEndpoints eb = endpoints(victimAddress + "," + bAddress)) {
            List<int[]> got = ExecutorEndpoints.retrying(1, e -> e instanceof IntegrityException, attempt -> {
                Executor share = eb.forAttempt(attempt);
                Executor killing = (Executor) java.lang.reflect.Proxy.newProxyInstance(Executor.class.getClassLoader(),
                        new Class<?>[] {Executor.class}, (proxy, m, args) -> {
                            if (attempt == 0 && m.getName().equals("linear64") && calls.incrementAndGet() == 40) {
                                victim.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                            }
                            try {
                                return m.invoke(share, args);
                            } catch (java.lang.reflect.InvocationTargetException t) {
                                failures.add(t.getCause().getMessage());
                                throw t.getCause();
                            }
                        });
                return generate(List.of(new VerifyingExecutor(ea.forAttempt(attempt)), new VerifyingExecutor(killing)));
            });
            for (int i = 0; i < expected.size(); i++) {
                assertThat(got.get(i)).isEqualTo(expected.get(i));
            }
            assertThat(failures).isNotEmpty().allSatisfy(f -> assertThat(f).contains("unavailable").doesNotContain("\n"));
        } finally {
            victim.destroyForcibly();
        }
    }

    @Test
    void aLyingPartyIsCaughtOrHarmlessAndRetriesEndWithThePlaintextIds() {
        List<int[]> expected = plain();
        int detected = 0;
        try (ExecutorEndpoints honest = endpoints(aAddress); ExecutorEndpoints lying = endpoints(liarAddress)) {
            for (int run = 0; run < 20 && (run < 3 || detected == 0); run++) {
                List<Executor> parties = new ArrayList<>(List.of(new VerifyingExecutor(honest.forAttempt(0))));
                parties.add(run % 2 == 0 ? 0 : 1, new VerifyingExecutor(lying.forAttempt(0)));
                try {
                    List<int[]> got = generate(parties);
                    for (int i = 0; i < expected.size(); i++) {
                        assertThat(got.get(i)).isEqualTo(expected.get(i));
                    }
                } catch (IntegrityException e) {
                    detected++;
                    assertThat(e.getMessage()).contains("linear64").doesNotContain("\n");
                }
            }
            try (ExecutorEndpoints mixed = endpoints(liarAddress + "," + aAddress)) {
                List<int[]> retried = mixed.withRetries(20, e -> e instanceof IntegrityException,
                        ex -> generate(List.of(new VerifyingExecutor(ex))));
                for (int i = 0; i < expected.size(); i++) {
                    assertThat(retried.get(i)).isEqualTo(expected.get(i));
                }
            }
        }
        assertThat(detected).isPositive();
    }
}
