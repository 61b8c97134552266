package org.privllm.lab.verify;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.privllm.model.Activation;
import org.privllm.model.Fixture;
import org.privllm.model.Gpt2Config;
import org.privllm.model.Gpt2Model;
import org.privllm.model.PlainDecoderOps;
import org.privllm.tensor.Attention;
import org.privllm.tensor.Kernels;
import org.privllm.tensor.KvCache;
import org.privllm.tensor.Matrix;
import org.privllm.tensor.PackedWeight;
import org.privllm.trusted.obf.ObfuscatedDecoder;
import org.privllm.trusted.linalg.Dense;
import org.privllm.trusted.lora.LoraAdapter;
import org.privllm.trusted.mask.Mask;
import org.privllm.trusted.mask.MaskFamily;
import org.privllm.trusted.obf.ObfuscatedLinear;
import org.privllm.trusted.obf.ObfuscationConfig;
import org.privllm.trusted.obf.ObfuscationMode;
import org.privllm.trusted.obf.TrustedSession;
import org.privllm.untrusted.InProcessExecutor;
import org.privllm.untrusted.server.TamperingExecutor;

class VerifierTest {
    static final Gpt2Config TINY = new Gpt2Config(2, 16, 4, 40, 60, 32, 1e-5f, Activation.GELU_NEW, true, false, 59);
    static final Gpt2Model MODEL = write(TINY, 5);

    static Gpt2Model write(Gpt2Config c, long seed) {
        Path dir = null;
        try {
            dir = Files.createTempDirectory("privllm-verify");
            Fixture.write(dir, c, seed);
            return Gpt2Model.load(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            delete(dir);
        }
    }

    static void delete(Path dir) {
        if (dir == null) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // temp files
        }
    }

    static ObfuscationConfig config(String mode, String family) {
        return ObfuscationConfig.defaults().withMode(ObfuscationMode.valueOf(mode.toUpperCase()))
                .withFamily(MaskFamily.parse(family)).withSeed(7);
    }

    static List<Check> verify(Gpt2Model m, ObfuscationConfig c, boolean lora) {
        LoraAdapter random = Verifier.randomAdapter(m.config(), 3);
        List<String> stages = new ArrayList<>();
        try (Verifier v = new Verifier(m, c, lora ? random : null, random, new Random(1))) {
            List<Check> checks = v.run(stages::add);
            assertThat(stages).hasSize(Verifier.STAGES);
            return checks;
        }
    }

    @ParameterizedTest
    @CsvSource({"mask,orthogonal,false", "pad,orthogonal,false", "mask,orthogonal,true", "pad,orthogonal,true",
            "mask,perm,false", "pad,block:2,true"})
    void everyStagePassesOnAGeneratedCheckpoint(String mode, String family, boolean lora) {
        List<Check> checks = verify(MODEL, config(mode, family), lora);
        assertThat(checks).filteredOn(ch -> !ch.pass()).as("failing checks").isEmpty();
        assertThat(checks).extracting(Check::stage).contains("stage1_linear", "stage1_lora", "stage2_block",
                "stage3_cache", "stage4_module");
        assertThat(checks).extracting(Check::check).contains("embeddings", "ln_1", "c_fc", "gelu_new", "mlp c_proj",
                "lm_head", "whole model", "attention softmax", "decode 3 logits", "h.0.mlp.c_fc per-call");
        assertThat(checks).filteredOn(ch -> ch.check().equals("embeddings")).allMatch(ch -> ch.stats().maxAbsError() == 0);
        // every comparison looked at something
        assertThat(checks).allMatch(ch -> ch.stats().count() > 0);
        assertThat(checks.get(0).row()).containsOnlyKeys("stage", "check", "max_abs_err", "mean_abs_err", "allclose");
    }

    @Test
    void aModelWithFewPositionsStillGetsEveryStage() {
        Gpt2Model m = write(new Gpt2Config(1, 8, 2, 16, 20, 4, 1e-5f, Activation.GELU_NEW, true, false, 19), 6);
        List<Check> checks = verify(m, config("pad", "orthogonal"), false);
        assertThat(checks).allMatch(Check::pass);
        assertThat(checks).extracting(Check::check).contains("decode 3 logits");
    }

    @Test
    void aTamperingExecutorFailsVerification() {
        LoraAdapter random = Verifier.randomAdapter(TINY, 3);
        try (Verifier v = new Verifier(MODEL, config("mask", "orthogonal"), null, random, new Random(1))
                .executors(() -> new TamperingExecutor(new InProcessExecutor(), 1.0, 11))) {
            List<Check> checks = v.run(s -> { });
            assertThat(Verifier.allPassed(checks)).isFalse();
            assertThat(checks).filteredOn(ch -> ch.stage().equals("stage1_linear")).noneMatch(Check::pass);
            assertThat(v.generation(8).pass()).isFalse();
        }
    }

    @Test
    void generationMatchesPlaintextInBothModes() {
        for (String mode : List.of("mask", "pad")) {
            try (Verifier v = new Verifier(MODEL, config(mode, "orthogonal"), Verifier.randomAdapter(TINY, 2), null,
                    new Random(3))) {
                Check g = v.generation(20);
                assertThat(g.pass()).as(mode + " " + g).isTrue();
                assertThat(g.check()).startsWith("greedy 20 new tokens x 2 prompts");
            }
        }
    }

    /** Recovering P·Ṽ with a value mask other than the one c_attn was obfuscated with must fail the check. */
    @Test
    void aWrongValueMaskFailsTheAttentionCoreCheck() {
        Gpt2Config c = TINY;
        int d = c.embd(), t = 5, layer = 1;
        try (InProcessExecutor ex = new InProcessExecutor();
             ObfuscatedDecoder obf = new ObfuscatedDecoder(c, MODEL.weights(), ex, config("mask", "orthogonal"), Map.of())) {
            int[] pad = {0};
            Matrix x = new Matrix(t, d);
            Random r = new Random(2);
            for (int i = 0; i < x.data.length; i++) {
                x.data[i] = (float) r.nextGaussian();
            }
            var l = MODEL.weights().layers().get(layer);
            Matrix qkv = Kernels.matmul(x, PackedWeight.pack(l.cAttn()), l.cAttnBias());
            TrustedSession s = obf.session();
            ObfuscatedLinear cAttn = obf.qkv(layer);
            Matrix masked = Verifier.executorLinear(s, cAttn, x);
            KvCache plain = new KvCache(c.layers(), 1, t, d, pad), shadow = new KvCache(c.layers(), 1, t, d, pad);
            Attention.attend(plain, layer, qkv, t, c.heads(), c.attentionScale(layer));
            shadow.append(layer, masked, masked, d, 2 * d, t);

            AttentionCore.Errors right = new AttentionCore.Errors();
            AttentionCore.compare(plain, shadow, layer, qkv, masked, t, c.heads(), c.attentionScale(layer),
                    obf.valueMasks(layer), right);
            assertThat(right.pvRecovered.stats().allclose()).isTrue();
            assertThat(right.scores.stats().allclose()).isTrue();

            List<Mask> wrong = new ArrayList<>();
            for (int h = 0; h < c.heads(); h++) {
                wrong.add(MaskFamily.DEFAULT.sample(c.headDim(), r));
            }
            AttentionCore.Errors bad = new AttentionCore.Errors();
            AttentionCore.compare(plain, shadow, layer, qkv, masked, t, c.heads(), c.attentionScale(layer), wrong, bad);
            assertThat(bad.pvRecovered.stats().allclose()).isFalse();
            assertThat(bad.pvMasked.stats().allclose()).isFalse();

            // key masks equal to the query masks: N_Q·N_Kᵀ ≠ I for a non-orthogonal family
            ErrorAccumulator id = new ErrorAccumulator();
            List<Mask> q = new ArrayList<>();
            for (int h = 0; h < c.heads(); h++) {
                q.add(MaskFamily.parse("gaussian").sample(c.headDim(), r));
            }
            AttentionCore.identity(q, q, id);
            assertThat(id.stats().allclose()).isFalse();
            ErrorAccumulator ok = new ErrorAccumulator();
            AttentionCore.identity(q, q.stream().map(Mask::transposeInverse).toList(), ok);
            assertThat(ok.stats().allclose()).isTrue();
        }
    }

    @Test
    void sharedFixturesPassWithAndWithoutAdapter() {
        Path shared = Path.of(System.getProperty("privllm.shared", "../shared")).resolve("fixtures");
        List<Path> dirs = new ArrayList<>();
        for (String n : List.of("tiny-random-gpt2", "tiny-gpt2")) {
            if (Files.exists(shared.resolve(n).resolve("config.json"))) {
                dirs.add(shared.resolve(n));
            }
        }
        Assumptions.assumeTrue(!dirs.isEmpty(), "shared fixtures absent");
        for (Path dir : dirs) {
            Gpt2Model m = Gpt2Model.load(dir);
            for (String mode : List.of("mask", "pad")) {
                for (boolean lora : List.of(false, true)) {
                    List<Check> checks = verify(m, config(mode, "orthogonal"), lora);
                    assertThat(checks).as(dir.getFileName() + " " + mode + (lora ? " lora" : ""))
                            .filteredOn(ch -> !ch.pass()).isEmpty();
                }
            }
        }
    }

    @Test
    void plainOpsIsTheReference() {
        // the merged-adapter reference equals the unmerged plaintext layer (sanity of LoraMerge)
        LoraAdapter a = Verifier.randomAdapter(TINY, 4);
        var merged = org.privllm.trusted.lora.LoraMerge.merged(MODEL.decoder().weights(), a.layers());
        var plain = Verifier.linear(MODEL.decoder().weights(), "h.1.mlp.c_fc").withLora(a.layers().get("h.1.mlp.c_fc"));
        Matrix x = new Matrix(3, TINY.embd());
        for (int i = 0; i < x.data.length; i++) {
            x.data[i] = (float) Math.sin(i);
        }
        Matrix viaEngine = new PlainDecoderOps(MODEL.decoder().config(), merged).mlpUp(1, x);
        assertThat(org.privllm.trusted.verify.ErrorStats.compare(Dense.toFloat(plain.forward(Dense.of(x))), viaEngine)
                .allclose()).isTrue();
        assertThat(org.privllm.trusted.verify.ErrorStats.compare(new PlainDecoderOps(MODEL.decoder().config(), MODEL.decoder().weights()).mlpUp(1, x), viaEngine)
                .allclose()).as("the adapter changes the layer").isFalse();
    }
}
