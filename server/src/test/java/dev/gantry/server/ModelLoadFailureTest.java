package dev.gantry.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gantry.models.BuiltinModels;
import dev.gantry.models.gguf.GgmlType;
import dev.gantry.models.gguf.GgufMetadata;
import dev.gantry.models.gguf.GgufReader;
import dev.gantry.models.gguf.GgufWriter;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Models that cannot load, each for its own reason, beside one that can: every request for a broken model gets a
 * clear error of its own, again on the next try, and the good model keeps answering in between.
 */
class ModelLoadFailureTest {
    static TestServer server;
    static Path folder;

    @BeforeAll
    static void start() throws Exception {
        folder = Files.createTempDirectory("gantry-broken-models");
        Path good = BuiltinModels.extract(Path.of("target", "gantry-cache").toAbsolutePath());
        byte[] bytes = Files.readAllBytes(good);
        Files.write(folder.resolve("garbage.gguf"), "this is not a model".getBytes(StandardCharsets.UTF_8));
        Files.write(folder.resolve("truncated.gguf"), Arrays.copyOf(bytes, bytes.length / 2));
        Files.write(folder.resolve("alien.gguf"), withArchitecture(bytes, "llamz"));
        writeHuge(good, folder.resolve("huge.gguf"));
        Files.createSymbolicLink(folder.resolve("gone.gguf"), folder.resolve("nowhere").resolve("gone.gguf"));
        server = TestServer.start(TestServer.defaults(), c -> c.withModelsDir(folder));
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
        try (var files = Files.list(folder)) {
            for (Path p : files.toList()) {
                Files.deleteIfExists(p);
            }
        }
        Files.deleteIfExists(folder);
    }

    @ParameterizedTest(name = "{0}: {1} {2}")
    @CsvSource(delimiter = '|', value = {
            "garbage   | 500 | not a valid GGUF file",
            "truncated | 500 | garbage.gguf",
            "alien     | 500 | unknown model architecture: 'llamz'",
            "huge      | 500 | requires more system memory",
            "gone      | 404 | model \"gone\" not found"})
    void aBrokenModelGetsItsOwnErrorAndTheOthersKeepServing(String model, int status, String message)
            throws Exception {
        String expected = model.equals("truncated") ? "truncated.gguf cannot be used" : message;
        for (int attempt = 0; attempt < 2; attempt++) {
            for (String path : new String[] {"/api/generate", "/api/chat"}) {
                String body = path.endsWith("chat")
                        ? "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
                        : "{\"model\":\"" + model + "\",\"prompt\":\"hi\"}";
                HttpResponse<String> r = server.post(path, body);
                assertEquals(status, r.statusCode(), r.body());
                String error = TestServer.json(r.body()).get("error").asText();
                assertTrue(error.contains(expected), error);
            }
            HttpResponse<String> ok = server.post("/api/generate", "{\"model\":\"stories260k\",\"prompt\":\"Once\","
                    + "\"stream\":false,\"options\":{\"num_predict\":4}}");
            assertEquals(200, ok.statusCode(), ok.body());
            assertTrue(TestServer.json(ok.body()).get("done").asBoolean());
        }
        assertTrue(server.gantry.models().loadedModel(model).isEmpty(), "nothing half-loaded stays");
    }

    /** The same file with another architecture name of the same length: parses, but llama.cpp cannot load it. */
    static byte[] withArchitecture(byte[] gguf, String arch) {
        byte[] key = "general.architecture".getBytes(StandardCharsets.US_ASCII);
        int at = indexOf(gguf, key);
        int value = at + key.length + 4 + 8; // value type (u32), string length (u64)
        byte[] out = gguf.clone();
        byte[] a = arch.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(a, 0, out, value, a.length);
        return out;
    }

    /** A model with the tiny one's header plus a 1 TiB tensor, as a sparse file (it takes no disk). */
    static void writeHuge(Path from, Path to) throws Exception {
        GgufMetadata md = new GgufReader(Integer.MAX_VALUE).read(from);
        new GgufWriter().copy(md, "").tensor("token_embd.weight", GgmlType.F32, new long[] {1L << 19, 1L << 19},
                (out, n) -> {
                    FileChannel ch = (FileChannel) out;
                    ch.position(ch.position() + n - 1); // a hole, then the last byte, so the file really is that long
                    ch.write(ByteBuffer.allocate(1));
                }).write(to);
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        throw new IllegalArgumentException("not found");
    }
}
