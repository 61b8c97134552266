package org.privllm.untrusted.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.privllm.protocol.LinearWeights;
import org.privllm.protocol.SessionId;
import org.privllm.protocol.WeightId;
import org.privllm.tensor.Matrix;
import org.privllm.untrusted.InProcessExecutor;

/** The on-disk transcript round-trips through the Java reader and through plain numpy. */
class TranscriptFormatTest {
    @Test
    void javaAndNumpyReadWhatWasReceived(@TempDir Path dir) throws Exception {
        Random r = new Random(8);
        Matrix w = Workload.random(r, 5, 3), x = Workload.random(r, 4, 5), c = Workload.random(r, 4, 3);
        float[] bias = Workload.vector(r, 3);
        try (DiskTranscript sink = new DiskTranscript(dir);
             RecordingExecutor ex = new RecordingExecutor(new InProcessExecutor(), sink)) {
            SessionId s = ex.openSession();
            WeightId id = ex.uploadLinear(s, new LinearWeights(w, bias));
            ex.linear(s, id, x, c);
            ex.startCache(s, 2, 8, 4, new int[] {0, 3});
            ex.closeSession(s);
            ex.closeSession(ex.openSession());
        }
        List<TranscriptReader.Call> calls = TranscriptReader.read(dir);
        assertThat(calls).extracting(TranscriptReader.Call::call).containsExactly("open_session", "upload_linear", "linear",
                "start_cache", "close_session", "open_session", "close_session");
        assertThat(calls).extracting(TranscriptReader.Call::session).containsExactly("s000001", "s000001", "s000001",
                "s000001", "s000001", "s000002", "s000002");
        assertThat(calls.get(1).tensor("weight").data).containsExactly(w.data);
        assertThat(calls.get(1).tensor("bias").data).containsExactly(bias);
        assertThat(calls.get(1).tensor("loraA")).isNull();
        assertThat(calls.get(2).tensor("x").data).containsExactly(x.data);
        assertThat(calls.get(2).tensor("compensation").data).containsExactly(c.data);
        assertThat(calls.get(3).args().get("left_pad").toString()).isEqualTo("[0,3]");
        assertThat(calls.get(1).shape("weight")).containsExactly(5, 3);
        assertThat(calls.get(1).shape("bias")).containsExactly(1, 3);
        assertThat(calls.get(2).shape("loraA")).isNull();

        // an executor killed while writing its last line: that call never ran, the rest reads
        Path index = dir.resolve("index.jsonl");
        String whole = Files.readString(index, StandardCharsets.UTF_8);
        String upload = whole.lines().skip(1).findFirst().orElseThrow();
        Files.writeString(index, whole + upload.substring(0, 30));
        assertThat(TranscriptReader.read(dir)).hasSize(calls.size());
        Files.writeString(index, whole + upload.substring(0, upload.indexOf('}') + 1)); // cut after a nested object
        assertThat(TranscriptReader.read(dir)).hasSize(calls.size());
        // a broken line in the middle is an error naming it
        Files.writeString(index, "{\"seq\":1,\n" + whole);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> TranscriptReader.read(dir))
                .isInstanceOf(IllegalArgumentException.class).hasMessageEndingWith("index.jsonl line 1 is malformed");
        Files.writeString(index, whole);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new DiskTranscript(dir))
                .hasMessageContaining("already holds a transcript");

        assumeTrue(numpyAvailable(), "python3 with numpy not installed");
        String script = """
                import json, sys, numpy as np, pathlib
                d = pathlib.Path(sys.argv[1])
                for line in open(d / "index.jsonl"):
                    c = json.loads(line)
                    for t in c["tensors"]:
                        a = np.load(d / t["file"])
                        assert a.dtype == np.float32 and list(a.shape) == t["shape"], t
                        print(c["seq"], t["name"], repr(float(a.astype(np.float64).sum())))
                """;
        Path py = dir.resolve("read.py");
        Files.writeString(py, script);
        Process p = new ProcessBuilder("python3", py.toString(), dir.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        List<String> lines = out.lines().toList();
        assertThat(lines).extracting(l -> l.substring(0, l.lastIndexOf(' ')))
                .containsExactly("2 weight", "2 bias", "3 x", "3 compensation");
        double[] sums = {sum(w.data), sum(bias), sum(x.data), sum(c.data)};
        for (int i = 0; i < sums.length; i++) {
            double fromNumpy = Double.parseDouble(lines.get(i).substring(lines.get(i).lastIndexOf(' ') + 1));
            assertThat(fromNumpy).isCloseTo(sums[i], org.assertj.core.data.Offset.offset(1e-9));
        }
    }

    private static double sum(float[] v) {
        double s = 0;
        for (float f : v) {
            s += f;
        }
        return s;
    }

    private static boolean numpyAvailable() {
        try {
            Process p = new ProcessBuilder("python3", "-c", "import numpy").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (Exception e) {
            return false;
        }
    }
}
