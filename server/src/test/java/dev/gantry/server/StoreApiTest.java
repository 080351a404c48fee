package dev.gantry.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Ollama's model store through the API, against a real server, real llama.cpp and the tiny model: pull from a
 * registry started by the test, create, copy, delete, show, tags, blobs, and hostile names and digests.
 */
class StoreApiTest {
    static final String MODEL_TYPE = "application/vnd.ollama.image.model";
    static TestServer server;
    static TestRegistry registry;
    static Path store;
    static byte[] gguf;
    static String ggufDigest;

    @BeforeAll
    static void start() throws Exception {
        server = TestServer.start(TestServer.defaults());
        registry = new TestRegistry();
        store = server.gantry.models().registry().folder().orElseThrow();
        gguf = Files.readAllBytes(Path.of("target", "gantry-cache", "models", "stories260K.gguf"));
        ggufDigest = TestRegistry.sha256(gguf);
    }

    @AfterAll
    static void stop() {
        registry.close();
        server.close();
    }

    static HttpResponse<String> send(String method, String path, byte[] body) throws Exception {
        HttpRequest.BodyPublisher p = body == null ? HttpRequest.BodyPublishers.noBody()
                : HttpRequest.BodyPublishers.ofByteArray(body);
        return server.http.send(HttpRequest.newBuilder(server.uri(path)).timeout(Duration.ofSeconds(60))
                .method(method, p).build(), HttpResponse.BodyHandlers.ofString());
    }

    static HttpResponse<String> post(String path, String json) throws Exception {
        return server.post(path, json);
    }

    static Path manifest(String host, String ns, String model, String tag) {
        return store.resolve("manifests").resolve(host).resolve(ns).resolve(model).resolve(tag);
    }

    static Path blob(String digest) {
        return store.resolve("blobs").resolve(digest.replace(':', '-'));
    }

    static String[] layer(String type, String digest, int size) {
        return new String[] {type, digest, String.valueOf(size)};
    }

    /** Create from a model that is not in the store yet: pulled first, with the pull's statuses, then created. */
    @Test
    void createFromAModelNotHerePullsItFirst() throws Exception {
        publish("base", "{{ .Prompt }}", "{\"num_predict\":3}");
        String base = registry.host() + "/library/base";
        HttpResponse<String> r = post("/api/create", "{\"model\":\"derived\",\"from\":\"" + base + "\","
                + "\"insecure\":true,\"system\":\"Short.\"}");
        assertEquals(200, r.statusCode(), r.body());
        List<String> statuses = TestServer.ndjson(r.body()).stream().map(l -> l.get("status").asText()).toList();
        assertEquals("pulling manifest", statuses.getFirst(), statuses.toString());
        assertEquals("success", statuses.getLast(), statuses.toString());
        assertTrue(Files.exists(manifest(registry.host(), "library", "base", "latest")), "the base is stored too");
        JsonNode show = TestServer.json(post("/api/show", "{\"model\":\"derived\"}").body());
        assertEquals("Short.", show.get("system").asText(), show.toString());
        assertEquals(base + ":latest", show.at("/details/parent_model").asText(), show.toString());
        assertEquals(200, send("DELETE", "/api/delete", "{\"model\":\"derived\"}".getBytes()).statusCode());
        assertEquals(200, send("DELETE", "/api/delete", ("{\"model\":\"" + base + "\"}").getBytes()).statusCode());
    }

    /** A registry model: the tiny GGUF, a template and params layer, and a config. */
    static byte[] publish(String model, String template, String params) {
        byte[] t = template.getBytes(StandardCharsets.UTF_8);
        byte[] p = params.getBytes(StandardCharsets.UTF_8);
        byte[] config = ("{\"model_format\":\"gguf\",\"model_family\":\"llama\",\"model_families\":[\"llama\"],"
                + "\"model_type\":\"292.80K\",\"file_type\":\"F32\",\"architecture\":\"amd64\",\"os\":\"linux\","
                + "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}").getBytes(StandardCharsets.UTF_8);
        return registry.manifest("library", model, "latest",
                layer("application/vnd.docker.container.image.v1+json", registry.blob(config), config.length),
                layer(MODEL_TYPE, registry.blob(gguf), gguf.length),
                layer("application/vnd.ollama.image.template", registry.blob(t), t.length),
                layer("application/vnd.ollama.image.params", registry.blob(p), p.length));
    }

    @Test
    void pullStreamsOllamasProgressThenTheModelGenerates() throws Exception {
        byte[] manifest = publish("tiny", "{{ .Prompt }}", "{\"num_predict\":7,\"temperature\":0}");
        String name = registry.host() + "/library/tiny";
        HttpResponse<String> r = post("/api/pull", "{\"model\":\"" + name + "\",\"insecure\":true}");
        assertEquals(200, r.statusCode(), r.body());
        List<JsonNode> lines = TestServer.ndjson(r.body());
        assertEquals("pulling manifest", lines.getFirst().get("status").asText());
        assertEquals("success", lines.getLast().get("status").asText());
        List<String> statuses = lines.stream().map(l -> l.get("status").asText()).toList();
        assertTrue(statuses.contains("verifying sha256 digest"), statuses.toString());
        assertTrue(statuses.contains("writing manifest"), statuses.toString());
        String short12 = ggufDigest.substring(7, 19);
        JsonNode done = lines.stream().filter(l -> l.get("status").asText().equals("pulling " + short12)
                && l.path("completed").asLong() == gguf.length).findFirst().orElseThrow(() -> new AssertionError(r.body()));
        assertEquals(ggufDigest, done.get("digest").asText());
        assertEquals(gguf.length, done.get("total").asLong());
        assertEquals("application/vnd.docker.distribution.manifest.v2+json", registry.accepts.getFirst());

        // Ollama's layout: the registry's manifest bytes, blobs by digest
        assertArrayEquals(manifest, Files.readAllBytes(manifest(registry.host(), "library", "tiny", "latest")));
        assertArrayEquals(gguf, Files.readAllBytes(blob(ggufDigest)));

        JsonNode tags = TestServer.json(server.get("/api/tags").body());
        JsonNode entry = find(tags, name + ":latest");
        assertEquals(TestRegistry.sha256(manifest).substring(7), entry.get("digest").asText());
        assertEquals("llama", entry.at("/details/family").asText());

        // the params layer is the default options: num_predict 7 unless the request says otherwise
        HttpResponse<String> g = post("/api/generate", "{\"model\":\"" + name + "\",\"prompt\":\"Once\",\"stream\":false}");
        assertEquals(200, g.statusCode(), g.body());
        assertEquals(7, TestServer.json(g.body()).get("eval_count").asInt());
        g = post("/api/generate", "{\"model\":\"" + name
                + "\",\"prompt\":\"Once\",\"stream\":false,\"options\":{\"num_predict\":3}}");
        assertEquals(3, TestServer.json(g.body()).get("eval_count").asInt());

        JsonNode show = TestServer.json(post("/api/show", "{\"model\":\"" + name + "\"}").body());
        assertEquals("{{ .Prompt }}", show.get("template").asText());
        assertTrue(show.get("parameters").asText().startsWith("num_predict"), show.toString());
        assertTrue(show.get("modelfile").asText().contains("PARAMETER num_predict 7"), show.toString());

        // stream false answers once
        HttpResponse<String> again = post("/api/pull", "{\"model\":\"" + name + "\",\"insecure\":true,\"stream\":false}");
        assertEquals("{\"status\":\"success\"}", again.body());
    }

    @Test
    void anInterruptedPullResumesWithRange() throws Exception {
        byte[] big = new byte[3 << 20];
        new java.util.Random(7).nextBytes(big);
        String bigDigest = registry.blob(big);
        byte[] config = "{\"model_format\":\"gguf\"}".getBytes(StandardCharsets.UTF_8);
        registry.manifest("library", "resume", "latest",
                layer("application/vnd.docker.container.image.v1+json", registry.blob(config), config.length),
                layer(MODEL_TYPE, registry.blob(gguf), gguf.length),
                layer("application/vnd.ollama.image.license", bigDigest, big.length));
        registry.cutOnce.put(bigDigest, new AtomicInteger());
        String name = registry.host() + "/library/resume";
        HttpResponse<String> first = post("/api/pull", "{\"model\":\"" + name + "\",\"insecure\":true,\"stream\":false}");
        assertEquals(500, first.statusCode(), first.body()); // as Ollama answers a failed pull without a stream
        assertTrue(first.body().contains("resume"), first.body());
        Path partial = store.resolve("blobs").resolve(bigDigest.replace(':', '-') + "-partial");
        long have = Files.size(partial);
        assertTrue(have > 0 && have < big.length, "partial has " + have);
        assertFalse(Files.exists(manifest(registry.host(), "library", "resume", "latest")));

        HttpResponse<String> second = post("/api/pull", "{\"model\":\"" + name + "\",\"insecure\":true,\"stream\":false}");
        assertEquals(200, second.statusCode(), second.body());
        assertTrue(registry.ranges.contains("bytes=" + have + "-"), registry.ranges.toString());
        assertArrayEquals(big, Files.readAllBytes(blob(bigDigest)));
        assertFalse(Files.exists(partial));
        assertTrue(Files.exists(manifest(registry.host(), "library", "resume", "latest")));
    }

    @Test
    void aDigestMismatchFailsAndLeavesNoManifestOrBlob() throws Exception {
        byte[] evil = "not what the digest says".getBytes(StandardCharsets.UTF_8);
        String claimed = TestRegistry.sha256("something else entirely!".getBytes(StandardCharsets.UTF_8));
        registry.blobUnder(claimed, evil);
        byte[] config = "{\"model_format\":\"gguf\"}".getBytes(StandardCharsets.UTF_8);
        registry.manifest("library", "evil", "latest",
                layer("application/vnd.docker.container.image.v1+json", registry.blob(config), config.length),
                layer(MODEL_TYPE, claimed, evil.length));
        HttpResponse<String> r = post("/api/pull", "{\"model\":\"" + registry.host() + "/library/evil\",\"insecure\":true}");
        List<JsonNode> lines = TestServer.ndjson(r.body());
        assertTrue(lines.getLast().get("error").asText().contains("digest mismatch"), r.body());
        assertFalse(Files.exists(manifest(registry.host(), "library", "evil", "latest")));
        assertFalse(Files.exists(blob(claimed)));
        assertFalse(Files.exists(store.resolve("blobs").resolve(claimed.replace(':', '-') + "-partial")));
        // a missing model is a 404 in Ollama's words
        HttpResponse<String> missing = post("/api/pull", "{\"model\":\"" + registry.host() + "/library/nope\","
                + "\"insecure\":true,\"stream\":false}");
        assertEquals(404, missing.statusCode());
        assertEquals("pull model manifest: file does not exist", TestServer.json(missing.body()).get("error").asText());
    }

    /**
     * {@code create} with {@code quantize}, as {@code ollama create -q}: llama.cpp quantizes the F32 tiny model (the
     * built-in one, then an uploaded blob), the new weights replace the model layer, and the model generates.
     */
    @Test
    void createQuantizesAnF32ModelThatThenGenerates() throws Exception {
        HttpResponse<String> r = post("/api/create", "{\"model\":\"tiny-q8\",\"from\":\"stories260k\","
                + "\"quantize\":\"q8_0\"}");
        assertEquals(200, r.statusCode(), r.body());
        List<String> statuses = TestServer.ndjson(r.body()).stream().map(l -> l.get("status").asText()).toList();
        assertTrue(statuses.contains("quantizing F32 model to Q8_0"), statuses.toString());
        assertEquals("success", statuses.getLast(), statuses.toString());
        JsonNode show = TestServer.json(post("/api/show", "{\"model\":\"tiny-q8\"}").body());
        assertEquals("Q8_0", show.at("/details/quantization_level").asText(), show.toString());
        JsonNode m = TestServer.json(Files.readString(manifest("registry.ollama.ai", "library", "tiny-q8", "latest")));
        JsonNode weights = m.get("layers").get(0);
        assertEquals(MODEL_TYPE, weights.get("mediaType").asText());
        assertFalse(weights.get("digest").asText().equals(ggufDigest), "new weights");
        assertTrue(weights.get("size").asLong() < gguf.length, weights.toString());
        assertEquals(weights.get("size").asLong(), Files.size(blob(weights.get("digest").asText())));
        HttpResponse<String> g = post("/api/generate", "{\"model\":\"tiny-q8\",\"prompt\":\"Once upon\","
                + "\"stream\":false,\"options\":{\"num_predict\":8,\"temperature\":0}}");
        assertEquals(200, g.statusCode(), g.body());
        assertEquals(8, TestServer.json(g.body()).get("eval_count").asInt(), g.body());

        // Ollama's older field name; a K-quant mix (rows of 64 that K-quants cannot take fall back to other types);
        // from an uploaded blob, with stream false
        int created = send("POST", "/api/blobs/" + ggufDigest, gguf).statusCode();
        assertTrue(created == 201 || created == 200, "blob upload: " + created);
        r = post("/api/create", "{\"model\":\"tiny-q4km\",\"files\":{\"tiny.gguf\":\"" + ggufDigest + "\"},"
                + "\"quantization\":\"Q4_K_M\",\"stream\":false}");
        assertEquals(200, r.statusCode(), r.body());
        show = TestServer.json(post("/api/show", "{\"model\":\"tiny-q4km\"}").body());
        assertEquals("Q4_K_M", show.at("/details/quantization_level").asText(), show.toString());
        g = post("/api/generate", "{\"model\":\"tiny-q4km\",\"prompt\":\"Once\",\"stream\":false,"
                + "\"options\":{\"num_predict\":4}}");
        assertEquals(200, g.statusCode(), g.body());

        // the weights already of the type: nothing to do, the layer is the source's
        r = post("/api/create", "{\"model\":\"tiny-f32\",\"from\":\"stories260k\",\"quantize\":\"f32\","
                + "\"stream\":false}");
        assertEquals(200, r.statusCode(), r.body());
        m = TestServer.json(Files.readString(manifest("registry.ollama.ai", "library", "tiny-f32", "latest")));
        assertEquals(ggufDigest, m.get("layers").get(0).get("digest").asText());

        // a quantized base, or a type create does not make: 400 before anything is written
        assertError(post("/api/create", "{\"model\":\"q\",\"from\":\"tiny-q8\",\"quantize\":\"q4_0\"}"), 400,
                "quantization is only supported for F16 and F32 models");
        assertError(post("/api/create", "{\"model\":\"q\",\"from\":\"stories260k\",\"quantize\":\"iq2_xxs\"}"),
                400, "unsupported quantization type IQ2_XXS - supported types are Q4_0");
        assertError(post("/api/create", "{\"model\":\"q\",\"from\":\"stories260k\",\"quantize\":7}"), 400,
                "quantize");
        assertFalse(Files.exists(manifest("registry.ollama.ai", "library", "q", "latest")));
        try (Stream<Path> left = Files.list(store.resolve("blobs"))) {
            assertEquals(List.of(), left.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".tmp"))
                    .toList(), "no quantizer's file left behind");
        }
        for (String name : List.of("tiny-q8", "tiny-q4km", "tiny-f32")) {
            assertEquals(200, send("DELETE", "/api/delete", ("{\"model\":\"" + name + "\"}").getBytes()).statusCode());
        }
    }

    /**
     * {@code create} with {@code adapters}, as a Modelfile's {@code ADAPTER}: a LoRA adapter blob becomes an adapter
     * layer that the loaded model applies (its greedy text changes), show lists it, and what is not a LoRA adapter for
     * the model's architecture is a 400.
     */
    @Test
    void createWithALoraAdapterChangesWhatTheModelSays(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Path lora = dir.resolve("lora.gguf");
        dev.gantry.models.synthetic.SyntheticLora.write(Path.of("target", "gantry-cache", "models", "stories260K.gguf"),
                lora, 4, 4, 0.5, false);
        byte[] adapter = Files.readAllBytes(lora);
        String digest = TestRegistry.sha256(adapter);
        assertEquals(404, send("HEAD", "/api/blobs/" + digest, null).statusCode());
        assertError(post("/api/create", "{\"model\":\"a\",\"from\":\"stories260k\",\"adapters\":{\"lora.gguf\":\""
                + digest + "\"}}"), 400, "not found");
        assertEquals(201, send("POST", "/api/blobs/" + digest, adapter).statusCode());

        HttpResponse<String> r = post("/api/create", "{\"model\":\"tiny-lora\",\"from\":\"stories260k\","
                + "\"adapters\":{\"lora.gguf\":\"" + digest + "\"},\"stream\":false}");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode m = TestServer.json(Files.readString(manifest("registry.ollama.ai", "library", "tiny-lora", "latest")));
        JsonNode last = m.get("layers").get(m.get("layers").size() - 1);
        assertEquals("application/vnd.ollama.image.adapter", last.get("mediaType").asText(), m.toString());
        assertEquals(digest, last.get("digest").asText());
        JsonNode show = TestServer.json(post("/api/show", "{\"model\":\"tiny-lora\"}").body());
        assertTrue(show.get("modelfile").asText().contains("ADAPTER " + blob(digest)), show.get("modelfile").asText());

        String ask = "\",\"prompt\":\"Once upon a time\",\"raw\":true,\"stream\":false,"
                + "\"options\":{\"num_predict\":24,\"temperature\":0}}";
        String base = TestServer.json(post("/api/generate", "{\"model\":\"stories260k" + ask).body())
                .get("response").asText();
        HttpResponse<String> g = post("/api/generate", "{\"model\":\"tiny-lora" + ask);
        assertEquals(200, g.statusCode(), g.body());
        String adapted = TestServer.json(g.body()).get("response").asText();
        assertFalse(adapted.equals(base), "the adapter changes the text: " + adapted);

        // not an adapter; an adapter given as the model; an adapter for another architecture
        assertError(post("/api/create", "{\"model\":\"a\",\"from\":\"stories260k\",\"adapters\":{\"m.gguf\":\""
                + ggufDigest + "\"}}"), 400, "is not a LoRA adapter");
        assertError(post("/api/create", "{\"model\":\"a\",\"files\":{\"lora.gguf\":\"" + digest + "\"}}"), 400,
                "is an adapter, not a model");
        Path bert = dir.resolve("bert.gguf");
        dev.gantry.models.synthetic.SyntheticBert.write(dev.gantry.models.synthetic.SyntheticBert.TINY,
                dev.gantry.runtime.testing.TestModels.sharedDir().resolve("llama-data/vocab/ggml-vocab-bert-bge.gguf"),
                bert, dev.gantry.models.gguf.GgmlType.F32,
                dev.gantry.models.synthetic.SyntheticBert.POOLING_MEAN);
        Path bertLora = dir.resolve("bert-lora.gguf");
        dev.gantry.models.synthetic.SyntheticLora.write(bert, bertLora, 2, 2, 0.1, false);
        byte[] other = Files.readAllBytes(bertLora);
        send("POST", "/api/blobs/" + TestRegistry.sha256(other), other);
        assertError(post("/api/create", "{\"model\":\"a\",\"from\":\"stories260k\",\"stream\":false,"
                + "\"adapters\":{\"b.gguf\":\"" + TestRegistry.sha256(other) + "\"}}"), 400, "is for bert models, not llama");
        // streamed too, and before any quantizing (which would leave its weights behind)
        long blobs;
        try (Stream<Path> b = Files.list(store.resolve("blobs"))) {
            blobs = b.count();
        }
        assertError(post("/api/create", "{\"model\":\"a\",\"from\":\"stories260k\",\"quantize\":\"q8_0\","
                + "\"adapters\":{\"b.gguf\":\"" + TestRegistry.sha256(other) + "\"}}"), 400, "is for bert models");
        // an adapter written for a llama of another shape: llama.cpp would refuse it at every load
        Path wide = dir.resolve("wide.gguf");
        dev.gantry.models.synthetic.SyntheticModel.write(dev.gantry.models.synthetic.SyntheticModel.shape("tiny:2"),
                dev.gantry.runtime.testing.TestModels.sharedDir().resolve("llama-data/vocab/ggml-vocab-llama-spm.gguf"),
                wide, dev.gantry.models.gguf.GgmlType.F16, true);
        Path wideLora = dir.resolve("wide-lora.gguf");
        dev.gantry.models.synthetic.SyntheticLora.write(wide, wideLora, 2, 2, 0.1, false);
        byte[] misfit = Files.readAllBytes(wideLora);
        send("POST", "/api/blobs/" + TestRegistry.sha256(misfit), misfit);
        assertError(post("/api/create", "{\"model\":\"a\",\"from\":\"stories260k\",\"adapters\":{\"w.gguf\":\""
                + TestRegistry.sha256(misfit) + "\"}}"), 400, "does not fit this model");
        try (Stream<Path> b = Files.list(store.resolve("blobs"))) {
            assertEquals(blobs + 1, b.count(), "only the upload is new");
        }
        // a lora_b alone, and a tensor that is no LoRA matrix: llama.cpp refuses both at every load
        for (String[] c : new String[][] {{"blk.0.attn_q.weight.lora_b", "has lora_b but no lora_a"},
                {"blk.0.attn_q.weight.extra", "no LoRA matrix"}}) {
            Path odd = dir.resolve("odd.gguf");
            new dev.gantry.models.gguf.GgufWriter().putString("general.architecture", "llama")
                    .putString("general.type", "adapter").putString("adapter.type", "lora")
                    .putF32("adapter.lora.alpha", 1f)
                    .tensor(c[0], dev.gantry.models.gguf.GgmlType.F32, new long[] {2, 64},
                            dev.gantry.models.gguf.GgufWriter.zeros())
                    .write(odd);
            byte[] oddBytes = Files.readAllBytes(odd);
            send("POST", "/api/blobs/" + TestRegistry.sha256(oddBytes), oddBytes);
            assertError(post("/api/create", "{\"model\":\"a\",\"from\":\"stories260k\",\"adapters\":{\"o.gguf\":\""
                    + TestRegistry.sha256(oddBytes) + "\"}}"), 400, c[1]);
        }
        assertFalse(Files.exists(manifest("registry.ollama.ai", "library", "a", "latest")));
        assertEquals(200, send("DELETE", "/api/delete", "{\"model\":\"tiny-lora\"}".getBytes()).statusCode());
    }

    /**
     * {@code push}, as {@code ollama push HOST/ns/model:tag --insecure}: the blobs the registry lacks are uploaded, then
     * the manifest byte for byte; a second push uploads nothing; the model pulls back whole; a registry that wants a
     * login is refused with a clear error.
     */
    @Test
    void pushUploadsWhatTheRegistryLacksThenTheManifest() throws Exception {
        String name = registry.host() + "/library/pushed:v1";
        HttpResponse<String> r = post("/api/create", "{\"model\":\"" + name + "\",\"from\":\"stories260k\","
                + "\"system\":\"Pushed.\",\"stream\":false}");
        assertEquals(200, r.statusCode(), r.body());
        r = post("/api/push", "{\"model\":\"" + name + "\",\"insecure\":true}");
        assertEquals(200, r.statusCode(), r.body());
        List<JsonNode> lines = TestServer.ndjson(r.body());
        List<String> statuses = lines.stream().map(l -> l.get("status").asText()).toList();
        assertEquals("retrieving manifest", statuses.getFirst(), statuses.toString());
        assertEquals(List.of("pushing manifest", "success"), statuses.subList(statuses.size() - 2, statuses.size()));
        Path local = manifest(registry.host(), "library", "pushed", "v1");
        JsonNode m = TestServer.json(Files.readString(local));
        List<String> digests = new java.util.ArrayList<>(List.of(m.at("/config/digest").asText()));
        m.get("layers").forEach(l -> digests.add(l.get("digest").asText()));
        for (String d : digests) {
            assertTrue(registry.hasBlob(d), d);
        }
        int blobs = registry.uploaded.size();
        assertEquals(blobs, new java.util.HashSet<>(registry.uploaded).size(), "each once: " + registry.uploaded);
        assertTrue(registry.uploaded.contains(m.at("/config/digest").asText()), "the config was new");
        String weights = m.get("layers").get(0).get("digest").asText();
        assertTrue(lines.stream().anyMatch(l -> l.path("digest").asText().equals(weights)
                && l.path("completed").asLong() == gguf.length), r.body());
        assertArrayEquals(Files.readAllBytes(local), registry.manifestAt("library", "pushed", "v1"), "as stored");

        r = post("/api/push", "{\"model\":\"" + name + "\",\"insecure\":true,\"stream\":false}");
        assertEquals(200, r.statusCode(), r.body());
        assertEquals("success", TestServer.json(r.body()).get("status").asText());
        assertEquals(blobs, registry.uploaded.size(), "the registry had them all");

        assertEquals(200, send("DELETE", "/api/delete", ("{\"model\":\"" + name + "\"}").getBytes()).statusCode());
        r = post("/api/pull", "{\"model\":\"" + name + "\",\"insecure\":true,\"stream\":false}");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode show = TestServer.json(post("/api/show", "{\"model\":\"" + name + "\"}").body());
        assertEquals("Pushed.", show.get("system").asText(), show.toString());

        String other = registry.host() + "/library/pushed:v2";
        assertEquals(200, post("/api/create", "{\"model\":\"" + other + "\",\"from\":\"" + name + "\","
                + "\"system\":\"Another.\",\"stream\":false}").statusCode());
        registry.refuseUploads = true;
        try {
            assertError(post("/api/push", "{\"model\":\"" + other + "\",\"insecure\":true,\"stream\":false}"), 500,
                    "not logins");
        } finally {
            registry.refuseUploads = false;
        }
        for (String n : List.of(name, other)) {
            assertEquals(200, send("DELETE", "/api/delete", ("{\"model\":\"" + n + "\"}").getBytes()).statusCode());
        }
    }

    @Test
    void blobsCreateShowCopyDeleteRoundTrip() throws Exception {
        String path = "/api/blobs/" + ggufDigest;
        HttpResponse<String> wrong = send("POST", "/api/blobs/" + TestRegistry.sha256(new byte[] {1}), gguf);
        assertEquals(400, wrong.statusCode(), wrong.body());
        assertTrue(wrong.body().contains("digest mismatch"), wrong.body());
        int created = send("POST", path, gguf).statusCode();
        assertTrue(created == 201 || created == 200, "201 when new, 200 when a pull stored it already: " + created);
        assertEquals(200, send("HEAD", path, null).statusCode());
        assertEquals(404, send("HEAD", "/api/blobs/" + TestRegistry.sha256(new byte[] {2}), null).statusCode());

        String create = "{\"model\":\"mine\",\"files\":{\"tiny.gguf\":\"" + ggufDigest + "\"},"
                + "\"template\":\"{{ .System }} {{ .Prompt }}\",\"system\":\"You tell stories.\","
                + "\"parameters\":{\"temperature\":0,\"stop\":[\"The end\"]},"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"license\":\"MIT\"}";
        HttpResponse<String> r = post("/api/create", create);
        assertEquals(200, r.statusCode(), r.body());
        List<String> statuses = TestServer.ndjson(r.body()).stream().map(l -> l.get("status").asText()).toList();
        assertEquals("parsing GGUF", statuses.getFirst());
        assertTrue(statuses.contains("using existing layer " + ggufDigest), statuses.toString());
        assertTrue(statuses.stream().anyMatch(s -> s.startsWith("creating new layer sha256:")), statuses.toString());
        assertEquals(List.of("writing manifest", "success"), statuses.subList(statuses.size() - 2, statuses.size()));

        // the manifest as Ollama writes it
        JsonNode m = TestServer.json(Files.readString(manifest("registry.ollama.ai", "library", "mine", "latest")));
        assertEquals(2, m.get("schemaVersion").asInt());
        assertEquals("application/vnd.docker.distribution.manifest.v2+json", m.get("mediaType").asText());
        assertEquals("application/vnd.docker.container.image.v1+json", m.at("/config/mediaType").asText());
        List<String> types = Stream.of(m.get("layers")).flatMap(a -> java.util.stream.StreamSupport.stream(
                a.spliterator(), false)).map(l -> l.get("mediaType").asText()).toList();
        assertEquals(List.of(MODEL_TYPE, "application/vnd.ollama.image.template", "application/vnd.ollama.image.system",
                "application/vnd.ollama.image.params", "application/vnd.ollama.image.messages",
                "application/vnd.ollama.image.license"), types);
        JsonNode config = TestServer.json(Files.readString(blob(m.at("/config/digest").asText())));
        assertEquals("gguf", config.get("model_format").asText());
        assertEquals("llama", config.get("model_family").asText());
        assertEquals("F32", config.get("file_type").asText());
        assertEquals("layers", config.at("/rootfs/type").asText());
        JsonNode params = TestServer.json(Files.readString(blob(m.get("layers").get(3).get("digest").asText())));
        assertEquals("The end", params.get("stop").get(0).asText());

        JsonNode show = TestServer.json(post("/api/show", "{\"model\":\"mine\"}").body());
        assertEquals("You tell stories.", show.get("system").asText());
        assertEquals("{{ .System }} {{ .Prompt }}", show.get("template").asText());
        assertEquals("MIT", show.get("license").asText());
        assertTrue(show.get("parameters").asText().contains("\"The end\""), show.toString());
        assertEquals("completion", show.get("capabilities").get(0).asText());
        assertEquals(292800, show.at("/model_info/general.parameter_count").asLong());
        // the tensors without verbose too, as Ollama's show lists them
        assertTrue(show.get("tensors").isArray() && !show.get("tensors").isEmpty(), show.toString());
        // a request's system stands in for the model's; its options join the Modelfile's parameters
        JsonNode overridden = TestServer.json(post("/api/show", "{\"model\":\"mine\",\"system\":\"Be terse.\","
                + "\"options\":{\"top_k\":7}}").body());
        assertEquals("Be terse.", overridden.get("system").asText());
        assertTrue(overridden.get("modelfile").asText().contains("SYSTEM \"\"\"Be terse.\"\"\""), overridden.toString());
        assertTrue(overridden.get("modelfile").asText().contains("PARAMETER top_k 7"), overridden.toString());
        assertFalse(overridden.get("parameters").asText().contains("top_k"), "parameters stay the model's own");

        assertEquals(200, post("/api/copy", "{\"source\":\"mine\",\"destination\":\"other/mine2:v1\"}").statusCode());
        JsonNode tags = TestServer.json(server.get("/api/tags").body());
        assertEquals(find(tags, "mine:latest").get("digest"), find(tags, "other/mine2:v1").get("digest"));
        // a name keeps the case it was given, as Ollama keeps it, and matches in any case
        assertEquals(200, post("/api/copy", "{\"source\":\"MINE\",\"destination\":\"MyCopy:V1\"}").statusCode());
        assertTrue(Files.exists(manifest("registry.ollama.ai", "library", "MyCopy", "V1")));
        assertTrue(find(TestServer.json(server.get("/api/tags").body()), "MyCopy:V1") != null);
        assertEquals(200, post("/api/show", "{\"model\":\"mycopy:v1\"}").statusCode());
        assertEquals(200, send("DELETE", "/api/delete", "{\"model\":\"mycopy:V1\"}".getBytes()).statusCode());
        assertFalse(Files.exists(manifest("registry.ollama.ai", "library", "MyCopy", "V1")));
        // written to the name of a model that is not a manifest (the built-in one), in another case: its spelling
        assertEquals(200, post("/api/copy", "{\"source\":\"mine\",\"destination\":\"STORIES260K\"}").statusCode());
        assertTrue(Files.exists(manifest("registry.ollama.ai", "library", "stories260k", "latest")));
        assertEquals(200, send("DELETE", "/api/delete", "{\"model\":\"Stories260k\"}".getBytes()).statusCode());
        assertTrue(find(tags, "stories260k:latest") != null, "the built-in model stays listed");

        assertEquals(200, send("DELETE", "/api/delete", "{\"model\":\"mine\"}".getBytes()).statusCode());
        assertFalse(Files.exists(manifest("registry.ollama.ai", "library", "mine", "latest")));
        assertTrue(Files.exists(blob(ggufDigest)), "still used by the copy");
        HttpResponse<String> g = post("/api/generate", "{\"model\":\"other/mine2:v1\",\"prompt\":\"Once\","
                + "\"stream\":false,\"options\":{\"num_predict\":4}}");
        assertEquals(200, g.statusCode(), g.body());
        assertEquals(200, send("DELETE", "/api/delete", "{\"model\":\"other/mine2:v1\"}".getBytes()).statusCode());
        if (!pulledTinyStillThere()) {
            assertFalse(Files.exists(blob(ggufDigest)), "no manifest uses it any more");
        }
        assertEquals(404, send("DELETE", "/api/delete", "{\"model\":\"mine\"}".getBytes()).statusCode());
        assertEquals(400, send("DELETE", "/api/delete", "{\"model\":\"stories260k\"}".getBytes()).statusCode());
    }

    private static boolean pulledTinyStillThere() {
        try (Stream<Path> s = Files.walk(store.resolve("manifests"))) {
            return s.anyMatch(p -> Files.isRegularFile(p) && !p.toString().contains("registry.ollama.ai"));
        } catch (java.io.IOException e) {
            return true;
        }
    }

    @Test
    void createFromTheBuiltInModelAndUnsupportedOptions() throws Exception {
        HttpResponse<String> r = post("/api/create", "{\"model\":\"teller\",\"from\":\"stories260k\","
                + "\"system\":\"Be brief.\",\"stream\":false}");
        assertEquals(200, r.statusCode(), r.body());
        assertEquals("success", TestServer.json(r.body()).get("status").asText());
        JsonNode show = TestServer.json(post("/api/show", "{\"model\":\"teller\"}").body());
        assertEquals("Be brief.", show.get("system").asText());
        HttpResponse<String> g = post("/api/generate", "{\"model\":\"teller\",\"prompt\":\"Once\",\"stream\":false,"
                + "\"options\":{\"num_predict\":2}}");
        assertEquals(200, g.statusCode(), g.body());

        // from an existing store model: its layers are kept, the new ones replace theirs
        r = post("/api/create", "{\"model\":\"teller2\",\"from\":\"teller\",\"parameters\":{\"top_k\":5},\"stream\":false}");
        assertEquals(200, r.statusCode(), r.body());
        show = TestServer.json(post("/api/show", "{\"model\":\"teller2\"}").body());
        assertEquals("Be brief.", show.get("system").asText());
        assertEquals("teller:latest", show.at("/details/parent_model").asText(), "the model it was made from");
        assertTrue(show.get("parameters").asText().startsWith("top_k"), show.toString());

        assertError(post("/api/create", "{\"model\":\"q\"}"), 400, "neither 'from' or 'files'");
        assertError(post("/api/create", "{\"model\":\"q\",\"files\":{\"a.gguf\":\"" + TestRegistry.sha256(new byte[] {9})
                + "\"}}"), 400, "not found");
        // a base that is not here is pulled first, as Ollama's create does: from a registry that has no such model, the
        // pull's answer
        assertError(post("/api/create", "{\"model\":\"q\",\"from\":\"" + registry.host() + "/library/missing\","
                + "\"insecure\":true,\"stream\":false}"), 404, "file does not exist");
        assertError(post("/api/create", "{\"model\":\"q\",\"from\":\"stories260k\",\"parameters\":{\"top_k\":\"x\"}}"),
                400, "top_k");
        // the request is checked first, as Ollama checks it
        assertError(post("/api/push", "{}"), 400, "model is required");
        assertError(post("/api/push", "{\"model\":\"nothing-here\"}"), 404, "not found");
    }

    /**
     * As Ollama's create: an empty template, system or message list leaves the base's; licenses add to the base's; a
     * GGUF blob named without .gguf is read by its content; the Modelfile keeps parameter values as they are.
     */
    @Test
    void createKeepsWhatAnEmptyFieldLeavesAndAddsLicenses() throws Exception {
        assertEquals(200, post("/api/create", "{\"model\":\"base1\",\"from\":\"stories260k\",\"system\":\"Be brief.\","
                + "\"template\":\"{{ .System }}: {{ .Prompt }}\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                + "\"license\":[\"A\",\"B\"],\"parameters\":{\"stop\":[\"User:  \",\"a   b\"]},\"stream\":false}").statusCode());
        HttpResponse<String> r = post("/api/create", "{\"model\":\"child1\",\"from\":\"base1\",\"template\":\"\","
                + "\"system\":\"\",\"messages\":[],\"license\":\"C\",\"stream\":false}");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode show = TestServer.json(post("/api/show", "{\"model\":\"child1\"}").body());
        assertEquals("Be brief.", show.get("system").asText(), show.toString());
        assertEquals("{{ .System }}: {{ .Prompt }}", show.get("template").asText());
        assertEquals(1, show.get("messages").size(), show.toString());
        assertEquals("A\nB\nC", show.get("license").asText());
        String modelfile = show.get("modelfile").asText();
        assertTrue(modelfile.contains("PARAMETER stop \"User:  \"\n"), modelfile);
        assertTrue(modelfile.contains("PARAMETER stop \"a   b\"\n"), modelfile);

        assertEquals(2, send("POST", "/api/blobs/" + ggufDigest, gguf).statusCode() / 100, "uploaded, or there");
        r = post("/api/create", "{\"model\":\"noext\",\"files\":{\"model.bin\":\"" + ggufDigest + "\"},\"stream\":false}");
        assertEquals(200, r.statusCode(), r.body());
        byte[] notGguf = "{\"not\": \"a model\"}".getBytes(StandardCharsets.UTF_8);
        String notDigest = TestRegistry.sha256(notGguf);
        assertEquals(2, send("POST", "/api/blobs/" + notDigest, notGguf).statusCode() / 100);
        assertError(post("/api/create", "{\"model\":\"q\",\"files\":{\"model.safetensors\":\"" + notDigest + "\"}}"),
                400, "only GGUF models");

        // listed as Ollama lists them: tags most recently modified first, running models longest time left first
        JsonNode tags = TestServer.json(server.get("/api/tags").body()).get("models");
        for (int i = 1; i < tags.size(); i++) {
            assertTrue(java.time.Instant.parse(tags.get(i - 1).get("modified_at").asText()).compareTo(
                    java.time.Instant.parse(tags.get(i).get("modified_at").asText())) >= 0, tags.toString());
        }
        // (base1, child1 and noext are the same weights, one copy in memory: the built-in model's file is another)
        assertEquals(200, post("/api/generate", "{\"model\":\"noext\",\"keep_alive\":\"10m\"}").statusCode());
        assertEquals(200, post("/api/generate", "{\"model\":\"stories260k\",\"keep_alive\":\"1h\"}").statusCode());
        JsonNode running = TestServer.json(server.get("/api/ps").body()).get("models");
        assertTrue(running.size() >= 2, running.toString());
        assertEquals("stories260k:latest", running.get(0).get("name").asText(), running.toString());
        for (int i = 1; i < running.size(); i++) {
            assertTrue(java.time.Instant.parse(running.get(i - 1).get("expires_at").asText()).compareTo(
                    java.time.Instant.parse(running.get(i).get("expires_at").asText())) >= 0, running.toString());
        }
    }

    /** A template that places {@code .Suffix} gives the insert capability, and generate fills in the middle. */
    @Test
    void aSuffixTemplateFillsInTheMiddle() throws Exception {
        assertEquals(200, post("/api/create", "{\"model\":\"fim\",\"from\":\"stories260k\",\"template\":"
                + "\"{{ if .Suffix }}<PRE> {{ .Prompt }} <SUF>{{ .Suffix }} <MID>{{ else }}{{ .Prompt }}{{ end }}\","
                + "\"stream\":false}").statusCode());
        JsonNode show = TestServer.json(post("/api/show", "{\"model\":\"fim\"}").body());
        assertTrue(show.get("capabilities").toString().contains("insert"), show.toString());
        JsonNode plain = TestServer.json(post("/api/generate", "{\"model\":\"fim\",\"prompt\":\"Once upon\","
                + "\"stream\":false,\"options\":{\"num_predict\":2}}").body());
        HttpResponse<String> r = post("/api/generate", "{\"model\":\"fim\",\"prompt\":\"Once upon\","
                + "\"suffix\":\"happily ever after\",\"stream\":false,\"options\":{\"num_predict\":2}}");
        assertEquals(200, r.statusCode(), r.body());
        assertTrue(TestServer.json(r.body()).get("prompt_eval_count").asInt()
                > plain.get("prompt_eval_count").asInt() + 3, r.body() + " against " + plain);
        assertError(post("/api/generate", "{\"model\":\"stories260k\",\"prompt\":\"x\",\"suffix\":\"y\"}"), 400,
                "does not support insert");
    }

    @Test
    void theMessageLayerComesBeforeTheChatAndTemplatesAreChecked() throws Exception {
        String user = "[{\"role\":\"user\",\"content\":\" dog\"}]";
        // the model has no template: Ollama's {{ .Prompt }}, which renders the users' turns and nothing else
        JsonNode plain = TestServer.json(post("/api/chat", "{\"model\":\"stories260k\",\"stream\":false,\"messages\":"
                + user + ",\"options\":{\"num_predict\":1}}").body());
        JsonNode raw = TestServer.json(post("/api/generate", "{\"model\":\"stories260k\",\"prompt\":\" dog\",\"raw\":true,"
                + "\"stream\":false,\"options\":{\"num_predict\":1}}").body());
        assertEquals(raw.get("prompt_eval_count").asInt(), plain.get("prompt_eval_count").asInt(),
                "the text alone, no chat markup: " + plain);
        HttpResponse<String> r = post("/api/create", "{\"model\":\"primed\",\"from\":\"stories260k\",\"stream\":false,"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time there was a\"},"
                + "{\"role\":\"assistant\",\"content\":\"cat\"}]}");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode show = TestServer.json(post("/api/show", "{\"model\":\"primed\"}").body());
        assertEquals("Once upon a time there was a", show.at("/messages/0/content").asText(), show.toString());
        assertEquals("assistant", show.at("/messages/1/role").asText());
        JsonNode primed = TestServer.json(post("/api/chat", "{\"model\":\"primed\",\"stream\":false,\"messages\":"
                + user + ",\"options\":{\"num_predict\":1}}").body());
        assertTrue(primed.get("prompt_eval_count").asInt() >= plain.get("prompt_eval_count").asInt() + 6,
                "the layer's user turn is in the prompt: " + primed + " vs " + plain);
        // a generate on the model starts from the layer too
        JsonNode generated = TestServer.json(post("/api/generate", "{\"model\":\"primed\",\"prompt\":\" dog\","
                + "\"stream\":false,\"options\":{\"num_predict\":1}}").body());
        assertEquals(primed.get("prompt_eval_count").asInt(), generated.get("prompt_eval_count").asInt());

        assertError(post("/api/create", "{\"model\":\"broken\",\"from\":\"stories260k\",\"template\":\"{{ .Foo }\"}"),
                400, "template error");
        assertEquals(404, post("/api/show", "{\"model\":\"broken\"}").statusCode(), "nothing was created");
        assertError(post("/api/generate", "{\"model\":\"stories260k\",\"prompt\":\"x\",\"template\":\"{{ if .Prompt }\"}"),
                400, "template error");
        // valid Go this renderer does not handle is not the client's error: the model's template is used instead
        HttpResponse<String> unsupported = post("/api/generate", "{\"model\":\"stories260k\",\"prompt\":\"x\","
                + "\"stream\":false,\"template\":\"{{ block \\\"x\\\" . }}{{ .Prompt }}{{ end }}\","
                + "\"options\":{\"num_predict\":1}}");
        assertEquals(200, unsupported.statusCode(), unsupported.body());
    }

    @Test
    void hostileNamesAndDigestsAre400AndTouchNothingOutsideTheStore() throws Exception {
        Path outside = store.getParent();
        List<Path> before = tree(store);
        for (String name : List.of("../../etc/passwd", "/etc/passwd", "..", "a/../../b", "a\\\\b", "C:\\\\x",
                "x/y/z/w", ".hidden", "a:b:c/d")) {
            String quoted = TestServer.JSON.writeValueAsString(name);
            assertEquals(400, post("/api/show", "{\"model\":" + quoted + "}").statusCode(), name);
            assertEquals(400, post("/api/create", "{\"model\":" + quoted + ",\"from\":\"stories260k\"}").statusCode(), name);
            assertEquals(400, post("/api/copy", "{\"source\":\"stories260k\",\"destination\":" + quoted + "}").statusCode(), name);
            assertEquals(400, send("DELETE", "/api/delete", ("{\"model\":" + quoted + "}").getBytes()).statusCode(), name);
            assertEquals(400, post("/api/pull", "{\"model\":" + quoted + ",\"insecure\":true}").statusCode(), name);
        }
        for (String digest : List.of("..%2F..%2Fetc%2Fpasswd", "sha256:..%2F..%2Fetc", "sha256-abc", "md5:"
                + "0".repeat(32), "sha256:" + "g".repeat(64), "sha256:" + "0".repeat(63))) {
            assertEquals(400, send("HEAD", "/api/blobs/" + digest, null).statusCode(), digest);
            assertEquals(400, send("POST", "/api/blobs/" + digest, new byte[] {1, 2, 3}).statusCode(), digest);
        }
        assertTrue(send("POST", "/api/blobs/../../../tmp/x", new byte[] {1}).statusCode() >= 400);
        assertEquals(400, post("/api/create", "{\"model\":\"q\",\"files\":{\"../../etc/passwd\":\"" + ggufDigest
                + "\"}}").statusCode());
        assertEquals(400, post("/api/create", "{\"model\":\"q\",\"files\":{\"a.gguf\":\"sha256:../../etc/passwd\"}}")
                .statusCode());
        assertEquals(before, tree(store), "the hostile requests wrote nothing in the store");
        for (String name : List.of("etc", "passwd")) {
            assertFalse(Files.exists(outside.resolve(name)), "nothing beside the store: " + name);
        }
        assertFalse(Files.exists(store.resolve("..").resolve("etc").resolve("passwd")));
    }

    private static List<Path> tree(Path root) throws java.io.IOException {
        try (Stream<Path> s = Files.walk(root)) {
            return s.sorted().toList();
        }
    }

    @Test
    void aStoreWrittenByOllamaIsRead() throws Exception {
        // the layout and bytes Ollama writes, put there by hand
        Path blobs = Files.createDirectories(store.resolve("blobs"));
        Files.write(blobs.resolve(ggufDigest.replace(':', '-')), gguf);
        byte[] template = "{{ if .System }}{{ .System }} {{ end }}{{ .Prompt }}".getBytes(StandardCharsets.UTF_8);
        String templateDigest = TestRegistry.sha256(template);
        Files.write(blobs.resolve(templateDigest.replace(':', '-')), template);
        byte[] config = ("{\"model_format\":\"gguf\",\"model_family\":\"llama\",\"model_families\":[\"llama\"],"
                + "\"model_type\":\"292.80K\",\"file_type\":\"F32\",\"architecture\":\"amd64\",\"os\":\"linux\","
                + "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" + ggufDigest + "\",\"" + templateDigest + "\"]}}")
                .getBytes(StandardCharsets.UTF_8);
        String configDigest = TestRegistry.sha256(config);
        Files.write(blobs.resolve(configDigest.replace(':', '-')), config);
        String manifest = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
                + "\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\",\"digest\":\""
                + configDigest + "\",\"size\":" + config.length + "},\"layers\":[{\"mediaType\":\"" + MODEL_TYPE
                + "\",\"digest\":\"" + ggufDigest + "\",\"size\":" + gguf.length + "},{\"mediaType\":"
                + "\"application/vnd.ollama.image.template\",\"digest\":\"" + templateDigest + "\",\"size\":"
                + template.length + "}]}";
        Path file = manifest("registry.ollama.ai", "library", "fixture", "v1");
        Files.createDirectories(file.getParent());
        Files.writeString(file, manifest);

        JsonNode entry = find(TestServer.json(server.get("/api/tags").body()), "fixture:v1");
        assertEquals(TestRegistry.sha256(manifest.getBytes(StandardCharsets.UTF_8)).substring(7),
                entry.get("digest").asText());
        assertEquals(config.length + gguf.length + template.length, entry.get("size").asLong());
        assertEquals("F32", entry.at("/details/quantization_level").asText());
        HttpResponse<String> g = post("/api/generate", "{\"model\":\"registry.ollama.ai/library/FIXTURE:V1\","
                + "\"prompt\":\"Once\",\"stream\":false,\"options\":{\"num_predict\":3,\"num_ctx\":128}}");
        assertEquals(200, g.statusCode(), g.body());
        assertEquals(3, TestServer.json(g.body()).get("eval_count").asInt());
        JsonNode ps = TestServer.json(server.get("/api/ps").body());
        JsonNode running = find(ps, "fixture:v1");
        assertEquals(128, running.get("context_length").asInt(), "num_ctx reloads with that context");
        assertEquals(200, send("DELETE", "/api/delete", "{\"model\":\"fixture:v1\"}".getBytes()).statusCode());
        assertTrue(server.gantry.models().loadedModel("fixture:v1").isEmpty(), "deleting unloads it");
    }

    private static JsonNode find(JsonNode list, String name) {
        for (JsonNode m : list.get("models")) {
            if (m.get("name").asText().equals(name)) {
                return m;
            }
        }
        throw new AssertionError(name + " not in " + list);
    }

    private static void assertError(HttpResponse<String> r, int status, String part) throws Exception {
        assertEquals(status, r.statusCode(), r.body());
        assertTrue(TestServer.json(r.body()).get("error").asText().contains(part), r.body());
    }

    /**
     * Models of the same weights (an /api/copy, a create from it with another system prompt, a name re-created) are
     * served by one copy in memory, as Ollama shares a runner by file; each request is rendered with its own model's
     * layers. (Each had a copy of its own: a Modelfile's FROM beside its base held the weights twice, and alternating
     * between them under OLLAMA_MAX_LOADED_MODELS=1 reloaded at every request.)
     */
    @Test
    void modelsOfTheSameWeightsShareOneLoadedModelEachWithItsOwnLayers() throws Exception {
        String template = ",\"template\":\"{{ .System }} {{ .Prompt }}\"";
        // nothing in memory: the copy the test looks for is the one alias-a loads (other tests' models of these
        // weights would serve it under their names)
        for (JsonNode m : TestServer.json(server.get("/api/ps").body()).get("models")) {
            post("/api/generate", "{\"model\":\"" + m.get("name").asText() + "\",\"keep_alive\":0}");
        }
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(20);
        while (!TestServer.json(server.get("/api/ps").body()).get("models").isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertEquals(200, post("/api/create", "{\"model\":\"alias-a\",\"from\":\"stories260k\","
                + "\"system\":\"Short.\",\"stream\":false" + template + "}").statusCode());
        assertEquals(200, post("/api/copy", "{\"source\":\"alias-a\",\"destination\":\"alias-b\"}").statusCode());
        for (String name : List.of("alias-a", "alias-b")) {
            HttpResponse<String> g = post("/api/generate", "{\"model\":\"" + name + "\",\"prompt\":\"Once\","
                    + "\"stream\":false,\"options\":{\"num_predict\":2}}");
            assertEquals(200, g.statusCode(), g.body());
            assertEquals(name, TestServer.json(g.body()).get("model").asText(), "the name as sent");
        }
        assertEquals(1, aliases().size(), "one copy for both names: " + aliases());
        // alias-b now has a longer system prompt: the same weights, the same copy, its own prompt
        assertEquals(200, post("/api/create", "{\"model\":\"alias-b\",\"from\":\"alias-a\",\"system\":\"A much "
                + "longer system prompt about the sea, the sky and the little boat.\",\"stream\":false}").statusCode());
        int[] counts = new int[2];
        for (int k = 0; k < 2; k++) {
            JsonNode g = TestServer.json(post("/api/generate", "{\"model\":\"alias-" + (char) ('a' + k)
                    + "\",\"prompt\":\"Once\",\"stream\":false,\"options\":{\"num_predict\":2}}").body());
            counts[k] = g.get("prompt_eval_count").asInt();
        }
        assertTrue(counts[1] > counts[0] + 5, "each rendered with its own system prompt: " + counts[0] + ", "
                + counts[1]);
        assertEquals(1, aliases().size(), "still one copy: " + aliases());
        // deleting one name keeps the copy for the other
        assertEquals(200, send("DELETE", "/api/delete", "{\"model\":\"alias-b\"}".getBytes()).statusCode());
        assertEquals(1, aliases().size(), aliases().toString());
        // a model whose own parameters load it otherwise (num_ctx) keeps a copy of its own: sharing would reload at
        // every request that alternates between the two
        assertEquals(200, post("/api/create", "{\"model\":\"alias-c\",\"from\":\"alias-a\",\"parameters\":"
                + "{\"num_ctx\":96},\"stream\":false}").statusCode());
        assertEquals(200, post("/api/generate", "{\"model\":\"alias-c\",\"prompt\":\"Once\",\"stream\":false,"
                + "\"options\":{\"num_predict\":2}}").statusCode());
        assertEquals(2, aliases().size(), aliases().toString());
        assertEquals(200, post("/api/generate", "{\"model\":\"alias-c\",\"keep_alive\":0}").statusCode());
        assertEquals(200, send("DELETE", "/api/delete", "{\"model\":\"alias-c\"}".getBytes()).statusCode());
        assertEquals(200, post("/api/generate", "{\"model\":\"alias-a\",\"prompt\":\"Once\",\"stream\":false,"
                + "\"options\":{\"num_predict\":2}}").statusCode());
        assertEquals(200, post("/api/generate", "{\"model\":\"alias-a\",\"keep_alive\":0}").statusCode());
    }

    private static List<String> aliases() throws Exception {
        List<String> out = new java.util.ArrayList<>();
        for (JsonNode m : TestServer.json(server.get("/api/ps").body()).get("models")) {
            if (m.get("name").asText().startsWith("alias-")) {
                out.add(m.get("name").asText());
            }
        }
        return out;
    }
}
