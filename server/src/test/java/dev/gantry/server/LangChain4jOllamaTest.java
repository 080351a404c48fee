package dev.gantry.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.langchain4j.data.embedding.Embedding;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.StreamingResponseHandler;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.ollama.OllamaChatModel;
import dev.langchain4j.model.ollama.OllamaEmbeddingModel;
import dev.langchain4j.model.ollama.OllamaLanguageModel;
import dev.langchain4j.model.ollama.OllamaModel;
import dev.langchain4j.model.ollama.OllamaModelCard;
import dev.langchain4j.model.ollama.OllamaModels;
import dev.langchain4j.model.ollama.OllamaStreamingChatModel;
import dev.langchain4j.model.ollama.OllamaStreamingLanguageModel;
import dev.langchain4j.model.ollama.RunningOllamaModel;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.model.output.Response;
import dev.langchain4j.model.output.TokenUsage;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * LangChain4j's Ollama module, a client real applications use, against a live Gantry and the tiny model: its
 * chat, streaming chat, language and embedding models and its model management ({@code OllamaModels}). What it
 * parses out of Gantry's answers (text, finish reasons, token usage, vectors, model cards) is what is asserted.
 */
class LangChain4jOllamaTest {
    static final String MODEL = TestServer.MODEL;
    static final Duration TIMEOUT = Duration.ofSeconds(60);
    static TestServer server;
    static String baseUrl;

    @BeforeAll
    static void start() throws Exception {
        server = TestServer.start(TestServer.defaults().withContextLength(256));
        baseUrl = "http://127.0.0.1:" + server.gantry.port();
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    static void assertUsage(TokenUsage usage, int maxOutput) {
        assertNotNull(usage, "token usage");
        assertTrue(usage.inputTokenCount() > 0, usage.toString());
        assertTrue(usage.outputTokenCount() > 0 && usage.outputTokenCount() <= maxOutput, usage.toString());
        assertEquals(usage.inputTokenCount() + usage.outputTokenCount(), usage.totalTokenCount());
    }

    /** The length limit ends a generation that used all of it with LENGTH; else the model stopped by itself. */
    static void assertFinish(FinishReason reason, TokenUsage usage, int numPredict) {
        assertEquals(usage.outputTokenCount() == numPredict ? FinishReason.LENGTH : FinishReason.STOP, reason,
                usage.toString());
    }

    @Test
    void chatAnswersWithTextFinishReasonAndUsage() {
        OllamaChatModel chat = OllamaChatModel.builder().baseUrl(baseUrl).modelName(MODEL).timeout(TIMEOUT)
                .temperature(0.0).seed(7).numPredict(12).build();
        ChatResponse r = chat.chat(ChatRequest.builder()
                .messages(SystemMessage.from("You tell short stories."), UserMessage.from("Once upon a time"))
                .build());
        assertFalse(r.aiMessage().text().isBlank(), r.toString());
        assertUsage(r.tokenUsage(), 12);
        assertFinish(r.finishReason(), r.tokenUsage(), 12);
        assertEquals(MODEL, r.modelName());

        // the limit reached: LENGTH, with exactly that many tokens
        ChatResponse cut = OllamaChatModel.builder().baseUrl(baseUrl).modelName(MODEL).timeout(TIMEOUT)
                .temperature(0.0).numPredict(3).build().chat(UserMessage.from("Tell me about a cat"));
        assertEquals(3, cut.tokenUsage().outputTokenCount(), cut.toString());
        assertEquals(FinishReason.LENGTH, cut.finishReason());
    }

    @Test
    void streamingChatDeliversPartsThatMakeTheWholeAnswer() throws Exception {
        OllamaStreamingChatModel chat = OllamaStreamingChatModel.builder().baseUrl(baseUrl).modelName(MODEL)
                .timeout(TIMEOUT).temperature(0.0).seed(7).numPredict(12).build();
        StringBuilder parts = new StringBuilder();
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        chat.chat(List.of(UserMessage.from("Once upon a time")), new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String partial) {
                parts.append(partial);
            }

            @Override
            public void onCompleteResponse(ChatResponse complete) {
                done.complete(complete);
            }

            @Override
            public void onError(Throwable error) {
                done.completeExceptionally(error);
            }
        });
        ChatResponse r = done.get(60, TimeUnit.SECONDS);
        assertFalse(parts.isEmpty());
        assertEquals(parts.toString(), r.aiMessage().text());
        assertUsage(r.tokenUsage(), 12);
        assertFinish(r.finishReason(), r.tokenUsage(), 12);

        // the same request not streamed gives the same text (temperature 0)
        ChatResponse whole = OllamaChatModel.builder().baseUrl(baseUrl).modelName(MODEL).timeout(TIMEOUT)
                .temperature(0.0).seed(7).numPredict(12).build().chat(UserMessage.from("Once upon a time"));
        assertEquals(whole.aiMessage().text(), r.aiMessage().text());
    }

    @Test
    void languageModelsGenerateStreamedAndNot() throws Exception {
        Response<String> r = OllamaLanguageModel.builder().baseUrl(baseUrl).modelName(MODEL).timeout(TIMEOUT)
                .temperature(0.0).numPredict(10).build().generate("Once upon a time");
        assertFalse(r.content().isBlank(), r.toString());
        assertUsage(r.tokenUsage(), 10); // its completion response has no finish reason: the client reads none

        StringBuilder parts = new StringBuilder();
        CompletableFuture<Response<String>> done = new CompletableFuture<>();
        OllamaStreamingLanguageModel.builder().baseUrl(baseUrl).modelName(MODEL).timeout(TIMEOUT)
                .temperature(0.0).numPredict(10).build().generate("Once upon a time",
                        new StreamingResponseHandler<>() {
                            @Override
                            public void onNext(String token) {
                                parts.append(token);
                            }

                            @Override
                            public void onComplete(Response<String> response) {
                                done.complete(response);
                            }

                            @Override
                            public void onError(Throwable error) {
                                done.completeExceptionally(error);
                            }
                        });
        Response<String> streamed = done.get(60, TimeUnit.SECONDS);
        assertEquals(r.content(), parts.toString());
        assertEquals(r.content(), streamed.content());
        assertUsage(streamed.tokenUsage(), 10);
    }

    @Test
    void embeddingsHaveTheModelsWidth() {
        OllamaEmbeddingModel model = OllamaEmbeddingModel.builder().baseUrl(baseUrl).modelName(MODEL)
                .timeout(TIMEOUT).build();
        Embedding one = model.embed("Once upon a time").content();
        assertEquals(64, one.dimension());
        double norm = 0;
        for (float x : one.vector()) {
            norm += x * x;
        }
        assertEquals(1.0, Math.sqrt(norm), 1e-3);
        Response<List<Embedding>> all = model.embedAll(List.of(TextSegment.from("The cat sat"),
                TextSegment.from("Lily had a ball"), TextSegment.from("The cat sat")));
        assertEquals(3, all.content().size());
        assertEquals(all.content().get(0), all.content().get(2));
        assertFalse(all.content().get(0).equals(all.content().get(1)));
        assertEquals(64, model.dimension());
    }

    @Test
    void modelsAreListedShownRunningAndDeleted() throws Exception {
        OllamaModels models = OllamaModels.builder().baseUrl(baseUrl).timeout(TIMEOUT).build();
        HttpResponse<String> created = server.post("/api/create",
                "{\"model\":\"lc4j-teller\",\"from\":\"" + MODEL + "\",\"system\":\"You tell stories.\","
                        + "\"stream\":false}");
        assertEquals(200, created.statusCode(), created.body());

        List<OllamaModel> listed = models.availableModels().content();
        OllamaModel tiny = listed.stream().filter(m -> m.getName().equals(MODEL + ":latest")).findFirst()
                .orElseThrow(() -> new AssertionError(listed.toString()));
        assertEquals("gguf", tiny.getDetails().getFormat());
        assertEquals("llama", tiny.getDetails().getFamily());
        assertTrue(tiny.getSize() > 0);
        assertFalse(tiny.getDigest().isBlank());
        assertTrue(listed.stream().anyMatch(m -> m.getName().equals("lc4j-teller:latest")), listed.toString());

        OllamaModelCard card = models.modelCard(MODEL).content();
        assertTrue(card.getCapabilities().contains("completion"), card.getCapabilities().toString());
        assertFalse(card.getModelfile().isBlank());
        assertEquals("llama", card.getDetails().getFamily());
        assertEquals(64, ((Number) card.getModelInfo().get("llama.embedding_length")).intValue());
        assertEquals("You tell stories.", models.modelCard("lc4j-teller").content().getSystem());

        OllamaLanguageModel.builder().baseUrl(baseUrl).modelName(MODEL).timeout(TIMEOUT).numPredict(2).build()
                .generate("Once");
        List<RunningOllamaModel> running = models.runningModels().content();
        RunningOllamaModel loaded = running.stream().filter(m -> m.getName().equals(MODEL + ":latest"))
                .findFirst().orElseThrow(() -> new AssertionError(running.toString()));
        assertEquals(256, loaded.getContextLength());
        assertTrue(loaded.getSize() > 0);

        models.deleteModel("lc4j-teller");
        assertTrue(models.availableModels().content().stream().noneMatch(m -> m.getName().startsWith("lc4j-teller")));
    }
}
