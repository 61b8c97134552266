package org.privllm.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.privllm.lab.experiment.attention.AttentionSweep;
import org.privllm.model.DecoderModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code privllm experiment attention}: the attention invariance sweep. */
@Command(name = "attention", mixinStandardHelpOptions = true, description = {
        "Attention invariance sweep: per (batch, prompt length, decode steps, padding) the errors of Q~K~^T vs QK^T,",
        "softmax, P.V~ vs (P.V).N_V, the attention output, the K/V cache appends at prefill and every decode step,",
        "and |N_Q.N_K^T - I|; writes attention.json/.csv/.md and one heatmap per decode count under --out."})
final class ExperimentAttentionCommand implements Callable<Integer> {
    @Mixin ModelOptions model = new ModelOptions();
    @Mixin ExperimentRun run = new ExperimentRun();

    @Option(names = "--batch", defaultValue = "1,2", paramLabel = "LIST", description = "Batch sizes (default ${DEFAULT-VALUE}).")
    String batch;

    @Option(names = "--seq", defaultValue = "4,8,16", paramLabel = "LIST", description = "Prompt lengths (default ${DEFAULT-VALUE}).")
    String seq;

    @Option(names = "--decode", defaultValue = "1,2,4", paramLabel = "LIST", description = "Decode steps (default ${DEFAULT-VALUE}).")
    String decode;

    @Option(names = "--pad", defaultValue = "off,on", paramLabel = "LIST",
            description = "Padding mode off (mask mode), on (pad mode), or both (default ${DEFAULT-VALUE}).")
    String pad;

    @Mixin MaskFamilyOption masks = new MaskFamilyOption();

    @Override
    public Integer call() {
        DecoderModel m = model.load();
        AttentionSweep.Grid grid = new AttentionSweep.Grid(ints("--batch", batch), ints("--seq", seq),
                ints("--decode", decode), pads(pad));
        AttentionSweep.Result r = AttentionSweep.run(m, grid, masks.family(), run.seed,
                run.info(m.config()), run.out, System.err);
        Map<String, Object> j = new LinkedHashMap<>();
        j.put("rows", r.table().rows().size());
        j.put("all_close", r.allClose());
        j.put("files", r.files().stream().map(Path::toString).toList());
        Json.print(System.out, j);
        return 0;
    }

    static List<Integer> ints(String option, String spec) {
        List<Integer> out = new ArrayList<>();
        for (String s : spec.split(",", -1)) {
            try {
                out.add(Integer.parseInt(s.strip()));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(option + ": '" + s.strip() + "' is not an integer (use e.g. 1,2,4)");
            }
        }
        return out;
    }

    static List<Boolean> pads(String spec) {
        List<Boolean> out = new ArrayList<>();
        for (String s : spec.split(",", -1)) {
            switch (s.strip()) {
                case "off" -> out.add(false);
                case "on" -> out.add(true);
                default -> throw new IllegalArgumentException("--pad: '" + s.strip() + "' is not off or on");
            }
        }
        return out;
    }
}
