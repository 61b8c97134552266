package org.privllm.cli;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import org.privllm.lab.leakage.LeakageConfig;
import org.privllm.lab.leakage.LeakageLab;
import org.privllm.lab.leakage.LeakagePrompts;
import org.privllm.lab.leakage.RecordedTranscript;
import org.privllm.lab.leakage.ViewCollector;
import org.privllm.trusted.obf.MaskScope;
import org.privllm.trusted.obf.ObfuscationMode;
import org.privllm.lab.report.ResultTable;
import org.privllm.model.Gpt2Model;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "leakage", mixinStandardHelpOptions = true, description = "Attacks on the untrusted executor's own view (its transcript) plus public knowledge, "
        + "for every configuration: vocabulary matching, mask recovery from weights, attention scores, linkability, output tokens, "
        + "and the stronger attacks: pad removal from the compensations, mask recovery for any invertible mask (c_attn's block "
        + "structure, double-centring for permutations), the LM head read through its recovered input mask.")
final class ExperimentLeakageCommand implements Callable<Integer> {
    @Mixin ModelOptions model = new ModelOptions();
    @Mixin ExperimentRun run = new ExperimentRun();

    @Option(names = "--prompts", paramLabel = "FILE", description = "prompts, one per line (default: 60 built-in sentences)")
    Path prompts;

    @Option(names = "--count", defaultValue = "50", description = "prompts to run per configuration (default ${DEFAULT-VALUE})")
    int count;

    @Option(names = "--new-tokens", defaultValue = "4", description = "tokens generated per prompt (default ${DEFAULT-VALUE})")
    int newTokens;

    @Option(names = "--only", paramLabel = "REGEX", description = "run only configurations whose name matches (e.g. 'plain|mask/orthogonal')")
    String only;

    @Option(names = "--transcript", paramLabel = "DIR", description = "attack what a real executor process recorded "
            + "(privllm executor --transcript DIR) instead of running the grid; needs --truth and --masks")
    Path transcript;

    @Option(names = "--truth", paramLabel = "FILE", description = "with --transcript: the trusted side's own output, "
            + "generate --json lines in the order the runs started, one client at a time (used only to score the attacks)")
    Path truth;

    @Mixin MaskFamilyOption masks = new MaskFamilyOption();

    @Option(names = "--privacy", paramLabel = "strong|two-party[,…]", description = "attack the blinded levels instead of the "
            + "seed grid: each level (with a private adapter, with known plaintext; strong also over a pad-ratio curve), every party")
    String privacy;

    @Option(names = "--party", defaultValue = "0", description = "with --transcript at two-party: 0 for the X+R executor, 1 for the -R one")
    int party;

    @Option(names = "--known-first", description = "with --transcript at a blinded level: the first prompt of every generation "
            + "is known to the attacker (a shared system prompt)")
    boolean knownFirst;

    @Option(names = "--no-all-layers", description = "blinded levels: skip the whole-vocabulary likelihood over every layer at "
            + "position 0 (a full forward pass per vocabulary entry)")
    boolean noAllLayers;

    @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        checkOptions();
        Gpt2Model m = model.gpt2("experiment leakage");
        if (privacy != null && transcript != null) {
            List<org.privllm.trusted.privacy.PrivacyLevel> levels = BlindedLeakageRun.levels(privacy);
            if (levels.size() != 1) {
                throw new IllegalArgumentException("--transcript holds one level: give --privacy strong or two-party");
            }
            return BlindedLeakageRun.recorded(m, transcript, truth, levels.get(0), party, knownFirst, !noAllLayers, run.out,
                    run.info(m.config()));
        }
        if (transcript != null) {
            return recorded(m);
        }
        List<String> texts = null;
        if (prompts != null) {
            if (!Files.isRegularFile(prompts)) {
                throw new IllegalArgumentException("--prompts " + prompts + ": no such file");
            }
            texts = Files.readAllLines(prompts, StandardCharsets.UTF_8).stream().map(String::strip).filter(s -> !s.isEmpty()).toList();
            if (texts.isEmpty()) {
                throw new IllegalArgumentException("--prompts " + prompts + " holds no prompt");
            }
        }
        long base = run.seed != null ? run.seed : new SecureRandom().nextLong();
        List<int[]> ids = LeakagePrompts.resolve(texts, model.tokenizer(), m.config().vocab(), m.config().positions(), count, base);
        if (privacy != null) {
            var blinded = BlindedLeakageRun.configs(BlindedLeakageRun.levels(privacy), only);
            var adapter = org.privllm.lab.leakage.ViewCollector.userAdapter(m.config(), base);
            return BlindedLeakageRun.grid(m, ids, blinded, newTokens, base, !noAllLayers, adapter, run.out, run.info(m.config()));
        }
        List<LeakageConfig> configs = LeakageConfig.all(m.config().embd());
        if (only != null) {
            Pattern p = Pattern.compile(only);
            configs = configs.stream().filter(c -> p.matcher(c.name()).find()).toList();
            if (configs.isEmpty()) {
                throw new IllegalArgumentException("--only '" + only + "' matches no configuration");
            }
        }
        int widest = Math.max(m.config().embd(), m.config().inner());
        if (widest > org.privllm.trusted.mask.DenseMask.MAX_GAUSSIAN_DIM
                && configs.stream().anyMatch(c -> c.family() instanceof org.privllm.trusted.mask.MaskFamily.Gaussian)) {
            System.err.printf("leakage: skipping the gaussian rows: dense Gaussian masks are refused above d = %d "
                    + "(this model needs d = %d; its condition number ~4.7·d is too large for float32)%n",
                    org.privllm.trusted.mask.DenseMask.MAX_GAUSSIAN_DIM, widest);
            configs = configs.stream().filter(c -> !(c.family() instanceof org.privllm.trusted.mask.MaskFamily.Gaussian)).toList();
        }
        long t0 = System.nanoTime();
        ResultTable table = new LeakageLab(m.config(), m.weights(), newTokens, base).run(configs, ids, base, run.out,
                run.info(m.config()), true);
        System.out.println(table.toMarkdown(run.info(m.config())));
        System.err.printf("leakage: %d configurations x %d prompts in %.1f s; results in %s%n", configs.size(), ids.size(),
                (System.nanoTime() - t0) / 1e9, run.out);
        return 0;
    }

    /** Option checks that need no model: one-line errors before seconds of loading. */
    private void checkOptions() {
        var parsed = spec.commandLine().getParseResult();
        if (privacy != null) {
            BlindedLeakageRun.levels(privacy);
            if (parsed.hasMatchedOption("--masks")) {
                throw new IllegalArgumentException("--masks is for the seed level; the blinded levels use no masks");
            }
            if ((transcript == null) != (truth == null)) {
                throw new IllegalArgumentException("--transcript and --truth go together");
            }
            if (transcript != null && !Files.isDirectory(transcript)) {
                throw new IllegalArgumentException("--transcript " + transcript + ": no such directory");
            }
            return;
        }
        for (String blindedOnly : new String[] {"--party", "--known-first", "--no-all-layers"}) {
            if (parsed.hasMatchedOption(blindedOnly)) {
                throw new IllegalArgumentException(blindedOnly + " is for --privacy strong|two-party");
            }
        }
        if (transcript == null && truth == null) {
            if (parsed.hasMatchedOption("--masks")) {
                throw new IllegalArgumentException("--masks is for --transcript; the grid runs every family (use --only to pick rows)");
            }
            return;
        }
        if (transcript == null || truth == null) {
            throw new IllegalArgumentException("--transcript and --truth go together");
        }
        if (!parsed.hasMatchedOption("--masks")) {
            // the attacker knows the scheme (Kerckhoffs), but this lab cannot guess it: the matcher depends on it
            throw new IllegalArgumentException("--transcript needs --masks: the mask family the run used");
        }
        for (String grid : new String[] {"--prompts", "--only", "--count", "--new-tokens", "--seed"}) {
            if (parsed.hasMatchedOption(grid)) {
                throw new IllegalArgumentException(grid + " is for the grid run; with --transcript the prompts and tokens are in --truth");
            }
        }
        if (!Files.isDirectory(transcript)) {
            throw new IllegalArgumentException("--transcript " + transcript + ": no such directory");
        }
        if (!Files.isRegularFile(truth)) {
            throw new IllegalArgumentException("--truth " + truth + ": no such file");
        }
        masks.family();
    }

    /** {@code --transcript}: one row, the attacks on a recorded executor's view, scored against {@code --truth}. */
    private int recorded(Gpt2Model m) throws Exception {
        long t0 = System.nanoTime();
        RecordedTranscript rec = RecordedTranscript.read(transcript, m.config());
        List<ViewCollector.Sample> samples = rec.samples(truthSequences(truth));
        if (rec.skipped() > 0) {
            System.err.printf("leakage: %d incomplete generation(s) in the transcript left out (a failed, retried or "
                    + "killed run)%n", rec.skipped());
        }
        LeakageConfig lc = LeakageConfig.masked(rec.padMode() ? ObfuscationMode.PAD : ObfuscationMode.MASK, masks.family(),
                rec.perCall() ? MaskScope.PER_CALL : MaskScope.PER_SESSION, rec.lora());
        var row = new LeakageLab(m.config(), m.weights(), 1, 0).recordedRow(lc, samples, rec.generations());
        ResultTable table = LeakageLab.write(List.of(row), run.out, run.info(m.config()));
        System.out.println(table.toMarkdown(run.info(m.config())));
        System.err.printf("leakage: %d sequences from %d generations in %s attacked in %.1f s; results in %s%n",
                samples.size(), rec.generations(), transcript, (System.nanoTime() - t0) / 1e9, run.out);
        return 0;
    }

    /** Every {@code output_ids} sequence of the {@code generate --json} objects in {@code file}, in order. */
    static List<int[]> truthSequences(Path file) throws java.io.IOException {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("--truth " + file + ": no such file");
        }
        List<int[]> out = new ArrayList<>();
        try (var parser = Json.MAPPER.createParser(file.toFile())) {
            var it = Json.MAPPER.readValues(parser, JsonNode.class);
            while (it.hasNext()) {
                JsonNode ids = it.next().get("output_ids");
                if (ids == null || !ids.isArray()) {
                    throw new IllegalArgumentException("--truth " + file + ": expected generate --json output (objects with output_ids)");
                }
                for (JsonNode seq : ids) {
                    int[] a = new int[seq.size()];
                    for (int k = 0; k < a.length; k++) {
                        a[k] = seq.get(k).asInt();
                    }
                    out.add(a);
                }
            }
        } catch (com.fasterxml.jackson.core.JacksonException | RuntimeException e) {
            if (e instanceof IllegalArgumentException iae) {
                throw iae;
            }
            throw new IllegalArgumentException("--truth " + file + ": not JSON (" + e.getMessage().lines().findFirst().orElse("") + ")");
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("--truth " + file + " holds no sequence");
        }
        return out;
    }
}
