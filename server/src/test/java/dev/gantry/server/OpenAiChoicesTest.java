package dev.gantry.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * OpenAI's inputs beyond one string, against the real server and the tiny model: token ids as an embedding input or
 * a completion prompt, lists of prompts, and {@code n} choices, whole and streamed.
 */
class OpenAiChoicesTest {
    static TestServer server;

    @BeforeAll
    static void start() throws Exception {
        server = TestServer.start(TestServer.defaults());
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    static String ids(int[] tokens) {
        return Arrays.stream(tokens).mapToObj(Integer::toString).collect(Collectors.joining(",", "[", "]"));
    }

    static JsonNode ok(HttpResponse<String> r) throws Exception {
        assertEquals(200, r.statusCode(), r.body());
        return TestServer.json(r.body());
    }

    private static JsonNode error(HttpResponse<String> r, int status) throws Exception {
        assertEquals(status, r.statusCode(), r.body());
        JsonNode e = TestServer.json(r.body()).get("error");
        assertTrue(e != null && e.isObject() && e.get("message").isTextual(), r.body());
        return e;
    }

    @Test
    void tokenIdsEmbedAsTheirText() throws Exception {
        int[] tokens = server.model().tokenize("The cat sat on the mat", true, true);
        JsonNode text = ok(server.post("/v1/embeddings", "{\"model\":\"stories260k\",\"input\":\"The cat sat on the mat\"}"));
        JsonNode one = ok(server.post("/v1/embeddings", "{\"model\":\"stories260k\",\"input\":" + ids(tokens) + "}"));
        assertEquals(1, one.get("data").size(), one.toString());
        assertEquals(tokens.length, one.at("/usage/prompt_tokens").intValue());
        assertVectors(text.at("/data/0/embedding"), one.at("/data/0/embedding"));

        // a list of token lists, and token lists mixed with strings: one input each, in order
        JsonNode many = ok(server.post("/v1/embeddings", "{\"model\":\"stories260k\",\"input\":[" + ids(tokens)
                + ",\"A bird sang\"," + ids(new int[] {tokens[0], tokens[1]}) + "]}"));
        assertEquals(3, many.get("data").size(), many.toString());
        assertVectors(text.at("/data/0/embedding"), many.at("/data/0/embedding"));
        assertEquals(2, many.at("/data/2/index").intValue());
        assertNotEquals(many.at("/data/0/embedding"), many.at("/data/2/embedding"));
    }

    private static void assertVectors(JsonNode expected, JsonNode actual) {
        assertEquals(expected.size(), actual.size());
        for (int i = 0; i < expected.size(); i++) {
            assertEquals(expected.get(i).floatValue(), actual.get(i).floatValue(), 1e-4f, "dimension " + i);
        }
    }

    @Test
    void badTokenIdsAreClientErrors() throws Exception {
        int vocab = server.model().engineInfo().vocabSize();
        JsonNode outside = error(server.post("/v1/embeddings", "{\"model\":\"stories260k\",\"input\":[1," + vocab
                + "]}"), 400);
        assertTrue(outside.get("message").textValue().contains("vocabulary"), outside.toString());
        error(server.post("/v1/embeddings", "{\"model\":\"stories260k\",\"input\":[1,-2]}"), 400);
        error(server.post("/v1/embeddings", "{\"model\":\"stories260k\",\"input\":[1,2.5]}"), 400);
        error(server.post("/v1/embeddings", "{\"model\":\"stories260k\",\"input\":[1,\"a\"]}"), 400);
        error(server.post("/v1/embeddings", "{\"model\":\"stories260k\",\"input\":[[]]}"), 400);
        error(server.post("/v1/embeddings", "{\"model\":\"stories260k\",\"input\":[[1],{}]}"), 400);
        // Ollama's own endpoint still takes text only
        assertEquals(400, server.post("/api/embed", "{\"model\":\"stories260k\",\"input\":[[1,2]]}").statusCode());

        JsonNode prompt = error(server.post("/v1/completions", "{\"model\":\"stories260k\",\"prompt\":[1,"
                + vocab + "],\"max_tokens\":2}"), 400);
        assertTrue(prompt.get("message").textValue().contains("vocabulary"), prompt.toString());
        error(server.post("/v1/completions", "{\"model\":\"stories260k\",\"prompt\":[1,-1]}"), 400);
        error(server.post("/v1/completions", "{\"model\":\"stories260k\",\"prompt\":[]}"), 400);
        error(server.post("/v1/completions", "{\"model\":\"stories260k\",\"prompt\":[\"a\",{}]}"), 400);
        error(server.post("/v1/completions", "{\"model\":\"stories260k\",\"prompt\":\"a\",\"n\":0}"), 400);
        error(server.post("/v1/completions", "{\"model\":\"stories260k\",\"prompt\":\"a\",\"n\":129}"), 400);
        // the error of the second prompt ends the request: no choice is answered; it names the prompt
        JsonNode second = error(server.post("/v1/completions", "{\"model\":\"stories260k\",\"prompt\":[\"Once\",[1,"
                + vocab + "]],\"max_tokens\":4}"), 400);
        assertTrue(second.get("message").textValue().startsWith("prompt[1]: "), second.toString());
        assertTrue(second.get("message").textValue().contains("vocabulary"), second.toString());
        assertEquals("prompt", second.get("param").textValue());
        // an empty prompt in a list, and a suffix after token ids, are refused
        error(server.post("/v1/completions", "{\"model\":\"stories260k\",\"prompt\":[\"Once\",\"\"]}"), 400);
        error(server.post("/v1/completions", "{\"model\":\"stories260k\",\"prompt\":[[]]}"), 400);
        error(server.post("/v1/completions", "{\"model\":\"stories260k\",\"prompt\":[1,2],\"suffix\":\"x\"}"), 400);
    }

    /**
     * Choices are let in before any is answered: a later prompt's refusal is the request's status, not an error
     * event after other choices' text, and more choices than the wait queue holds are refused at once.
     */
    @Test
    void aLaterChoicesRefusalComesBeforeAnyText() throws Exception {
        int vocab = server.model().engineInfo().vocabSize();
        StringBuilder prompts = new StringBuilder("[");
        for (int i = 0; i < 40; i++) {
            prompts.append("\"Once\",");
        }
        prompts.append("[1,").append(vocab).append("]]");
        JsonNode late = error(server.post("/v1/completions", "{\"model\":\"stories260k\",\"prompt\":" + prompts
                + ",\"max_tokens\":30,\"stream\":true}"), 400);
        assertTrue(late.get("message").textValue().startsWith("prompt[40]: "), late.toString());

        JsonNode many = error(server.post("/v1/completions", "{\"model\":\"stories260k\",\"prompt\":[\"a\",\"b\","
                + "\"c\",\"d\",\"e\"],\"n\":128,\"max_tokens\":2}"), 400);
        assertTrue(many.get("message").textValue().contains("640 choices"), many.toString());
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(20);
        while (server.model().stats().active() + server.model().stats().waiting() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertEquals(0, server.model().stats().active() + server.model().stats().waiting(), "nothing left running");
    }

    /** echo: each choice's text starts with its prompt, whole and streamed (OpenAiEchoScoringTest: with logprobs). */
    @Test
    void echoPutsThePromptFirst() throws Exception {
        String options = ",\"max_tokens\":8,\"temperature\":0";
        String plain = ok(server.post("/v1/completions", "{\"model\":\"stories260k\",\"prompt\":\"Once upon a time\""
                + options + "}")).at("/choices/0/text").textValue();
        JsonNode echoed = ok(server.post("/v1/completions", "{\"model\":\"stories260k\",\"prompt\":\"Once upon a time\","
                + "\"echo\":true" + options + "}"));
        assertEquals("Once upon a time" + plain, echoed.at("/choices/0/text").textValue());
        JsonNode two = ok(server.post("/v1/completions", "{\"model\":\"stories260k\",\"prompt\":[\"Once upon a time\","
                + "\"The dog\"],\"echo\":true" + options + "}"));
        assertEquals("Once upon a time" + plain, two.at("/choices/0/text").textValue());
        assertTrue(two.at("/choices/1/text").textValue().startsWith("The dog"), two.toString());
        OpenAiApiTest.Sse s = OpenAiApiTest.sse(server.post("/v1/completions", "{\"model\":\"stories260k\","
                + "\"prompt\":\"Once upon a time\",\"echo\":true,\"stream\":true" + options + "}"));
        StringBuilder text = new StringBuilder();
        for (JsonNode e : s.events()) {
            text.append(e.at("/choices/0/text").asText(""));
        }
        assertEquals("Once upon a time" + plain, text.toString());
    }

    @Test
    void theLargestSeedStillRepeats() throws Exception {
        String body = "{\"model\":\"stories260k\",\"prompt\":\"Once\",\"n\":2,\"max_tokens\":8,\"temperature\":1.5,"
                + "\"seed\":9223372036854775807}";
        assertEquals(ok(server.post("/v1/completions", body)).get("choices"),
                ok(server.post("/v1/completions", body)).get("choices"));
    }

    @Test
    void aTokenPromptIsTheRawPrompt() throws Exception {
        int[] tokens = server.model().tokenize("Once upon a time", true, true);
        String options = ",\"max_tokens\":12,\"temperature\":0";
        JsonNode ids = ok(server.post("/v1/completions", "{\"model\":\"stories260k\",\"prompt\":" + ids(tokens)
                + options + "}"));
        JsonNode raw = ok(server.post("/api/generate", "{\"model\":\"stories260k\",\"prompt\":\"Once upon a time\","
                + "\"raw\":true,\"stream\":false,\"options\":{\"num_predict\":12,\"temperature\":0}}"));
        assertEquals(raw.get("response").textValue(), ids.at("/choices/0/text").textValue(), ids.toString());
        assertEquals(tokens.length, ids.at("/usage/prompt_tokens").intValue());
        assertEquals(12, ids.at("/usage/completion_tokens").intValue());
    }

    @Test
    void aListOfPromptsAnswersEachAsItsOwnChoice() throws Exception {
        String options = ",\"max_tokens\":10,\"temperature\":0";
        String a = ok(server.post("/v1/completions", "{\"model\":\"stories260k\",\"prompt\":\"Once upon a time\""
                + options + "}")).at("/choices/0/text").textValue();
        String b = ok(server.post("/v1/completions", "{\"model\":\"stories260k\",\"prompt\":\"The dog\"" + options
                + "}")).at("/choices/0/text").textValue();
        int[] tokens = server.model().tokenize("The dog", true, true);
        JsonNode both = ok(server.post("/v1/completions", "{\"model\":\"stories260k\",\"prompt\":[\"Once upon a time\","
                + "\"The dog\"," + ids(tokens) + "]" + options + "}"));
        JsonNode choices = both.get("choices");
        assertEquals(3, choices.size(), both.toString());
        for (int i = 0; i < 3; i++) {
            assertEquals(i, choices.get(i).get("index").intValue());
            assertEquals("length", choices.get(i).get("finish_reason").textValue());
        }
        assertEquals(a, choices.get(0).get("text").textValue());
        assertEquals(b, choices.get(1).get("text").textValue());
        assertEquals(b, choices.get(2).get("text").textValue(), "token ids of the same text, BOS included");
        assertEquals(30, both.at("/usage/completion_tokens").intValue());
        assertTrue(both.get("id").textValue().startsWith("cmpl-"));
        assertEquals("text_completion", both.get("object").textValue());

        // streamed: chunks of all choices in one stream, told apart by index, one usage chunk, one [DONE]
        OpenAiApiTest.Sse s = OpenAiApiTest.sse(server.post("/v1/completions", "{\"model\":\"stories260k\","
                + "\"prompt\":[\"Once upon a time\",\"The dog\"],\"stream\":true,"
                + "\"stream_options\":{\"include_usage\":true}" + options + "}"));
        assertTrue(s.done());
        Map<Integer, StringBuilder> texts = new HashMap<>();
        Map<Integer, String> finish = new HashMap<>();
        JsonNode usage = null;
        String id = s.events().getFirst().get("id").textValue();
        for (JsonNode e : s.events()) {
            assertEquals(id, e.get("id").textValue(), "one id for the whole stream");
            if (e.get("choices").isEmpty()) {
                assertTrue(usage == null, "one usage chunk");
                usage = e.get("usage");
                continue;
            }
            JsonNode c = e.at("/choices/0");
            texts.computeIfAbsent(c.get("index").intValue(), k -> new StringBuilder()).append(c.get("text").textValue());
            if (c.get("finish_reason").isTextual()) {
                assertFalse(finish.containsKey(c.get("index").intValue()), "one finish a choice");
                finish.put(c.get("index").intValue(), c.get("finish_reason").textValue());
            }
        }
        assertEquals(a, texts.get(0).toString());
        assertEquals(b, texts.get(1).toString());
        assertEquals(Map.of(0, "length", 1, "length"), finish);
        assertEquals(20, usage.get("completion_tokens").intValue(), usage.toString());
        assertEquals(s.events().getLast().get("usage"), usage, "the usage chunk comes last");
    }

    /**
     * Many streamed choices keep their order on the wire: each finishes once, nothing of a choice comes after its
     * finish, every choice finishes before [DONE]. (Writes released from the request thread were overtaken by the
     * event loop's: chunks after their choice's end, finishes lost, in the first of these streams.)
     */
    @Test
    void manyStreamedChoicesStayInOrder() throws Exception {
        StringBuilder prompts = new StringBuilder("[");
        for (int i = 0; i < 300; i++) {
            prompts.append(i == 0 ? "" : ",").append("\"Once upon a time ").append(i).append("\"");
        }
        prompts.append("]");
        for (int run = 0; run < 12; run++) {
            OpenAiApiTest.Sse s = OpenAiApiTest.sse(server.post("/v1/completions", "{\"model\":\"stories260k\","
                    + "\"prompt\":" + prompts + ",\"max_tokens\":6,\"stream\":true}"));
            assertTrue(s.done(), "run " + run + " ends with [DONE]");
            java.util.Set<Integer> finished = new java.util.HashSet<>();
            for (JsonNode e : s.events()) {
                int index = e.at("/choices/0/index").intValue();
                assertFalse(finished.contains(index), "run " + run + ": a chunk of choice " + index + " after its end");
                if (e.at("/choices/0/finish_reason").isTextual()) {
                    finished.add(index);
                }
            }
            assertEquals(300, finished.size(), "run " + run + ": every choice finished");
        }
    }

    @Test
    void nChoicesOfOneChatAndOnePrompt() throws Exception {
        JsonNode chat = ok(server.post("/v1/chat/completions", "{\"model\":\"stories260k\",\"n\":3,\"max_tokens\":6,"
                + "\"seed\":7,\"temperature\":2,\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time\"}]}"));
        assertEquals(3, chat.get("choices").size(), chat.toString());
        int prompt;
        for (int i = 0; i < 3; i++) {
            assertEquals(i, chat.at("/choices/" + i + "/index").intValue());
            assertEquals("assistant", chat.at("/choices/" + i + "/message/role").textValue());
        }
        assertEquals(18, chat.at("/usage/completion_tokens").intValue(), chat.toString());
        assertFalse(chat.at("/choices/0/message/content").equals(chat.at("/choices/1/message/content"))
                && chat.at("/choices/1/message/content").equals(chat.at("/choices/2/message/content")),
                "a seed gives each choice its own draws: " + chat);
        JsonNode again = ok(server.post("/v1/chat/completions", "{\"model\":\"stories260k\",\"n\":3,\"max_tokens\":6,"
                + "\"seed\":7,\"temperature\":2,\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time\"}]}"));
        assertEquals(chat.get("choices"), again.get("choices"), "and the request repeats");
        prompt = chat.at("/usage/prompt_tokens").intValue();
        JsonNode single = ok(server.post("/v1/chat/completions", "{\"model\":\"stories260k\",\"max_tokens\":6,"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time\"}]}"));
        assertEquals(single.at("/usage/prompt_tokens").intValue(), prompt, "a prompt counts once, however many choices");

        JsonNode two = ok(server.post("/v1/completions", "{\"model\":\"stories260k\",\"prompt\":[\"Once\",\"The dog\"],"
                + "\"n\":2,\"max_tokens\":4,\"temperature\":0}"));
        assertEquals(4, two.get("choices").size(), two.toString());
        assertEquals(two.at("/choices/0/text"), two.at("/choices/1/text"), "prompt-major order: 0 and 1 are \"Once\"");
        assertEquals(two.at("/choices/2/text"), two.at("/choices/3/text"));

        OpenAiApiTest.Sse s = OpenAiApiTest.sse(server.post("/v1/chat/completions", "{\"model\":\"stories260k\","
                + "\"n\":2,\"max_tokens\":5,\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}"));
        assertTrue(s.done());
        int finished = 0;
        for (JsonNode e : s.events()) {
            assertEquals("chat.completion.chunk", e.get("object").textValue());
            if (e.at("/choices/0/finish_reason").isTextual()) {
                finished++;
            }
        }
        assertEquals(2, finished, s.events().toString());
    }

    @Test
    void aClosedStreamOfSeveralChoicesFreesTheirSlots() throws Exception {
        // many choices of long answers, closed by the client after the first bytes: every generation is cancelled
        var request = java.net.http.HttpRequest.newBuilder(server.uri("/v1/completions"))
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString("{\"model\":\"stories260k\",\"prompt\":"
                        + "[\"Once\",\"The dog\",\"A cat\"],\"n\":2,\"max_tokens\":100000,\"stream\":true}"))
                .header("content-type", "application/json").build();
        HttpResponse<java.io.InputStream> r = server.http.send(request, HttpResponse.BodyHandlers.ofInputStream());
        assertEquals(200, r.statusCode());
        try (java.io.InputStream in = r.body()) {
            assertTrue(in.read(new byte[64]) > 0);
        }
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(20);
        while ((server.model().stats().active() + server.model().stats().waiting()) > 0 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertEquals(0, (server.model().stats().active() + server.model().stats().waiting()), "the closed stream's generations are cancelled");
    }

    @Test
    void aLoneEmptyPromptOnlyLoadsAsInOllama() throws Exception {
        JsonNode r = ok(server.post("/v1/completions", "{\"model\":\"stories260k\",\"prompt\":[\"\"],\"n\":2}"));
        assertEquals(2, r.get("choices").size(), r.toString());
        assertEquals("load", r.at("/choices/1/finish_reason").textValue(), r.toString());
    }
}
