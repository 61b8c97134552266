package org.privllm.cli;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.privllm.model.DecoderModel;
import org.privllm.model.generate.Generator;
import org.privllm.model.generate.Sampling;
import org.privllm.model.tokenizer.StreamDecoder;
import org.privllm.model.tokenizer.Tokenizer;
import org.privllm.tensor.Matrix;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "generate", mixinStandardHelpOptions = true, description = "Generate text or token ids (greedy or sampled), streaming text as it comes.")
final class GenerateCommand implements Callable<Integer> {
    @Mixin ModelOptions model = new ModelOptions();

    @Option(names = "--prompt", paramLabel = "TEXT", description = "Prompt text (needs the directory's tokenizer).")
    String prompt;

    @Option(names = "--input-ids", paramLabel = "IDS", description = "Prompt token ids: 1,2,3 ; several prompts separated by ';'.")
    String inputIds;

    @Option(names = "--max-new-tokens", defaultValue = "32", description = "New tokens per prompt (default ${DEFAULT-VALUE}).")
    int maxNewTokens;

    @Mixin
    SamplingOptions sampling = new SamplingOptions();

    @Option(names = "--json", description = "Print one JSON object instead of text.")
    boolean json;

    @Mixin EngineOptions engine = new EngineOptions();

    @Option(names = "--length-bucket", defaultValue = "1", paramLabel = "N", description = "Pad the batch's prompt length up "
            + "to a multiple of N (extra rows, same answer): the executors then see only the bucket, not the length.")
    int lengthBucket;

    @Option(names = "--fixed-steps", description = "Run all --max-new-tokens decode steps even after every sequence stopped: "
            + "the executors then cannot count the generated tokens.")
    boolean fixedSteps;

    /** Greedy or sampled decoding options, shared by the commands that generate. */
    static final class SamplingOptions {
        @Option(names = "--greedy", description = "Greedy decoding (the default).")
        boolean greedy;
        @Option(names = "--temperature", paramLabel = "T", description = "Sample with this temperature.")
        Float temperature;
        @Option(names = "--top-k", paramLabel = "K", description = "Keep the K most likely tokens (0: all).")
        int topK = 0;
        @Option(names = "--top-p", paramLabel = "P", description = "Nucleus sampling mass (1: off).")
        float topP = 1f;
        @Option(names = "--seed", paramLabel = "S", description = "Seed for reproducible sampling.")
        Long seed;

        Sampling toSampling() {
            boolean sample = temperature != null || topK != 0 || topP != 1f || seed != null;
            if (greedy && sample) {
                throw new IllegalArgumentException("--greedy cannot be combined with --temperature/--top-k/--top-p/--seed");
            }
            return sample ? Sampling.sample(temperature == null ? 1f : temperature, topK, topP, seed) : Sampling.GREEDY;
        }
    }

    @Override
    public Integer call() throws Exception {
        Sampling s = sampling.toSampling();
        DecoderModel m = model.load();
        Tokenizer tok = model.tokenizer();
        List<int[]> prompts = Prompts.resolve(prompt, inputIds, tok);
        Generator.validate(m.config(), prompts, maxNewTokens);
        engine.validate(m);
        int[] eos = eosIds(m, tok);
        PrintStream out = System.out;
        StreamDecoder stream = !json && tok != null && prompts.size() == 1 ? tok.streamDecoder() : null;
        if (stream != null) {
            // The prompt goes through the same stream, so the output is decode(prompt + generated) exactly
            // (a SentencePiece decoder strips the leading space of the text's first token only).
            for (int id : prompts.get(0)) {
                out.print(stream.push(id));
            }
            out.flush();
        }
        List<Matrix> reference = new ArrayList<>(), observed = new ArrayList<>();
        if (engine.check) {
            new Generator(engine.plainForward(m)).generate(prompts, maxNewTokens, s, eos, null, reference::add);
        }
        int[] streamed = {0};
        Generator.Result r;
        try {
            r = engine.withEngine(m, e -> {
                observed.clear();
                // A retry replays the same tokens from the start: print only those not printed yet.
                int[] seen = {0};
                Generator.TokenListener listener = stream == null ? null : (b, id) -> {
                    if (seen[0]++ >= streamed[0]) {
                        streamed[0]++;
                        out.print(stream.push(id));
                        out.flush();
                    }
                };
                return new Generator(e.forward()).hidingShape(lengthBucket, fixedSteps).generate(prompts, maxNewTokens, s, eos, listener,
                        engine.check ? observed::add : null);
            });
        } finally {
            engine.closeEndpoints();
            if (stream != null) {
                out.flush();
            }
        }
        if (json) {
            Map<String, Object> j = toJson(r, tok);
            j.put("prompt_lengths", prompts.stream().map(p -> p.length).toList());
            if (engine.check) {
                j.put("max_logit_abs_err", Checks.maxAbsError(reference, observed));
            }
            Json.print(out, j);
        } else if (stream != null) {
            out.println(stream.flush());
        } else {
            for (int[] ids : r.outputIds()) {
                out.println(tok != null ? tok.decode(ids) : join(ids));
            }
        }
        if (!json && engine.check) {
            System.err.println("max_logit_abs_err: " + Checks.maxAbsError(reference, observed));
        }
        return 0;
    }

    /**
     * Generation stops on any of the config's eos ids and the tokenizer's ({@code generation_config.json}'s,
     * or its own end-of-text token), those inside the model's vocabulary.
     */
    static int[] eosIds(DecoderModel m, Tokenizer tok) {
        return org.privllm.model.tokenizer.Tokenizers.stopIds(m.config(), tok);
    }

    static Map<String, Object> toJson(Generator.Result r, Tokenizer tok) {
        Map<String, Object> j = new LinkedHashMap<>();
        j.put("output_ids", r.outputIds());
        if (tok != null) {
            List<String> texts = new ArrayList<>();
            for (int[] ids : r.outputIds()) {
                texts.add(tok.decode(ids));
            }
            j.put("texts", texts);
        }
        j.put("prefill_tokens_per_s", Json.round(r.prefillTokensPerSecond(), 2));
        j.put("decode_tokens_per_s", Json.round(r.decodeTokensPerSecond(), 2));
        return j;
    }

    static String join(int[] ids) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < ids.length; i++) {
            sb.append(i == 0 ? "" : ",").append(ids[i]);
        }
        return sb.toString();
    }
}
