package dev.gantry.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.util.Arrays;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code /v1/completions} with {@code echo}: the prompt's text first, and with {@code logprobs} each prompt token's
 * log probability given the tokens before it; with {@code max_tokens} 0 nothing generated. This is how evaluation
 * harnesses (lm-evaluation-harness's {@code local-completions}) ask a server for a text's likelihood. Against the real
 * server and the tiny model.
 */
class OpenAiEchoScoringTest {
    static TestServer server;
    /** CPU matrix products of different batch shapes round differently: log probabilities agree this closely. */
    private static final double CLOSE = 2e-3;

    @BeforeAll
    static void start() throws Exception {
        server = TestServer.start(TestServer.defaults());
        ok(server.post("/api/generate", "{\"model\":\"stories260k\"}")); // loads it: the tests read its tokenizer
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static String ids(int[] tokens) {
        return OpenAiChoicesTest.ids(tokens);
    }

    private static JsonNode ok(HttpResponse<String> r) throws Exception {
        return OpenAiChoicesTest.ok(r);
    }

    private static String piece(int token) {
        return new String(server.model().piece(token), java.nio.charset.StandardCharsets.UTF_8);
    }

    @Test
    void tokenIdsWithMaxTokensZeroAreScoredAndEchoed() throws Exception {
        int[] tokens = server.model().tokenize("Once upon a time there was a little dog", true, true);
        JsonNode r = ok(server.post("/v1/completions", "{\"model\":\"stories260k\",\"prompt\":" + ids(tokens)
                + ",\"echo\":true,\"max_tokens\":0,\"logprobs\":1,\"temperature\":0}"));
        JsonNode choice = r.at("/choices/0");
        String spelled = Arrays.stream(tokens).mapToObj(OpenAiEchoScoringTest::piece).collect(Collectors.joining());
        assertEquals(spelled, choice.get("text").textValue(), "the ids echoed as the model spells them");
        assertEquals("length", choice.get("finish_reason").textValue());
        assertEquals(tokens.length, r.at("/usage/prompt_tokens").intValue());
        assertEquals(0, r.at("/usage/completion_tokens").intValue());
        JsonNode lp = choice.get("logprobs");
        assertEquals(tokens.length, lp.get("tokens").size(), lp.toString());
        assertTrue(lp.at("/token_logprobs/0").isNull(), "nothing comes before the first token: " + lp);
        assertTrue(lp.at("/top_logprobs/0").isNull());
        int offset = 0;
        for (int i = 0; i < tokens.length; i++) {
            assertEquals(piece(tokens[i]), lp.at("/tokens/" + i).textValue());
            assertEquals(offset, lp.at("/text_offset/" + i).intValue(), "offset of token " + i);
            offset += piece(tokens[i]).length();
            if (i > 0) {
                double v = lp.at("/token_logprobs/" + i).doubleValue();
                assertTrue(lp.at("/token_logprobs/" + i).isNumber() && v <= 0, lp.toString());
                assertEquals(1, lp.at("/top_logprobs/" + i).size(), "one alternative asked: " + lp);
                double best = lp.at("/top_logprobs/" + i).elements().next().doubleValue();
                assertTrue(best >= v - 1e-6, "the likeliest token is at least as likely as the prompt's");
            }
        }
        assertEquals(0, lp.get("content").size(), "nothing generated");
        assertFalse(r.toString().contains("prompt_text") || r.toString().contains("prompt_logprobs"),
                "Gantry's inner fields stay inside: " + r);
    }

    @Test
    void scoringAGreedyAnswerGivesTheLogprobsItWasGeneratedWith() throws Exception {
        int[] prompt = server.model().tokenize("Lily wanted to play", true, true);
        JsonNode gen = ok(server.post("/v1/completions", "{\"model\":\"stories260k\",\"prompt\":" + ids(prompt)
                + ",\"max_tokens\":12,\"logprobs\":0,\"temperature\":0}"));
        JsonNode generated = gen.at("/choices/0/logprobs");
        int n = generated.get("tokens").size();
        assertEquals(12, n, gen.toString());
        String answer = gen.at("/choices/0/text").textValue();
        // the answer's text made into tokens again: the greedy answer's own tokens (checked by their text)
        int[] whole = server.model().tokenize("Lily wanted to play" + answer, true, true);
        JsonNode scored = ok(server.post("/v1/completions", "{\"model\":\"stories260k\",\"prompt\":" + ids(whole)
                + ",\"echo\":true,\"max_tokens\":0,\"logprobs\":0}")).at("/choices/0/logprobs");
        assertEquals(prompt.length + n, scored.get("tokens").size(), scored.toString());
        for (int i = 0; i < n; i++) {
            int at = prompt.length + i;
            assertEquals(generated.at("/tokens/" + i).textValue(), scored.at("/tokens/" + at).textValue());
            assertEquals(generated.at("/token_logprobs/" + i).doubleValue(),
                    scored.at("/token_logprobs/" + at).doubleValue(), CLOSE, "token " + i + " of the answer");
        }
    }

    @Test
    void echoWithLogprobsAndAGenerationCoversBoth() throws Exception {
        String body = "{\"model\":\"stories260k\",\"prompt\":\"The cat sat\",\"echo\":true,\"max_tokens\":6,"
                + "\"logprobs\":2,\"temperature\":0";
        JsonNode whole = ok(server.post("/v1/completions", body + "}")).at("/choices/0");
        String text = whole.get("text").textValue();
        assertTrue(text.startsWith("The cat sat") && text.length() > "The cat sat".length(), text);
        JsonNode lp = whole.get("logprobs");
        int promptTokens = lp.get("tokens").size() - 6;
        assertTrue(promptTokens >= 3, lp.toString());
        assertTrue(lp.at("/token_logprobs/0").isNull());
        assertEquals(6, lp.get("content").size(), "chat's form carries the generated tokens only");
        // the generated tokens' offsets are into the whole text, after the echoed prompt
        assertEquals("The cat sat".length(), lp.at("/text_offset/" + promptTokens).intValue(), lp.toString());
        for (int i = 1; i < lp.get("tokens").size(); i++) {
            assertEquals(2, lp.at("/top_logprobs/" + i).size(), "two alternatives: " + lp);
        }

        // streamed: the same text and the same entries, the prompt's in the first event
        OpenAiApiTest.Sse s = OpenAiApiTest.sse(server.post("/v1/completions", body + ",\"stream\":true}"));
        assertTrue(s.done());
        StringBuilder streamed = new StringBuilder();
        StringBuilder tokens = new StringBuilder();
        int entries = 0;
        for (JsonNode e : s.events()) {
            streamed.append(e.at("/choices/0/text").asText(""));
            for (JsonNode t : e.at("/choices/0/logprobs/tokens")) {
                tokens.append(t.textValue()).append('|');
                entries++;
            }
        }
        assertEquals(text, streamed.toString());
        assertEquals(lp.get("tokens").size(), entries);
        assertEquals(s.events().getFirst().at("/choices/0/logprobs/tokens").size() >= promptTokens, true,
                "the prompt's entries come first, together: " + tokens);
    }

    @Test
    void aPromptOnlyStreamEndsWithItsPrompt() throws Exception {
        OpenAiApiTest.Sse s = OpenAiApiTest.sse(server.post("/v1/completions", "{\"model\":\"stories260k\","
                + "\"prompt\":\"Once upon a time\",\"echo\":true,\"max_tokens\":0,\"stream\":true,\"logprobs\":0}"));
        assertTrue(s.done());
        StringBuilder text = new StringBuilder();
        String finish = null;
        int entries = 0;
        for (JsonNode e : s.events()) {
            text.append(e.at("/choices/0/text").asText(""));
            entries += e.at("/choices/0/logprobs/tokens").size();
            if (e.at("/choices/0/finish_reason").isTextual()) {
                finish = e.at("/choices/0/finish_reason").textValue();
            }
        }
        assertEquals("Once upon a time", text.toString());
        assertEquals("length", finish);
        assertTrue(entries >= 4, "the prompt's tokens: " + s.events());
        // without logprobs: the prompt alone, echoed
        JsonNode plain = ok(server.post("/v1/completions", "{\"model\":\"stories260k\",\"prompt\":\"Once upon a "
                + "time\",\"echo\":true,\"max_tokens\":0}"));
        assertEquals("Once upon a time", plain.at("/choices/0/text").textValue());
        assertEquals(0, plain.at("/usage/completion_tokens").intValue());
    }

    @Test
    void aTextPromptsOffsetsPointIntoTheEchoedText() throws Exception {
        JsonNode choice = ok(server.post("/v1/completions", "{\"model\":\"stories260k\",\"prompt\":\"Once upon a "
                + "time\",\"echo\":true,\"max_tokens\":3,\"logprobs\":1,\"temperature\":0}")).at("/choices/0");
        String text = choice.get("text").textValue();
        JsonNode lp = choice.get("logprobs");
        int last = 0;
        for (int i = 0; i < lp.get("tokens").size(); i++) {
            int at = lp.at("/text_offset/" + i).intValue();
            assertTrue(at >= last, "offsets never go back: " + lp.get("text_offset"));
            last = at;
            // the first word's leading space is SentencePiece's, not the prompt's
            String token = lp.at("/tokens/" + i).textValue();
            assertTrue(text.startsWith(token, at) || (at == 0 && text.startsWith(token.stripLeading())),
                    "token " + i + " \"" + token + "\" at " + at + " of \"" + text
                    + "\": " + lp.get("text_offset"));
        }
        assertEquals("Once upon a time".length(), lp.at("/text_offset/" + (lp.get("tokens").size() - 3)).intValue(),
                "the first generated token right after the prompt");
    }

    /** An echoed text prompt is the text scored, whatever template the model has (none goes around it). */
    @Test
    void anEchoedPromptIsScoredWithoutTheModelsTemplate() throws Exception {
        assertEquals(200, server.post("/api/create", "{\"model\":\"templated\",\"from\":\"stories260k\","
                + "\"template\":\"Q: {{ .Prompt }}\\nA:\",\"system\":\"Be brief.\",\"stream\":false}")
                .statusCode());
        String body = "{\"model\":\"%s\",\"prompt\":\"Once upon a time\",\"echo\":true,\"max_tokens\":0,"
                + "\"logprobs\":0}";
        JsonNode templated = ok(server.post("/v1/completions", body.formatted("templated"))).at("/choices/0");
        JsonNode plain = ok(server.post("/v1/completions", body.formatted("stories260k"))).at("/choices/0");
        assertEquals(plain.get("logprobs").get("tokens"), templated.get("logprobs").get("tokens"),
                "the prompt's own tokens: " + templated);
        assertEquals(plain.get("logprobs").get("token_logprobs"), templated.get("logprobs").get("token_logprobs"));
        assertEquals("Once upon a time", templated.get("text").textValue());
        HttpResponse<String> suffix = server.post("/v1/completions", "{\"model\":\"templated\",\"prompt\":\"a\","
                + "\"echo\":true,\"suffix\":\"b\"}");
        assertEquals(400, suffix.statusCode(), suffix.body());
    }

    @Test
    void aPromptThatFillsTheContextIsScoredWhenNothingIsGenerated() throws Exception {
        int context = server.model().contextLength();
        int[] full = IntStream.range(0, context).map(i -> i == 0 ? 1 : 100 + i % 50).toArray();
        JsonNode r = ok(server.post("/v1/completions", "{\"model\":\"stories260k\",\"prompt\":" + ids(full)
                + ",\"echo\":true,\"max_tokens\":0,\"logprobs\":0}"));
        assertEquals(context, r.at("/choices/0/logprobs/tokens").size());
        assertEquals(context, r.at("/usage/prompt_tokens").intValue());
        HttpResponse<String> more = server.post("/v1/completions", "{\"model\":\"stories260k\",\"prompt\":"
                + ids(full) + ",\"echo\":true,\"max_tokens\":1,\"logprobs\":0}");
        assertEquals(400, more.statusCode(), more.body());
        assertTrue(more.body().contains("leaving no room to generate"), more.body());
        // echoed without logprobs, a prompt too long for the context is refused too, never cut: the answer would
        // start with other text than was sent
        int[] tooLong = IntStream.range(0, context + 8).map(i -> 100 + i % 50).toArray();
        HttpResponse<String> cut = server.post("/v1/completions", "{\"model\":\"stories260k\",\"prompt\":"
                + ids(tooLong) + ",\"echo\":true,\"max_tokens\":0}");
        assertEquals(400, cut.statusCode(), cut.body());
    }

    @Test
    void whatCannotBeScoredIsAClientError() throws Exception {
        JsonNode noEcho = TestServer.json(server.post("/v1/completions", "{\"model\":\"stories260k\",\"prompt\":\"a\","
                + "\"max_tokens\":0}").body());
        assertEquals("max_tokens", noEcho.at("/error/param").textValue(), noEcho.toString());
        // a prompt longer than the context is refused rather than cut: a cut one would score other text
        int context = server.model().contextLength();
        int[] tooLong = IntStream.range(0, context + 8).map(i -> 100 + i % 50).toArray();
        HttpResponse<String> r = server.post("/v1/completions", "{\"model\":\"stories260k\",\"prompt\":"
                + ids(tooLong) + ",\"echo\":true,\"max_tokens\":0,\"logprobs\":0}");
        assertEquals(400, r.statusCode(), r.body());
        assertTrue(r.body().contains("context"), r.body());
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (server.model().stats().active() + server.model().stats().waiting() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertEquals(0, server.model().stats().active() + server.model().stats().waiting(), "nothing left running");
    }
}
