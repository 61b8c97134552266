package org.privllm.lab;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static org.assertj.core.api.Assertions.assertThat;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.lang.EvaluationResult;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The trust boundary as a build check (DESIGN §3): executor-side code cannot name a mask, a pad, a
 * tokenizer, a sampler or a plaintext logit, because it may depend only on the JDK, {@code tensor} and
 * {@code protocol}. The gRPC server in {@code untrusted.server} may also use its wire libraries, but no
 * other privllm module.
 */
class ArchitectureTest {
    private static JavaClasses classes;

    @BeforeAll
    static void importProduction() {
        classes = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("org.privllm");
    }

    /** The executor core: only java.*, tensor, protocol (and itself). */
    static final ArchRule EXECUTOR_CORE_SEES_ONLY_TENSORS_AND_PROTOCOL = classes()
            .that().resideInAPackage("org.privllm.untrusted..")
            .and().resideOutsideOfPackage("org.privllm.untrusted.server..")
            .should().onlyDependOnClassesThat()
            .resideInAnyPackage("java..", "org.privllm.tensor..", "org.privllm.protocol..", "org.privllm.untrusted..")
            .because("the executor must not be able to name trusted types (masks, pads, tokenizer, sampler, logits)");

    /** Every executor class, the server included: no privllm module beyond tensor and protocol. */
    static final ArchRule NO_EXECUTOR_CLASS_REACHES_TRUSTED_CODE = noClasses()
            .that().resideInAPackage("org.privllm.untrusted..")
            .should().dependOnClassesThat()
            .resideInAnyPackage("org.privllm.trusted..", "org.privllm.model..", "org.privllm.lab..", "org.privllm.cli..")
            .because("secrets and plaintext (masks, pads, tokenizer, sampler, logits) live in the trusted domain only");

    /** The wire vocabulary carries tensors and ids only. */
    static final ArchRule PROTOCOL_IS_TRUSTED_AGNOSTIC = noClasses()
            .that().resideInAPackage("org.privllm.protocol..")
            .should().dependOnClassesThat()
            .resideInAnyPackage("org.privllm.trusted..", "org.privllm.untrusted..", "org.privllm.model..",
                    "org.privllm.lab..", "org.privllm.cli..")
            .because("the executor interface is what goes over the wire");

    @Test
    void executorCoreSeesOnlyTensorsAndProtocol() {
        assertThat(classes.stream().filter(c -> c.getPackageName().startsWith("org.privllm.untrusted")).count())
                .as("executor classes imported").isPositive();
        EXECUTOR_CORE_SEES_ONLY_TENSORS_AND_PROTOCOL.check(classes);
    }

    @Test
    void noExecutorClassReachesTrustedCode() {
        NO_EXECUTOR_CLASS_REACHES_TRUSTED_CODE.check(classes);
    }

    @Test
    void protocolIsTrustedAgnostic() {
        PROTOCOL_IS_TRUSTED_AGNOSTIC.check(classes);
    }

    @Test
    void theRuleCatchesCodeThatNamesMasks() {
        // negative control: the same rule applied to the trusted obfuscation package must report violations
        EvaluationResult r = classes().that().resideInAPackage("org.privllm.trusted.obf..")
                .should().onlyDependOnClassesThat()
                .resideInAnyPackage("java..", "org.privllm.tensor..", "org.privllm.protocol..", "org.privllm.trusted.obf..")
                .evaluate(classes);
        assertThat(r.hasViolation()).isTrue();
        assertThat(r.getFailureReport().getDetails()).anyMatch(d -> d.contains("org.privllm.trusted.mask.Mask"));
    }
}
