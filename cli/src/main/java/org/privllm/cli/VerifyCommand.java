package org.privllm.cli;

import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import org.privllm.lab.report.ResultTable;
import org.privllm.lab.report.RunInfo;
import org.privllm.lab.verify.Check;
import org.privllm.lab.verify.Verifier;
import org.privllm.model.Gpt2Model;
import org.privllm.trusted.lora.LoraAdapter;
import org.privllm.trusted.obf.ObfuscationConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code privllm verify}: every stage's checks of the scheme; exit 0 only if all pass. */
@Command(name = "verify", mixinStandardHelpOptions = true, description = {
        "Runs every stage's checks of the scheme against the plaintext engine (stage 1 linear and LoRA, stage 2 block,",
        "stage 3 prefill and decode over the masked cache, stage 4 each GPT-2 module) at atol = rtol = 1e-4.",
        "Prints one row per check; exit 0 only if all pass."})
final class VerifyCommand implements Callable<Integer> {
    @Mixin ModelOptions model = new ModelOptions();

    @Option(names = "--lora", paramLabel = "DIR",
            description = "A peft LoRA adapter for the model (default: stage 1 LoRA uses a random adapter, stages 2-4 none).")
    Path lora;

    @Option(names = "--mode", defaultValue = "mask", paramLabel = "mask|pad", description = "Obfuscation mode (default ${DEFAULT-VALUE}).")
    String mode;

    @Mixin MaskFamilyOption masks = new MaskFamilyOption();

    @Option(names = "--seed", paramLabel = "S", description = "Seed masks, pads and test inputs (reproducible; default: SecureRandom).")
    Long seed;

    @Option(names = "--json", description = "One JSON object per check on stdout.")
    boolean json;

    @Option(names = "--out", paramLabel = "DIR", description = "Also write verify.json, verify.csv and verify.md here.")
    Path out;

    @Option(names = "--executor", paramLabel = "HOST:PORT",
            description = "Run the executor side in this executor process (gRPC) instead of in-process.")
    String executor;

    @Option(names = "--tls-ca", paramLabel = "FILE", description = "Trust this CA (PEM) for the executor's TLS certificate.")
    java.nio.file.Path tlsCa;

    @Override
    public Integer call() {
        Gpt2Model m = model.load();
        ObfuscationConfig config = obfuscationConfig(mode, masks.toString(), seed);
        LoraAdapter adapter = lora == null ? null : LoraAdapter.load(lora, m.config());
        Random data = seed != null ? new Random(seed) : new SecureRandom();
        LoraAdapter stage1 = adapter != null ? adapter : Verifier.randomAdapter(m.config(), data.nextLong());
        List<Check> checks;
        try (Verifier v = new Verifier(m, config, adapter, stage1, data)) {
            if (executor != null) {
                var creds = tlsCa == null ? io.grpc.InsecureChannelCredentials.create()
                        : org.privllm.protocol.grpc.TlsFiles.client(tlsCa, null, null);
                v.executors(() -> org.privllm.protocol.grpc.GrpcExecutorClient.connect(executor, creds,
                        org.privllm.protocol.grpc.GrpcExecutorClient.Options.defaults()));
            }
            checks = v.run(stage -> { });
        }
        ResultTable table = new ResultTable("privllm verify (" + mode + " mode, " + config.family() + " masks"
                + (adapter != null ? ", LoRA" : "") + ")");
        for (Check ch : checks) {
            table.add(ch.row());
            if (json) {
                Json.print(System.out, ch.row());
            } else {
                System.out.printf("%-5s %-14s %-48s max %.3e  mean %.3e%n", ch.pass() ? "ok" : "FAIL", ch.stage(),
                        ch.check(), ch.stats().maxAbsError(), ch.stats().meanAbsError());
            }
        }
        System.out.flush();
        if (out != null) {
            table.write(out, "verify", RunInfo.capture(Main.commandLine(), Main.VERSION, m.config(), seed));
        }
        long failed = checks.stream().filter(ch -> !ch.pass()).count();
        if (failed > 0) {
            System.err.println("verify: " + failed + " of " + checks.size() + " checks failed");
            return 1;
        }
        return 0;
    }

    /** The scheme chosen by {@code --mode}, {@code --masks} and {@code --seed} (per-session scope), as the engine parses it. */
    static ObfuscationConfig obfuscationConfig(String mode, String masks, Long seed) {
        EngineOptions e = new EngineOptions();
        e.mode = mode;
        e.masks.masks = masks;
        e.scope = "session";
        e.maskSeed = seed;
        return e.obfuscationConfig();
    }
}
