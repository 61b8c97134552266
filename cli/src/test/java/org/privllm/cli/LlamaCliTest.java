package org.privllm.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.privllm.cli.CliTest.assertOneLineError;
import static org.privllm.cli.CliTest.run;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.privllm.testing.Cases;
import org.privllm.untrusted.server.ExecutorServerMain;

/**
 * The Llama family from the command line: {@code fixture --arch …} checkpoints of varied shapes (GQA, head_dim ≠
 * hidden/heads, biases, q/k norm, tied and untied heads, llama3 rope scaling, F16/BF16, shards) and the real
 * stories260k, with and without a Llama-named LoRA adapter; {@code generate --privacy strong|two-party --check}
 * gives the plaintext ids and logits within 1e-4, in process and over two executor servers; fixture, verify, bench,
 * demo and logits on a Llama model (the seed level on the family: {@link SeedLlamaCliTest}).
 */
class LlamaCliTest {
    @TempDir static Path tmp;
    static Path llama;

    @BeforeAll
    static void fixture() {
        llama = tmp.resolve("llama");
        CliTest.Run r = run("fixture", "--arch", "llama", "--out", llama.toString(), "--layers", "2", "--hidden", "32", "--heads",
                "6", "--kv-heads", "2", "--head-dim", "8", "--inner", "48", "--vocab", "200", "--positions", "64",
                "--rope-scaling", "llama3:8:1:4:32", "--seed", "5");
        assertThat(r.code()).as(r.err()).isZero();
    }

    static String[] concat(String[] a, String... b) {
        String[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    static JsonNode ok(String... args) throws Exception {
        CliTest.Run r = run(args);
        assertThat(r.code()).as(String.join(" ", args) + "\n" + r.err()).isZero();
        return r.json();
    }

    /** {@code generate --json} of 6 new tokens on {@code model} with {@code extra} options. */
    static JsonNode generate(Path model, String ids, String... extra) throws Exception {
        return generate(model, ids, 6, extra);
    }

    static JsonNode generate(Path model, String ids, int newTokens, String... extra) throws Exception {
        return ok(concat(new String[] {"generate", "--model", model.toString(), "--input-ids", ids, "--max-new-tokens",
                String.valueOf(newTokens), "--json"}, extra));
    }

    /** The protected run equals plaintext: ids exact (also against a separate plaintext run), logits within 1e-4. */
    static void assertMatchesPlaintext(Path model, String ids, String... extra) throws Exception {
        JsonNode plain = generate(model, ids, extra.length > 0 && extra[0].equals("--lora") ? Arrays.copyOf(extra, 2) : new String[0]);
        for (String level : List.of("strong", "two-party")) {
            JsonNode j = generate(model, ids, concat(extra, "--privacy", level, "--check"));
            assertThat(j.get("output_ids")).as(level + " " + String.join(" ", extra)).isEqualTo(plain.get("output_ids"));
            assertThat(j.get("max_logit_abs_err").asDouble()).as(level).isLessThan(1e-4);
        }
    }

    static Stream<Arguments> everyFamilyFromTheCommandLineMatchesPlaintext() {
        return Cases.of(8, 52_000, d -> {
            String arch = d.oneOf("llama", "mistral", "qwen2", "qwen3");
            int kv = d.intIn(1, 2), heads = kv * d.intIn(1, 3);
            List<String> args = new ArrayList<>(List.of("--arch", arch, "--layers", String.valueOf(d.intIn(1, 2)), "--hidden",
                    String.valueOf(d.oneOf(16, 24)), "--heads", String.valueOf(heads), "--kv-heads", String.valueOf(kv),
                    "--head-dim", String.valueOf(d.oneOf(4, 8, 12)), "--inner", String.valueOf(d.intIn(8, 40)), "--vocab",
                    String.valueOf(d.intIn(30, 300)), "--positions", "48", "--dtype", d.oneOf("f32", "f16", "bf16"), "--shards",
                    String.valueOf(d.intIn(1, 3)), "--rope-theta", d.oneOf("10000", "500000"), "--seed",
                    String.valueOf(d.intIn(0, 1000))));
            if (d.bool()) {
                args.add("--tied");
            }
            if (d.bool()) {
                args.addAll(List.of("--rope-scaling", "llama3:" + d.oneOf("2", "8") + ":1:4:32"));
            }
            if ((arch.equals("llama") || arch.equals("qwen3")) && d.bool()) {
                args.add("--attention-bias");
            }
            String targets = d.bool() ? null : d.oneOf("q_proj", "k_proj,v_proj", "q_proj,o_proj,up_proj", "gate_proj,down_proj",
                    "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj");
            return new Object[] {args, targets};
        });
    }

    @ParameterizedTest(name = "[{index}] {0} lora={1}")
    @MethodSource
    void everyFamilyFromTheCommandLineMatchesPlaintext(List<String> fixture, String targets, @TempDir Path dir) throws Exception {
        Path m = dir.resolve("m");
        CliTest.Run w = run(concat(concat(new String[] {"fixture", "--out", m.toString()}), fixture.toArray(String[]::new)));
        assertThat(w.code()).as(w.err()).isZero();
        int vocab = Integer.parseInt(fixture.get(fixture.indexOf("--vocab") + 1));
        String ids = (7 % vocab) + "," + (11 % vocab) + "," + (29 % vocab) + ";" + (3 % vocab);
        if (targets == null) {
            assertMatchesPlaintext(m, ids);
        } else {
            Path lora = dir.resolve("lora");
            CliTest.Run l = run("fixture", "--lora", lora.toString(), "--model", m.toString(), "--r", "2", "--targets", targets);
            assertThat(l.code()).as(l.err()).isZero();
            assertMatchesPlaintext(m, ids, "--lora", lora.toString());
        }
    }

    @Test
    void fixtureWritesWhatItsFlagsSay() throws Exception {
        JsonNode c = Json.MAPPER.readTree(llama.resolve("config.json").toFile());
        assertThat(c.get("model_type").asText()).isEqualTo("llama");
        assertThat(c.get("num_attention_heads").asInt()).isEqualTo(6);
        assertThat(c.get("num_key_value_heads").asInt()).isEqualTo(2);
        assertThat(c.get("head_dim").asInt()).isEqualTo(8);
        assertThat(c.get("intermediate_size").asInt()).isEqualTo(48);
        assertThat(c.get("tie_word_embeddings").asBoolean()).isFalse();
        assertThat(c.get("rope_scaling").get("factor").asDouble()).isEqualTo(8.0);
        assertThat(c.get("rope_scaling").get("original_max_position_embeddings").asInt()).isEqualTo(32);
        Path q = tmp.resolve("q2");
        assertThat(run("fixture", "--arch", "qwen2", "--out", q.toString(), "--hidden", "16", "--heads", "2", "--vocab", "50",
                "--dtype", "bf16", "--shards", "2", "--tied").code()).isZero();
        assertThat(Files.exists(q.resolve("model.safetensors.index.json"))).isTrue();
        JsonNode qc = Json.MAPPER.readTree(q.resolve("config.json").toFile());
        assertThat(qc.get("torch_dtype").asText()).isEqualTo("bfloat16");
        assertThat(qc.get("tie_word_embeddings").asBoolean()).isTrue();
        assertThat(qc.get("num_key_value_heads").asInt()).isEqualTo(2);
        assertThat(qc.get("head_dim").asInt()).isEqualTo(8);
        assertThat(qc.get("intermediate_size").asInt()).isEqualTo(48); // 8/3·16 rounded up to a multiple of 8
    }

    /** {@code --tokenizer DIR} copies GPT-2's files into a Llama checkpoint: {@code --prompt} then works there. */
    @Test
    void aCopiedTokenizerServesPrompts() throws Exception {
        Path gpt2 = tmp.resolve("gpt2"), m = tmp.resolve("tokenized");
        assertThat(run("fixture", "--out", gpt2.toString(), "--layers", "1", "--embd", "16", "--heads", "2").code()).isZero();
        CliTest.Run w = run("fixture", "--arch", "mistral", "--out", m.toString(), "--layers", "1", "--hidden", "16", "--heads",
                "2", "--kv-heads", "1", "--vocab", "50257", "--positions", "32", "--tokenizer", gpt2.toString());
        assertThat(w.code()).as(w.err()).isZero();
        assertThat(w.err()).contains("copied vocab.json, merges.txt");
        assertThat(Files.exists(m.resolve("vocab.json")) && Files.exists(m.resolve("merges.txt"))).isTrue();
        JsonNode j = ok("generate", "--model", m.toString(), "--prompt", "Hello World", "--max-new-tokens", "3", "--json",
                "--privacy", "strong", "--check");
        assertThat(j.get("output_ids").get(0).get(0).asInt()).isEqualTo(15496);
        assertThat(j.get("texts").get(0).asText()).startsWith("Hello World");
        assertThat(j.get("max_logit_abs_err").asDouble()).isLessThan(1e-4);
        assertOneLineError(run("fixture", "--arch", "llama", "--out", tmp.resolve("x").toString(), "--tokenizer", tmp.toString()),
                "no tokenizer.json and no vocab.json + merges.txt");
    }

    @Test
    void fixtureMistakesAreOneLineErrors() {
        String out = tmp.resolve("bad").toString();
        assertOneLineError(run("fixture", "--arch", "gemma", "--out", out), "--arch must be gpt2, llama, mistral, qwen2 or qwen3");
        assertOneLineError(run("fixture", "--arch", "llama", "--out", out, "--hidden", "48", "--heads", "6", "--kv-heads", "4"),
                "--kv-heads 4 must divide --heads 6");
        assertOneLineError(run("fixture", "--arch", "llama", "--out", out, "--hidden", "30", "--heads", "4"), "give --head-dim");
        assertOneLineError(run("fixture", "--out", out, "--kv-heads", "2"), "--kv-heads apply to the Llama family, not gpt2");
        assertOneLineError(run("fixture", "--arch", "llama", "--out", out, "--rope-scaling", "yarn:4"), "--rope-scaling must be");
        assertOneLineError(run("fixture", "--arch", "llama", "--out", out, "--rope-scaling", "llama3:8:4:1:32"), "--rope-scaling");
        assertOneLineError(run("fixture", "--arch", "mistral", "--out", out, "--attention-bias"), "mistral has no attention_bias");
        assertOneLineError(run("fixture", "--arch", "qwen2", "--preset", "gpt2", "--out", out), "--preset gpt2 is a gpt2, not qwen2");
        assertOneLineError(run("fixture", "--arch", "llama", "--out", out, "--dtype", "f8"), "--dtype must be f32, f16 or bf16");
        assertOneLineError(run("fixture", "--arch", "llama", "--out", out, "--shards", "0"), "--shards must be >= 1");
        assertOneLineError(run("fixture", "--lora", out, "--model", llama.toString(), "--targets", "c_attn"),
                "adapter targets must be among q_proj");
    }

    /** The seed-level leakage lab stays GPT-2's (one line); seed-only options still configure only the seed level. */
    @Test
    void theLeakageLabIsGpt2sAndSeedOptionsStaySeeds() {
        String m = llama.toString();
        assertOneLineError(run("experiment", "leakage", "--model", m, "--out", tmp.resolve("s").toString()),
                "experiment leakage runs on GPT-2 only so far");
        assertOneLineError(run("verify", "--model", m, "--privacy", "strong", "--masks", "perm"), "configure --privacy seed");
    }

    /** Generation stops on any of the config's eos ids, protected or not. */
    @Test
    void severalEosIdsStopGeneration(@TempDir Path dir) throws Exception {
        Path m = dir.resolve("eos");
        assertThat(run("fixture", "--arch", "qwen3", "--out", m.toString(), "--layers", "1", "--hidden", "16", "--heads", "2",
                "--vocab", "60", "--positions", "40", "--seed", "9").code()).isZero();
        JsonNode ids = generate(m, "5,6,7", 12).get("output_ids").get(0);
        // a token it generates (the third, or the last when eos 2 came sooner) becomes a second eos id
        int third = ids.get(3 + Math.min(2, ids.size() - 4)).asInt();
        int firstAt = 0;
        while (ids.get(3 + firstAt).asInt() != third) {
            firstAt++;
        }
        Path config = m.resolve("config.json");
        Files.writeString(config, Files.readString(config).replace("\"eos_token_id\" : 2", "\"eos_token_id\" : [ 2, " + third + " ]"));
        assertThat(Files.readString(config)).contains("[ 2, " + third + " ]");
        for (String[] level : new String[][] {{}, {"--privacy", "two-party", "--check"}}) {
            JsonNode j = generate(m, "5,6,7", 12, level);
            assertThat(j.get("output_ids").get(0)).as(Arrays.toString(level)).hasSize(3 + firstAt + 1);
            assertThat(j.get("output_ids").get(0).get(3 + firstAt).asInt()).isEqualTo(third);
        }
    }

    /** Two executor servers, each a party: two-party generation with a private Llama adapter gives the plaintext ids. */
    @Test
    void twoPartyOverTwoExecutorServersWithAnAdapter() throws Exception {
        Path lora = tmp.resolve("llama-lora");
        assertThat(run("fixture", "--lora", lora.toString(), "--model", llama.toString(), "--r", "3").code()).isZero();
        var a = ExecutorServerMain.start(PrivacyCliTest.options(tmp.resolve("ta")));
        var b = ExecutorServerMain.start(PrivacyCliTest.options(tmp.resolve("tb")));
        try {
            JsonNode plain = generate(llama, "1,2,3;4", "--lora", lora.toString());
            JsonNode base = generate(llama, "1,2,3;4");
            assertThat(plain.get("output_ids")).isNotEqualTo(base.get("output_ids")); // the adapter matters
            JsonNode j = generate(llama, "1,2,3;4", "--lora", lora.toString(), "--privacy", "two-party", "--executor",
                    "127.0.0.1:" + a.port(), "--share-executor", "127.0.0.1:" + b.port(), "--check");
            assertThat(j.get("output_ids")).isEqualTo(plain.get("output_ids"));
            assertThat(j.get("max_logit_abs_err").asDouble()).isLessThan(1e-4);
            JsonNode s = generate(llama, "1,2,3;4", "--lora", lora.toString(), "--executor", "127.0.0.1:" + a.port(), "--check");
            assertThat(s.get("output_ids")).isEqualTo(plain.get("output_ids"));
        } finally {
            a.close();
            b.close();
        }
        // each party saw float64 linear calls only: no attention, no cache, no float32 linear
        for (String t : List.of("ta", "tb")) {
            assertThat(Files.readString(tmp.resolve(t).resolve("index.jsonl"))).contains("\"linear64\"")
                    .doesNotContain("\"attention\"").doesNotContain("\"linear\"");
        }
    }

    /** verify, bench, demo and logits on a Llama model. */
    @Test
    void verifyBenchDemoAndLogitsRunOnLlama() throws Exception {
        String m = llama.toString();
        for (String level : List.of("strong", "two-party")) {
            CliTest.Run v = run("verify", "--model", m, "--privacy", level, "--seed", "4", "--json");
            assertThat(v.code()).as(v.err()).isZero();
            assertThat(v.out()).contains("stage1_linear", "stage1_lora", "stage2_block", "stage3_cache", "stage4_module")
                    .doesNotContain("\"allclose\":false");
        }
        JsonNode bench = ok("bench", "--model", m, "--prompt-tokens", "6", "--new-tokens", "3", "--reps", "1", "--privacy",
                "strong", "--json");
        // 2 layers, kv width 2·8: the trusted cache and the per-token figures use it; q width 6·8 = 48
        assertThat(bench.path("trusted_attention_per_token").path("1024").path("kv_bytes").asLong()).isEqualTo(2L * 2 * 1024 * 16 * 4);
        assertThat(bench.path("trusted_attention_per_token").path("128").path("flops").asLong())
                .isEqualTo(2L * (4L * 128 * 48 + 5L * 128 * 6));
        assertThat(bench.path("trusted_kv_bytes").asLong()).isEqualTo(2L * 2 * (6 + 3) * 16 * 4);
        assertThat(bench.path("trusted_flops_by_kind").has("rope")).isTrue();
        // fused q/k/v 32×(48+32), out 48×32, [gate|up] 32×96, down 48×32, per layer; head 200×32
        assertThat(BenchCommand.decodeWeightFloats(org.privllm.model.DecoderModel.loadConfig(llama)))
                .isEqualTo(2 * (32 * 80 + 48 * 32 + 32 * 96 + 48 * 32) + 200 * 32);
        CliTest.Run demo = run("demo", "--model", m, "--privacy", "two-party", "--max-new-tokens", "4");
        assertThat(demo.code()).as(demo.err()).isZero();
        assertThat(demo.out()).contains("(llama, 2 layers, hidden 32, 6 heads (2 kv), vocab 200)", "identical:   yes");
        JsonNode logits = ok("logits", "--model", m, "--input-ids", "3,1,4", "--json", "--privacy", "strong", "--check");
        assertThat(logits.get("logits")).hasSize(3);
        assertThat(logits.get("logits").get(0)).hasSize(200);
        assertThat(logits.get("max_logit_abs_err").asDouble()).isLessThan(1e-4);
    }

    /** The real stories260k (skipped when absent), with and without a Llama-named adapter. */
    @Test
    void stories260kMatchesPlaintext() throws Exception {
        Path s = Path.of(System.getProperty("privllm.shared", "../shared")).resolve("fixtures").resolve("stories260k");
        Assumptions.assumeTrue(Files.exists(s.resolve("config.json")), "stories260k absent");
        assertMatchesPlaintext(s, "1,403,407,261;1,68");
        Path lora = tmp.resolve("stories-lora");
        assertThat(run("fixture", "--lora", lora.toString(), "--model", s.toString(), "--r", "4", "--targets",
                "q_proj,v_proj,down_proj").code()).isZero();
        assertMatchesPlaintext(s, "1,403,407,261;1,68", "--lora", lora.toString());
        // its own tokenizer.json: text in, text out, protected
        JsonNode text = ok("generate", "--model", s.toString(), "--prompt", "Once upon a time", "--max-new-tokens", "12",
                "--json", "--privacy", "two-party", "--check");
        assertThat(text.get("output_ids").get(0).get(0).asInt()).isEqualTo(1); // <s>, as its tokenizer adds it
        assertThat(text.get("texts").get(0).asText()).contains("Once upon a time");
        assertThat(text.get("max_logit_abs_err").asDouble()).isLessThan(1e-4);
    }

    /** {@code fixture --tokenizer} with a real Mistral {@code tokenizer.json}: prompts as Mistral encodes them. */
    @Test
    void aRealTokenizerJsonCopiedIntoAFixture() throws Exception {
        Path t = Path.of(System.getProperty("privllm.shared", "../shared")).resolve("fixtures").resolve("tokenizers")
                .resolve("mistral");
        Assumptions.assumeTrue(Files.exists(t.resolve("tokenizer.json")), "shared tokenizers absent");
        Path m = tmp.resolve("mistral-tok");
        CliTest.Run w = run("fixture", "--arch", "mistral", "--out", m.toString(), "--layers", "1", "--hidden", "16", "--heads",
                "4", "--kv-heads", "1", "--vocab", "32000", "--positions", "32", "--tokenizer", t.toString());
        assertThat(w.code()).as(w.err()).isZero();
        JsonNode j = ok("generate", "--model", m.toString(), "--prompt", "Hello world", "--max-new-tokens", "3", "--json",
                "--privacy", "strong", "--check");
        assertThat(j.get("output_ids").get(0).get(0).asInt()).isEqualTo(1);
        assertThat(j.get("output_ids").get(0).get(1).asInt()).isEqualTo(22557);
        assertThat(j.get("output_ids").get(0).get(2).asInt()).isEqualTo(1526);
        assertThat(j.get("max_logit_abs_err").asDouble()).isLessThan(1e-4);
    }
}
