package org.privllm.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.privllm.tensor.Matrix;

/** Every broken checkpoint is refused with a one-line message naming the problem. */
class CheckpointValidationTest {
    @TempDir Path dir;
    static final Gpt2Config SMALL = Gpt2Config.of(1, 8, 2, 16, 8);

    @BeforeEach
    void writeGood() {
        Fixture.write(dir, SMALL, 3);
    }

    private void assertRefused(String fragment) {
        assertThatThrownBy(() -> Gpt2Model.load(dir))
                .isInstanceOf(ModelFormatException.class)
                .hasMessageContaining(fragment)
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
    }

    private byte[] st() throws IOException {
        return Files.readAllBytes(dir.resolve("model.safetensors"));
    }

    private static long headerLen(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
    }

    private void rewriteHeader(java.util.function.UnaryOperator<String> edit) throws IOException {
        byte[] b = st();
        int n = (int) headerLen(b);
        String h = new String(b, 8, n, StandardCharsets.UTF_8);
        byte[] nh = edit.apply(h).getBytes(StandardCharsets.UTF_8);
        ByteBuffer out = ByteBuffer.allocate(8 + nh.length + b.length - 8 - n).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(nh.length).put(nh).put(b, 8 + n, b.length - 8 - n);
        Files.write(dir.resolve("model.safetensors"), out.array());
    }

    @Test
    void goodFixtureLoads() {
        assertThat(Gpt2Model.load(dir).config().layers()).isEqualTo(1);
    }

    @Test
    void truncatedFile() throws IOException {
        byte[] b = st();
        Files.write(dir.resolve("model.safetensors"), Arrays.copyOf(b, b.length - 100));
        assertRefused("outside the data section");
        Files.write(dir.resolve("model.safetensors"), Arrays.copyOf(b, 5));
        assertRefused("truncated");
        Files.write(dir.resolve("model.safetensors"), Arrays.copyOf(b, 40));
        assertRefused("header length");
    }

    @Test
    void offsetsPastTheEnd() throws IOException {
        rewriteHeader(h -> h.replaceFirst("\"data_offsets\":\\[0,(\\d+)]", "\"data_offsets\":[0,999999999]"));
        assertRefused("outside the data section");
    }

    @Test
    void overlappingTensors() throws IOException {
        // Make ln_1.weight point at wte's bytes (same length class: shrink wte's region is not needed, just overlap).
        rewriteHeader(h -> h.replaceFirst("(\"h\\.0\\.ln_1\\.weight\":\\{[^}]*\"data_offsets\":\\[)(\\d+),(\\d+)",
                "$10,32"));
        assertRefused("overlap");
    }

    @Test
    void wrongByteLength() throws IOException {
        rewriteHeader(h -> h.replaceFirst("\"shape\":\\[16,8]", "\"shape\":[16,9]"));
        assertRefused("byte length");
    }

    @Test
    void missingTensor() throws IOException {
        rewriteHeader(h -> h.replace("\"ln_f.bias\"", "\"ln_f.bogus\""));
        assertRefused("lacks tensor 'ln_f.bias'");
    }

    @Test
    void wrongShape() throws IOException {
        Fixture.write(dir, Gpt2Config.of(1, 8, 2, 16, 8), 3);
        Files.writeString(dir.resolve("config.json"), Files.readString(dir.resolve("config.json"))
                .replace("\"vocab_size\" : 16", "\"vocab_size\" : 17"));
        assertRefused("expected [17, 8]");
    }

    @Test
    void unknownActivation() throws IOException {
        Files.writeString(dir.resolve("config.json"), Files.readString(dir.resolve("config.json"))
                .replace("\"gelu_new\"", "\"swiglu_magic\""));
        assertRefused("unknown activation_function 'swiglu_magic'");
    }

    @Test
    void badJsonHeaderAndConfig() throws IOException {
        rewriteHeader(h -> "{not json" + " ".repeat(Math.max(0, h.length() - 9)));
        assertRefused("not valid JSON");
        Files.writeString(dir.resolve("config.json"), "{\"n_layer\": 1");
        assertRefused("config.json: not valid JSON");
    }

    @Test
    void unsupportedDtype() throws IOException {
        rewriteHeader(h -> h.replaceFirst("\"F32\"", "\"I64\""));
        assertRefused("unsupported dtype 'I64'");
    }

    @Test
    void transformerPrefixAndHalfPrecisionAreRead() throws IOException {
        Gpt2Model plain = Gpt2Model.load(dir);
        rewriteHeader(h -> h.replaceAll("\"(wte|wpe|h\\.|ln_f)", "\"transformer.$1"));
        Gpt2Model prefixed = Gpt2Model.load(dir);
        assertThat(prefixed.weights().wte().data).isEqualTo(plain.weights().wte().data);
    }

    @Test
    void float16AndBfloat16Decode(@TempDir Path other) {
        // F16 1.0 = 0x3C00, -2.0 = 0xC000; BF16 1.0 = 0x3F80, 0.5 = 0x3F00.
        byte[] header = "{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[4,8]}}"
                .getBytes(StandardCharsets.UTF_8);
        ByteBuffer buf = ByteBuffer.allocate(8 + header.length + 8).order(ByteOrder.LITTLE_ENDIAN);
        buf.putLong(header.length).put(header).putShort((short) 0x3C00).putShort((short) 0xC000)
                .putShort((short) 0x3F80).putShort((short) 0x3F00);
        Path f = other.resolve("x.safetensors");
        try {
            Files.write(f, buf.array());
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        try (SafeTensors st = SafeTensors.open(f)) {
            assertThat(st.floats("a")).containsExactly(1f, -2f);
            assertThat(st.floats("b")).containsExactly(1f, 0.5f);
        }
    }

    @Test
    void shardedCheckpointLoads(@TempDir Path sharded) throws IOException {
        Gpt2Model single = Gpt2Model.load(dir);
        Gpt2Weights w = single.weights();
        SafeTensorsWriter a = new SafeTensorsWriter(), b = new SafeTensorsWriter();
        a.put("wte.weight", w.wte().data, 16, 8).put("wpe.weight", w.wpe().data, 8, 8)
                .put("ln_f.weight", w.lnFGamma(), 8).put("ln_f.bias", w.lnFBeta(), 8);
        Gpt2Weights.Layer l = w.layers().get(0);
        String p = "h.0.";
        b.put(p + "ln_1.weight", l.ln1Gamma(), 8).put(p + "ln_1.bias", l.ln1Beta(), 8)
                .put(p + "attn.c_attn.weight", l.cAttn().data, 8, 24).put(p + "attn.c_attn.bias", l.cAttnBias(), 24)
                .put(p + "attn.c_proj.weight", l.cProj().data, 8, 8).put(p + "attn.c_proj.bias", l.cProjBias(), 8)
                .put(p + "ln_2.weight", l.ln2Gamma(), 8).put(p + "ln_2.bias", l.ln2Beta(), 8)
                .put(p + "mlp.c_fc.weight", l.cFc().data, 8, 32).put(p + "mlp.c_fc.bias", l.cFcBias(), 32)
                .put(p + "mlp.c_proj.weight", l.mlpProj().data, 32, 8).put(p + "mlp.c_proj.bias", l.mlpProjBias(), 8);
        a.write(sharded.resolve("model-00001-of-00002.safetensors"));
        b.write(sharded.resolve("model-00002-of-00002.safetensors"));
        StringBuilder map = new StringBuilder("{\"metadata\":{},\"weight_map\":{");
        for (String k : new String[] {"wte.weight", "wpe.weight", "ln_f.weight", "ln_f.bias"}) {
            map.append('"').append(k).append("\":\"model-00001-of-00002.safetensors\",");
        }
        for (String k : new String[] {"ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight",
                "attn.c_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias"}) {
            map.append("\"h.0.").append(k).append("\":\"model-00002-of-00002.safetensors\",");
        }
        map.setLength(map.length() - 1);
        map.append("}}");
        Files.writeString(sharded.resolve("model.safetensors.index.json"), map);
        Files.copy(dir.resolve("config.json"), sharded.resolve("config.json"));
        Gpt2Model m = Gpt2Model.load(sharded);
        Matrix x = m.weights().layers().get(0).cFc();
        assertThat(x.data).isEqualTo(l.cFc().data);
    }
}
