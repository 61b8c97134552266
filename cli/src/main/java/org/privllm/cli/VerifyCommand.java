package org.privllm.cli;

import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import org.privllm.lab.report.ResultTable;
import org.privllm.lab.report.RunInfo;
import org.privllm.lab.verify.BlindedVerifier;
import org.privllm.lab.verify.Check;
import org.privllm.lab.verify.Verifier;
import org.privllm.model.DecoderModel;
import org.privllm.protocol.Executor;
import org.privllm.trusted.lora.LoraAdapter;
import org.privllm.trusted.obf.ObfuscationConfig;
import org.privllm.trusted.privacy.BlindingConfig;
import org.privllm.trusted.privacy.PrivacyLevel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code privllm verify}: every stage's checks of a privacy level; exit 0 only if all pass. */
@Command(name = "verify", mixinStandardHelpOptions = true, description = {
        "Runs every stage's checks of a privacy level against the plaintext engine (stage 1 linear and LoRA, stage 2 block,",
        "stage 3 prefill and decode over the protected cache, stage 4 each module) at atol = rtol = 1e-4: the seed scheme",
        "(default) or, with --privacy strong|two-party, the blinded levels; every family.",
        "Prints one row per check; exit 0 only if all pass."})
final class VerifyCommand implements Callable<Integer> {
    @Mixin ModelOptions model = new ModelOptions();

    @Option(names = "--lora", paramLabel = "DIR",
            description = "A peft LoRA adapter for the model (default: stage 1 LoRA uses a random adapter, stages 2-4 none).")
    Path lora;

    @Option(names = "--privacy", paramLabel = "seed|strong|two-party",
            description = "Which level's checks: seed (default), strong or two-party.")
    String privacy;

    @Option(names = "--mode", paramLabel = "mask|pad", description = "Seed level: obfuscation mode (default mask).")
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

    @Option(names = "--share-executor", paramLabel = "HOST:PORT",
            description = "--privacy two-party with --executor: the second, non-colluding executor process.")
    String shareExecutor;

    @Option(names = "--tls-ca", paramLabel = "FILE", description = "Trust this CA (PEM) for the executor's TLS certificate.")
    java.nio.file.Path tlsCa;

    @Override
    public Integer call() {
        PrivacyLevel level = privacy == null ? PrivacyLevel.SEED : PrivacyLevel.parse(privacy);
        if (level != PrivacyLevel.SEED && (mode != null || masks.given())) {
            throw new IllegalArgumentException("--mode and --masks configure --privacy seed, not " + level);
        }
        if (shareExecutor != null && (level != PrivacyLevel.TWO_PARTY || executor == null)) {
            throw new IllegalArgumentException("--share-executor is the second party of --privacy two-party with --executor");
        }
        if (level == PrivacyLevel.TWO_PARTY && executor != null && shareExecutor == null) {
            throw new IllegalArgumentException("--privacy two-party with --executor needs --share-executor for the second party");
        }
        DecoderModel m = model.load();
        LoraAdapter adapter = lora == null ? null : LoraAdapter.load(lora, m.config());
        Random data = seed != null ? new Random(seed) : new SecureRandom();
        LoraAdapter stage1 = adapter != null ? adapter : Verifier.randomAdapter(m.config(), data.nextLong());
        var creds = tlsCa == null ? io.grpc.InsecureChannelCredentials.create()
                : org.privllm.protocol.grpc.TlsFiles.client(tlsCa, null, null);
        List<Check> checks;
        String title;
        if (level == PrivacyLevel.SEED) {
            ObfuscationConfig config = obfuscationConfig(mode == null ? "mask" : mode, masks.toString(), seed);
            try (Verifier v = new Verifier(m, config, adapter, stage1, data)) {
                if (executor != null) {
                    v.executors(() -> connect(executor, creds));
                }
                checks = v.run(stage -> { });
            }
            title = (mode == null ? "mask" : mode) + " mode, " + config.family() + " masks";
        } else {
            BlindingConfig bc = BlindingConfig.of(level);
            BlindedVerifier v = new BlindedVerifier(m, seed != null ? bc.withSeed(seed) : bc, adapter, stage1, data);
            if (executor != null) {
                v.executors(() -> level == PrivacyLevel.STRONG ? List.of(connect(executor, creds))
                        : List.of(connect(executor, creds), connect(shareExecutor, creds)));
            }
            checks = v.run(stage -> { });
            title = level.label() + ", " + m.architecture().modelType();
        }
        ResultTable table = new ResultTable("privllm verify (" + title + (adapter != null ? ", LoRA" : "") + ")");
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

    private static Executor connect(String address, io.grpc.ChannelCredentials creds) {
        return org.privllm.protocol.grpc.GrpcExecutorClient.connect(address, creds,
                org.privllm.protocol.grpc.GrpcExecutorClient.Options.defaults());
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
