package org.privllm.cli;

import java.util.Map;
import org.privllm.model.Gpt2Forward;
import org.privllm.model.Gpt2Model;
import org.privllm.model.Gpt2Weights;
import org.privllm.model.PlainOps;
import org.privllm.trusted.lora.LoraAdapter;
import org.privllm.trusted.lora.LoraMerge;
import org.privllm.trusted.lora.LowRankAdapter;
import org.privllm.protocol.Executor;
import org.privllm.trusted.gpt2.BoundaryMeter;
import org.privllm.trusted.gpt2.ObfuscatedGpt2;
import org.privllm.trusted.mask.MaskFamily;
import org.privllm.trusted.obf.MaskScope;
import org.privllm.trusted.obf.ObfuscationConfig;
import org.privllm.trusted.obf.ObfuscationMode;
import org.privllm.untrusted.InProcessExecutor;
import picocli.CommandLine.Option;

/**
 * Where the forward pass runs: plaintext (default) or {@code --obfuscate} on an untrusted executor
 * (in-process unless {@code --executor} names one), with the scheme's options.
 */
final class EngineOptions {
    @Option(names = "--obfuscate", description = "Run on the untrusted executor behind masks.")
    boolean obfuscate;

    @Option(names = "--mode", defaultValue = "mask", paramLabel = "mask|pad",
            description = "Obfuscation mode (default ${DEFAULT-VALUE}).")
    String mode;

    @Option(names = "--masks", defaultValue = "orthogonal", paramLabel = "FAMILY",
            description = "Mask family: orthogonal, gaussian, block:B, perm (default ${DEFAULT-VALUE}).")
    String masks;

    @Option(names = "--scope", defaultValue = "session", paramLabel = "session|call",
            description = "Mask scope of the MLP layers (attention and head are always per session).")
    String scope;

    @Option(names = "--pad-pool", paramLabel = "N", description = "Pad mode: draw pads from a precomputed pool of N per layer.")
    Integer padPool;

    @Option(names = "--mask-seed", paramLabel = "S", description = "Seed masks and pads (experiments only; default: SecureRandom).")
    Long maskSeed;

    @Option(names = "--check", description = "Also run plaintext in this process and report the largest logit error.")
    boolean check;

    @Option(names = "--lora", paramLabel = "DIR", description = "Private PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors); "
            + "masked on the executor, never merged there.")
    java.nio.file.Path lora;

    private Map<String, LowRankAdapter> adapters;

    /** The adapter's layers, loaded once (empty without --lora). */
    Map<String, LowRankAdapter> adapters(Gpt2Model m) {
        if (adapters == null) {
            adapters = lora == null ? Map.of() : LoraAdapter.load(lora, m.config()).layers();
        }
        return adapters;
    }

    /** The plaintext engine (the adapter merged in the trusted domain when given): the reference for --check. */
    Gpt2Forward plainForward(Gpt2Model m) {
        Gpt2Weights w = LoraMerge.merged(m.weights(), adapters(m));
        return new Gpt2Forward(m.config(), w, new PlainOps(m.config(), w));
    }

    /** An engine over a model: its forward pass and, when obfuscated, the boundary meter. */
    record Engine(Gpt2Forward forward, BoundaryMeter meter, AutoCloseable resources) implements AutoCloseable {
        @Override
        public void close() throws Exception {
            if (resources != null) {
                resources.close();
            }
        }
    }

    ObfuscationConfig obfuscationConfig() {
        ObfuscationMode m = switch (mode) {
            case "mask" -> ObfuscationMode.MASK;
            case "pad" -> ObfuscationMode.PAD;
            default -> throw new IllegalArgumentException("--mode must be mask or pad, got '" + mode + "'");
        };
        MaskScope s = switch (scope) {
            case "session" -> MaskScope.PER_SESSION;
            case "call" -> MaskScope.PER_CALL;
            default -> throw new IllegalArgumentException("--scope must be session or call, got '" + scope + "'");
        };
        ObfuscationConfig c = ObfuscationConfig.defaults().withMode(m).withScope(s).withFamily(MaskFamily.parse(masks));
        if (padPool != null) {
            if (m != ObfuscationMode.PAD) {
                throw new IllegalArgumentException("--pad-pool needs --mode pad");
            }
            c = c.withPadPool(padPool);
        }
        return maskSeed != null ? c.withSeed(maskSeed) : c;
    }

    Executor executor() {
        return new InProcessExecutor();
    }

    /** Where the executor runs, for reports. */
    String executorName() {
        return "in-process";
    }

    private BoundaryMeter lastMeter;

    /** Zeroes the boundary counters of the engine opened last (to exclude warm-up from measurements). */
    void resetMeter() {
        if (lastMeter != null) {
            lastMeter.reset();
        }
    }

    Engine open(Gpt2Model m) {
        if (!obfuscate) {
            if (check) {
                throw new IllegalArgumentException("--check compares an --obfuscate run with plaintext: add --obfuscate");
            }
            return new Engine(plainForward(m), null, null);
        }
        ObfuscationConfig c = obfuscationConfig();
        BoundaryMeter meter = new BoundaryMeter(executor());
        lastMeter = meter;
        ObfuscatedGpt2 ops = new ObfuscatedGpt2(m.config(), m.weights(), meter, c, adapters(m));
        return new Engine(new Gpt2Forward(m.config(), m.weights(), ops), meter, () -> {
            ops.close();
            meter.close();
        });
    }
}
