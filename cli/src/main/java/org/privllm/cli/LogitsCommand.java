package org.privllm.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.privllm.model.DecoderModel;
import org.privllm.model.generate.Generator;
import org.privllm.tensor.Matrix;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "logits", mixinStandardHelpOptions = true, description = "Logits at every position of one prompt (no cache reuse).")
final class LogitsCommand implements Callable<Integer> {
    @Mixin ModelOptions model = new ModelOptions();

    @Option(names = "--input-ids", required = true, paramLabel = "IDS", description = "One prompt: 1,2,3")
    String inputIds;

    @Option(names = "--json", description = "JSON output (the only format).")
    boolean json;

    @Mixin EngineOptions engine = new EngineOptions();

    @Override
    public Integer call() throws Exception {
        List<int[]> prompts = Prompts.parseIds(inputIds);
        if (prompts.size() != 1) {
            throw new IllegalArgumentException("logits takes exactly one prompt");
        }
        DecoderModel m = model.load();
        Matrix logits;
        try {
            logits = engine.withEngine(m, e -> new Generator(e.forward()).logits(prompts.get(0)));
        } finally {
            engine.closeEndpoints();
        }
        Map<String, Object> j = new java.util.LinkedHashMap<>();
        j.put("logits", rows(logits));
        if (engine.check) {
            Matrix plain = new Generator(engine.plainForward(m)).logits(prompts.get(0));
            j.put("max_logit_abs_err", Checks.maxAbsError(List.of(plain), List.of(logits)));
        }
        Json.print(System.out, j);
        return 0;
    }

    static List<float[]> rows(Matrix m) {
        List<float[]> rows = new ArrayList<>();
        for (int r = 0; r < m.rows; r++) {
            rows.add(m.row(r));
        }
        return rows;
    }
}
