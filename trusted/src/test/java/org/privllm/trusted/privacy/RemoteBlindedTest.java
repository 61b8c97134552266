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
import org.privllm.model.Fixture;
import org.privllm.model.Gpt2Config;
import org.privllm.model.Gpt2Forward;
import org.privllm.model.Gpt2Model;
import org.privllm.model.generate.Generator;
import org.privllm.model.generate.Sampling;
import org.privllm.protocol.Executor;
import org.privllm.protocol.grpc.ExecutorEndpoints;
import org.privllm.protocol.grpc.GrpcExecutorClient;
import org.privllm.trusted.integrity.IntegrityException;
import org.privllm.trusted.integrity.TestExecutors;
import org.privllm.trusted.integrity.VerifyingExecutor;

/**
 * The blinded levels through executors in their own processes, verified: the plaintext ids at strong and
 * two-party; a share executor killed mid-generation is retried on the next one of its own list; a lying
 * executor is caught or harmless, and the retries end with the plaintext answer.
 */
class RemoteBlindedTest {
    static Gpt2Model model;
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
        model = Gpt2Model.load(dir);
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
        BlindingConfig c = BlindingConfig.of(parties.size() == 1 ? PrivacyLevel.STRONG : PrivacyLevel.TWO_PARTY);
        try (TrustedAttentionGpt2 ops = TrustedAttentionGpt2.blinded(model.config(), model.weights(), Map.of(), parties, c)) {
            return new Generator(new Gpt2Forward(model.config(), model.weights(), ops))
                    .generate(PROMPTS, 6, Sampling.GREEDY, -1, null).outputIds();
        }
    }

    static List<int[]> plain() {
        return new Generator(model.plainForward()).generate(PROMPTS, 6, Sampling.GREEDY, -1, null).outputIds();
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
