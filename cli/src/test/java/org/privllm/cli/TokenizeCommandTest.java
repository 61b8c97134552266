package org.privllm.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code tokenize} on folders that hold only tokenizer files (the real ones are in ../shared, skipped without it). */
class TokenizeCommandTest {
    @TempDir
    Path tmp;

    static Path sharedFixture(String name) {
        String property = System.getProperty("privllm.shared");
        Path shared = property != null && Files.isDirectory(Path.of(property)) ? Path.of(property)
                : Path.of("").toAbsolutePath().getParent().resolveSibling("shared");
        Path dir = shared.resolve("fixtures").resolve(name);
        assumeTrue(Files.isDirectory(dir), "no " + dir);
        return dir;
    }

    @Test
    void qwen3TokenizerFolderAlone() {
        Path qwen3 = sharedFixture("tokenizers/qwen3");
        assertThat(qwen3.resolve("config.json")).doesNotExist();
        CliTest.Run enc = CliTest.runWithInput("\"Hello world\"\n\"<|im_start|>user\\nhi<|im_end|>\"\n\"\"\n",
                "tokenize", "--model", qwen3.toString());
        assertThat(enc.code()).as(enc.err()).isZero();
        assertThat(enc.out().strip().split("\n")).containsExactly("[9707,1879]", "[151644,872,198,6023,151645]", "[]");
        CliTest.Run dec = CliTest.runWithInput("[151644,872,198,6023,151645]\n", "tokenize", "--model", qwen3.toString(), "--decode");
        assertThat(dec.code()).as(dec.err()).isZero();
        assertThat(dec.out().strip()).isEqualTo("\"<|im_start|>user\\nhi<|im_end|>\"");
    }

    @Test
    void mistralAddsItsBeginningOfSequenceToken() {
        CliTest.Run enc = CliTest.runWithInput("\"Hello world\"\n", "tokenize", "--model", sharedFixture("tokenizers/mistral").toString());
        assertThat(enc.code()).as(enc.err()).isZero();
        assertThat(enc.out().strip()).isEqualTo("[1,22557,1526]");
    }

    @Test
    void foldersWithoutAUsableTokenizerGiveOneLineErrors() throws Exception {
        CliTest.assertOneLineError(CliTest.runWithInput("\"x\"\n", "tokenize", "--model", tmp.toString()), "no tokenizer");
        Files.writeString(tmp.resolve("tokenizer.json"), "{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}");
        CliTest.assertOneLineError(CliTest.runWithInput("\"x\"\n", "tokenize", "--model", tmp.toString()),
                "tokenizer.json: model: type Unigram is not supported");
    }
}
