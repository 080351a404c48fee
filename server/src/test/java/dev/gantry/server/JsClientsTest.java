package dev.gantry.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Ollama's own JavaScript client and the OpenAI JavaScript SDK, as users run them, against a live Gantry and the
 * tiny model. The pinned packages are installed once into {@code target/js-clients} (npm, from the package
 * registry); the scripts in {@code src/test/js} print one JSON line per check, asserted here. node and npm are
 * required: CI installs them (./gantry test), so a missing one fails with the reason instead of skipping.
 */
class JsClientsTest {
    static final String OLLAMA_JS = "0.6.3";
    static final String OPENAI_JS = "6.49.0";
    static final Path DIR = Path.of("target", "js-clients").toAbsolutePath();
    static final String MODEL = TestServer.MODEL;

    static TestServer server;
    static TestRegistry registry;
    static String pullName;

    @BeforeAll
    static void start() throws Exception {
        install();
        server = TestServer.start(TestServer.defaults().withContextLength(256));
        registry = new TestRegistry();
        byte[] gguf = Files.readAllBytes(Path.of("target", "gantry-cache", "models", "stories260K.gguf"));
        byte[] config = "{\"model_format\":\"gguf\",\"model_family\":\"llama\",\"rootfs\":{\"type\":\"layers\"}}"
                .getBytes(StandardCharsets.UTF_8);
        registry.manifest("library", "js-pulled", "latest",
                new String[] {"application/vnd.docker.container.image.v1+json", registry.blob(config),
                        String.valueOf(config.length)},
                new String[] {"application/vnd.ollama.image.model", registry.blob(gguf), String.valueOf(gguf.length)});
        pullName = registry.host() + "/library/js-pulled";
    }

    @AfterAll
    static void stop() {
        if (registry != null) {
            registry.close();
        }
        if (server != null) {
            server.close();
        }
    }

    /** npm install of the pinned clients, skipped when they are there already; the scripts copied beside them. */
    static void install() throws Exception {
        Files.createDirectories(DIR);
        for (String script : List.of("ollama-client.mjs", "openai-client.mjs")) {
            Files.copy(Path.of("src", "test", "js", script), DIR.resolve(script),
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        run(List.of("node", "--version"), 30, "node is needed for the JavaScript client tests "
                + "(./gantry test installs it with npm; apt-get install npm)");
        if (installed("ollama", OLLAMA_JS) && installed("openai", OPENAI_JS)) {
            return;
        }
        // a package.json here keeps npm from installing into a folder above
        Files.writeString(DIR.resolve("package.json"), "{\"name\":\"gantry-js-clients\",\"private\":true}\n");
        run(List.of("npm", "install", "--no-audit", "--no-fund", "--no-package-lock", "--loglevel=error",
                "ollama@" + OLLAMA_JS, "openai@" + OPENAI_JS), 300,
                "npm install of the JavaScript clients failed (npm and the package registry are needed)");
        assertTrue(installed("ollama", OLLAMA_JS) && installed("openai", OPENAI_JS), "clients not installed in " + DIR);
    }

    static boolean installed(String pkg, String version) throws IOException {
        Path p = DIR.resolve("node_modules").resolve(pkg).resolve("package.json");
        return Files.exists(p) && version.equals(TestServer.json(Files.readString(p)).path("version").asText());
    }

    static String run(List<String> command, int seconds, String whatFailed) throws Exception {
        Process p;
        try {
            p = new ProcessBuilder(command).directory(DIR.toFile()).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new AssertionError(whatFailed + ": cannot run " + command.getFirst() + " (" + e.getMessage() + ")", e);
        }
        var out = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try {
                return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                return e.toString();
            }
        });
        if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail(whatFailed + ": " + String.join(" ", command) + " ran past " + seconds + " s\n" + out.get());
        }
        String text = out.get();
        assertEquals(0, p.exitValue(), whatFailed + ": " + String.join(" ", command) + "\n" + text);
        return text;
    }

    /** Runs a client script; its JSON lines by check name (other output, e.g. warnings, kept for messages). */
    static Map<String, JsonNode> script(String name) throws Exception {
        List<String> cmd = List.of("node", name);
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(DIR.toFile()).redirectErrorStream(true);
        pb.environment().put("GANTRY_URL", "http://127.0.0.1:" + server.gantry.port());
        pb.environment().put("GANTRY_MODEL", MODEL);
        pb.environment().put("GANTRY_PULL", pullName);
        Process p = pb.start();
        var out = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try {
                return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                return e.toString();
            }
        });
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail(name + " ran past 120 s:\n" + out.get());
        }
        String text = out.get();
        assertEquals(0, p.exitValue(), name + ":\n" + text);
        Map<String, JsonNode> checks = new LinkedHashMap<>();
        for (String line : text.split("\n")) {
            if (line.startsWith("{\"check\":")) {
                JsonNode n = TestServer.json(line);
                checks.put(n.get("check").asText(), n);
            }
        }
        checks.put("(output)", TestServer.JSON.getNodeFactory().textNode(text));
        return checks;
    }

    /** A check that did not throw. */
    static JsonNode ok(Map<String, JsonNode> checks, String name) {
        JsonNode n = checks.get(name);
        assertNotNull(n, "no line for " + name + ":\n" + checks.get("(output)").asText());
        assertFalse(n.has("error"), n.toString());
        return n;
    }

    static List<String> strings(JsonNode array) {
        return StreamSupport.stream(array.spliterator(), false).map(JsonNode::asText).toList();
    }

    @Test
    void ollamasJavaScriptClient() throws Exception {
        server.post("/api/generate", "{\"model\":\"" + MODEL + "\"}"); // load, to count its cancellations
        long cancelledBefore = server.model().stats().cancelled();
        Map<String, JsonNode> c = script("ollama-client.mjs");

        assertEquals("0.13.0", ok(c, "version").get("version").asText());
        JsonNode list = ok(c, "list");
        assertTrue(strings(list.get("names")).contains(MODEL + ":latest"), list.toString());
        assertEquals("llama", list.get("family").asText());
        assertTrue(list.get("size").asLong() > 0 && list.get("digest").asText().length() == 64, list.toString());
        JsonNode show = ok(c, "show");
        assertEquals(List.of("completion"), strings(show.get("capabilities")));
        assertEquals("gguf", show.get("format").asText());
        assertEquals(64, show.get("embeddingLength").asInt());
        assertEquals("[]", show.get("tokens").toString(), "long arrays are shown empty unless verbose, as Ollama does");
        JsonNode verbose = ok(c, "show-verbose");
        assertEquals(512, verbose.get("tokens").asInt(), "verbose: the whole vocabulary");
        assertEquals("<unk>", verbose.get("first").asText());

        for (String g : List.of("generate", "generate-stream")) {
            JsonNode n = ok(c, g);
            assertFalse(n.get("response").asText().isBlank(), n.toString());
            assertTrue(n.get("done").asBoolean(), n.toString());
            assertEquals("length", n.get("doneReason").asText(), n.toString());
            assertEquals(8, n.get("evalCount").asInt(), n.toString());
        }
        assertEquals(ok(c, "generate").get("response"), ok(c, "generate-stream").get("response"));
        assertEquals(9, ok(c, "generate-stream").get("parts").asInt(), "8 tokens and the closing line");
        assertTrue(ok(c, "generate").get("promptEvalCount").asInt() > 0);

        for (String g : List.of("chat", "chat-stream")) {
            JsonNode n = ok(c, g);
            assertFalse(n.get("content").asText().isBlank(), n.toString());
            assertEquals("length", n.get("doneReason").asText(), n.toString());
            assertEquals(8, n.get("evalCount").asInt(), n.toString());
        }
        assertEquals("assistant", ok(c, "chat").get("role").asText());
        assertEquals(ok(c, "chat").get("content"), ok(c, "chat-stream").get("content"));

        JsonNode embed = ok(c, "embed");
        assertEquals(2, embed.get("count").asInt());
        assertEquals(64, embed.get("dims").asInt());
        assertEquals(1.0, embed.get("norm").asDouble(), 1e-4);
        assertEquals(64, ok(c, "embeddings").get("dims").asInt());
        JsonNode ps = ok(c, "ps");
        assertTrue(strings(ps.get("names")).contains(MODEL + ":latest"), ps.toString());
        assertEquals(256, ps.get("contextLength").asInt());

        JsonNode pull = ok(c, "pull");
        List<String> statuses = strings(pull.get("statuses"));
        assertEquals("pulling manifest", statuses.getFirst());
        assertTrue(statuses.contains("verifying sha256 digest") && statuses.contains("writing manifest"), statuses.toString());
        assertEquals("success", pull.get("last").asText());
        assertTrue(pull.get("completed").asLong() > 0, pull.toString());
        assertFalse(pull.get("generated").asText().isBlank(), "the pulled model generates: " + pull);
        assertEquals("success", ok(c, "pull-not-streamed").get("status").asText());

        JsonNode create = ok(c, "create");
        assertEquals(List.of("writing manifest", "success"), strings(create.get("statuses")).subList(
                create.get("statuses").size() - 2, create.get("statuses").size()));
        assertEquals("You tell stories.", create.get("system").asText());
        assertTrue(create.get("parameters").asText().contains("num_predict"), create.toString());
        assertEquals(5, create.get("evalCount").asInt(), "the created model's parameters are its defaults");
        JsonNode copy = ok(c, "copy");
        assertTrue(strings(copy.get("names")).containsAll(List.of("js-teller:latest", "js-teller-copy:v1")), copy.toString());
        List<String> afterDelete = strings(ok(c, "delete").get("names"));
        assertTrue(afterDelete.contains(MODEL + ":latest"), afterDelete.toString());
        assertTrue(afterDelete.stream().noneMatch(n -> n.startsWith("js-teller")), afterDelete.toString());

        JsonNode missing = c.get("not-found");
        assertEquals(404, missing.get("status").asInt(), missing.toString());
        assertEquals("model \"no-such-model\" not found, try pulling it first", missing.get("error").asText());

        JsonNode abort = ok(c, "abort");
        assertTrue(abort.get("seen").asInt() < 200, "the aborted stream stopped: " + abort);
        assertTrue(abort.get("afterDone").asBoolean(), abort.toString());
        // the client's abort closed the connection: the server cancelled that generation and runs nothing
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (server.model().stats().cancelled() == cancelledBefore || server.model().stats().active() > 0) {
            assertTrue(System.nanoTime() < deadline, "no cancellation after the abort: " + server.model().stats());
            Thread.sleep(10);
        }
    }

    @Test
    void openAisJavaScriptSdk() throws Exception {
        Map<String, JsonNode> c = script("openai-client.mjs");

        List<String> ids = new ArrayList<>();
        ok(c, "models-list").get("models").forEach(m -> {
            assertEquals("model", m.get("object").asText());
            ids.add(m.get("id").asText());
        });
        assertTrue(ids.contains(MODEL + ":latest"), ids.toString());
        JsonNode model = ok(c, "models-retrieve");
        assertEquals(MODEL, model.get("id").asText());
        assertEquals("model", model.get("object").asText());
        assertTrue(model.get("created").asLong() > 1_600_000_000L, model.toString());

        JsonNode chat = ok(c, "chat");
        assertTrue(chat.get("id").asText().startsWith("chatcmpl-"), chat.toString());
        assertEquals("chat.completion", chat.get("object").asText());
        assertEquals("assistant", chat.get("role").asText());
        assertFalse(chat.get("content").asText().isBlank(), chat.toString());
        assertEquals("length", chat.get("finishReason").asText());
        assertEquals(8, chat.at("/usage/completion_tokens").asInt());
        assertTrue(chat.at("/usage/prompt_tokens").asInt() > 0);
        assertEquals(chat.at("/usage/prompt_tokens").asInt() + 8, chat.at("/usage/total_tokens").asInt());

        JsonNode stream = ok(c, "chat-stream");
        assertEquals("chat.completion.chunk", stream.get("object").asText());
        assertEquals(chat.get("content"), stream.get("content"));
        assertEquals("length", stream.get("finishReason").asText());
        // include_usage: the last chunk's usage, the same counts; the stream repeats the chat just answered, so the
        // prompt cache holds all of its prompt but the last token (OpenAI's prompt_tokens_details.cached_tokens)
        for (String field : new String[] {"prompt_tokens", "completion_tokens", "total_tokens"}) {
            assertEquals(chat.at("/usage/" + field), stream.at("/usage/" + field), "include_usage: " + field);
        }
        assertEquals(chat.at("/usage/prompt_tokens").asInt() - 1,
                stream.at("/usage/prompt_tokens_details/cached_tokens").asInt(), stream.toString());
        JsonNode helper = ok(c, "chat-stream-helper");
        assertEquals(chat.get("content"), helper.get("content"));
        assertEquals("length", helper.get("finishReason").asText());

        JsonNode completion = ok(c, "completions");
        assertTrue(completion.get("id").asText().startsWith("cmpl-"), completion.toString());
        assertEquals("text_completion", completion.get("object").asText());
        assertFalse(completion.get("text").asText().isBlank());
        assertEquals("length", completion.get("finishReason").asText());
        assertEquals(8, completion.at("/usage/completion_tokens").asInt());
        JsonNode completionStream = ok(c, "completions-stream");
        assertEquals(completion.get("text"), completionStream.get("text"));
        assertEquals("length", completionStream.get("finishReason").asText());

        JsonNode base64 = ok(c, "embeddings");
        assertEquals("list", base64.get("object").asText());
        assertEquals(64, base64.get("dims").asInt());
        assertEquals(1.0, base64.get("norm").asDouble(), 1e-4);
        assertTrue(base64.at("/usage/prompt_tokens").asInt() > 0);
        JsonNode floats = ok(c, "embeddings-float");
        assertEquals(2, floats.get("count").asInt());
        assertEquals(64, floats.get("dims").asInt());
        assertEquals("[0,1]", floats.get("indexes").toString());
        assertEquals(base64.get("first").asDouble(), floats.get("first").asDouble(), 1e-6,
                "base64 and float encode the same vector");

        for (String missing : List.of("not-found", "chat-not-found")) {
            JsonNode n = c.get(missing);
            assertEquals(404, n.get("status").asInt(), n.toString());
            assertTrue(n.get("error").asText().contains("no-such-model"), n.toString());
        }
    }
}
