package org.privllm.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.privllm.lab.leakage.blinded.BlindedLab;
import org.privllm.lab.leakage.blinded.BlindedSample;
import org.privllm.lab.leakage.blinded.RecordedBlinded;
import org.privllm.lab.report.ResultTable;
import org.privllm.lab.report.RunInfo;
import org.privllm.model.Gpt2Model;
import org.privllm.trusted.lora.LowRankAdapter;
import org.privllm.trusted.privacy.PrivacyLevel;

/** {@code experiment leakage --privacy strong|two-party}: the blinded levels' lab, in-process or on a recorded transcript. */
final class BlindedLeakageRun {
    private BlindedLeakageRun() {}

    /** The grid rows of the named levels (with the strong level's pad-ratio curve), filtered by {@code only}. */
    static List<BlindedLab.Config> configs(List<PrivacyLevel> levels, String only) {
        List<BlindedLab.Config> c = BlindedLab.grid().stream().filter(x -> levels.contains(x.level())).toList();
        if (only != null) {
            Pattern p = Pattern.compile(only);
            c = c.stream().filter(x -> p.matcher(x.name()).find()).toList();
            if (c.isEmpty()) {
                throw new IllegalArgumentException("--only '" + only + "' matches no configuration of these levels");
            }
        }
        return c;
    }

    static List<PrivacyLevel> levels(String privacy) {
        List<PrivacyLevel> l = Arrays.stream(privacy.split(",")).map(String::trim).map(PrivacyLevel::parse).toList();
        if (l.contains(PrivacyLevel.SEED)) {
            throw new IllegalArgumentException("--privacy seed is the grid without --privacy; name strong and/or two-party here");
        }
        return l;
    }

    static int grid(Gpt2Model m, List<int[]> prompts, List<BlindedLab.Config> configs, int newTokens, long seed,
                    boolean allLayers, Map<String, LowRankAdapter> adapter, Path out, RunInfo info) {
        long t0 = System.nanoTime();
        ResultTable table = new BlindedLab(m.config(), m.weights(), newTokens, adapter).run(configs, prompts, seed, allLayers,
                out, info, true);
        System.out.println(table.toMarkdown(info));
        System.err.printf("leakage: %d blinded configurations x %d prompts in %.1f s; results in %s%n", configs.size(),
                prompts.size(), (System.nanoTime() - t0) / 1e9, out);
        return 0;
    }

    /** {@code --transcript} at a blinded level: one row, the attacks on one party's recorded view. */
    static int recorded(Gpt2Model m, Path transcript, Path truth, PrivacyLevel level, int party, boolean knownFirst,
                        boolean allLayers, Path out, RunInfo info) throws java.io.IOException {
        if (party < 0 || party >= level.parties()) {
            throw new IllegalArgumentException("--party must be 0" + (level.parties() > 1 ? " or 1" : "") + " at --privacy " + level);
        }
        long t0 = System.nanoTime();
        List<BlindedSample> samples = RecordedBlinded.read(transcript, m.config().layers(), party, generations(truth), knownFirst);
        String name = level.label() + (knownFirst ? "+known" : "") + (level.parties() > 1 ? (party == 0 ? " (party A: X+R)" : " (party B: -R)") : "")
                + " (transcript)";
        BlindedLab lab = new BlindedLab(m.config(), m.weights(), 1, Map.of());
        // a repeated prompt in the transcript is the pad-averaging attack's material: every later run of it
        List<BlindedSample> first = new ArrayList<>(), repeats = new ArrayList<>();
        for (BlindedSample s : samples) {
            (first.stream().anyMatch(f -> Arrays.equals(f.prompt(), s.prompt())) ? repeats : first).add(s);
        }
        var row = lab.attack(name, first, repeats, Double.NaN, Double.NaN, allLayers, 1);
        ResultTable table = BlindedLab.write(List.of(row), out, info);
        System.out.println(table.toMarkdown(info));
        System.err.printf("leakage: %d sequences (%d repeats) from %s attacked in %.1f s; results in %s%n", first.size(),
                repeats.size(), transcript, (System.nanoTime() - t0) / 1e9, out);
        return 0;
    }

    /** The generations of {@code generate --json} lines: each needs {@code output_ids} and {@code prompt_lengths}. */
    static List<RecordedBlinded.Generation> generations(Path file) throws java.io.IOException {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("--truth " + file + ": no such file");
        }
        List<RecordedBlinded.Generation> out = new ArrayList<>();
        try (var parser = Json.MAPPER.createParser(file.toFile())) {
            var it = Json.MAPPER.readValues(parser, JsonNode.class);
            while (it.hasNext()) {
                JsonNode n = it.next(), ids = n.get("output_ids"), lens = n.get("prompt_lengths");
                if (ids == null || lens == null || !ids.isArray() || ids.size() != lens.size()) {
                    throw new IllegalArgumentException("--truth " + file + ": expected generate --json lines with output_ids and prompt_lengths");
                }
                List<int[]> prompts = new ArrayList<>(), generated = new ArrayList<>();
                for (int b = 0; b < ids.size(); b++) {
                    int[] all = new int[ids.get(b).size()];
                    for (int k = 0; k < all.length; k++) {
                        all[k] = ids.get(b).get(k).asInt();
                    }
                    int len = lens.get(b).asInt();
                    if (len < 1 || len > all.length) {
                        throw new IllegalArgumentException("--truth " + file + ": a prompt length " + len + " does not fit its output_ids");
                    }
                    prompts.add(Arrays.copyOf(all, len));
                    generated.add(Arrays.copyOfRange(all, len, all.length));
                }
                out.add(new RecordedBlinded.Generation(prompts, generated));
            }
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new IllegalArgumentException("--truth " + file + ": not JSON (" + e.getMessage().lines().findFirst().orElse("") + ")");
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("--truth " + file + " holds no generation");
        }
        return out;
    }
}
