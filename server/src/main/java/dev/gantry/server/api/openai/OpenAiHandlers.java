package dev.gantry.server.api.openai;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gantry.server.api.ollama.CompletionHandlers;
import dev.gantry.server.api.ollama.EmbedHandlers;
import dev.gantry.server.api.ollama.ModelHandlers;
import dev.gantry.server.api.ollama.PromptReport;
import dev.gantry.server.api.ollama.RerankHandlers;
import dev.gantry.server.http.ApiException;
import dev.gantry.server.http.ApiRouter;
import dev.gantry.server.http.ErrorMapper;
import dev.gantry.server.http.Exchange;
import dev.gantry.server.http.Json;
import io.netty.handler.codec.http.HttpMethod;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * OpenAI's routes, served by the Ollama handlers: each request is mapped by {@link OpenAiMapping} to the Ollama
 * body, handed to the Ollama handler inside an {@link OpenAiExchange}, and the handler's answer is mapped back.
 * There is no second inference path.
 */
public final class OpenAiHandlers {
    private static final System.Logger LOG = System.getLogger("gantry.api");
    public static final String MODELS_PREFIX = "/v1/models/";
    /** How the server's own refusals on these routes read (a drain's 503): OpenAI's error object. */
    public static final dev.gantry.server.http.Exchange.ErrorFormat ERRORS = OpenAiExchange.ERRORS;

    private final CompletionHandlers completions;
    private final EmbedHandlers embeds;
    private final ModelHandlers info;

    private final RerankHandlers reranks;
    /** Held while a request of several choices submits them. */
    private static final Object FAN_OUT = new Object();
    /** Choices one completion request may ask for (prompts times {@code n}): the wait queue's bound. */
    private final int maxChoices;

    /** @param maxQueue requests that may wait per model ({@code OLLAMA_MAX_QUEUE}): a request's choices at most */
    public OpenAiHandlers(CompletionHandlers completions, EmbedHandlers embeds, ModelHandlers info,
                          RerankHandlers reranks, int maxQueue) {
        this.reranks = reranks;
        this.maxChoices = Math.max(1, maxQueue);
        this.completions = completions;
        this.embeds = embeds;
        this.info = info;
    }

    @FunctionalInterface
    private interface Body {
        void run() throws Exception;
    }

    public void chatCompletions(Exchange ex) {
        serve(ex, () -> {
            ObjectNode req = parse(ex);
            ObjectNode ollama = OpenAiMapping.toOllamaChat(req);
            int n = OpenAiInputs.choiceCount(req);
            List<Choice> choices = new ArrayList<>(n);
            requireRoom(n);
            for (int j = 0; j < n; j++) {
                choices.add(new Choice(seeded(ollama, j), completions::chat, j == 0, null, null));
            }
            answer(ex, req, "chatcmpl-", true, choices);
        });
    }

    public void completions(Exchange ex) {
        serve(ex, () -> {
            ObjectNode req = parse(ex);
            List<OpenAiInputs.Prompt> prompts = OpenAiInputs.prompts(req);
            int n = OpenAiInputs.choiceCount(req);
            requireRoom((long) prompts.size() * n);
            boolean echo = OpenAiFields.bool(req, "echo", false);
            // echo with logprobs scores the prompt (each token's log probability given those before it), and with
            // max_tokens 0 generates nothing: how evaluation harnesses compute a text's likelihood
            boolean scored = echo && req.hasNonNull("logprobs");
            boolean only = echo && Integer.valueOf(0).equals(OpenAiFields.integer(req, "max_tokens"));
            List<Choice> choices = new ArrayList<>(prompts.size() * n);
            for (int i = 0; i < prompts.size(); i++) {
                OpenAiInputs.Prompt p = prompts.get(i);
                ObjectNode ollama = OpenAiMapping.toOllamaGenerate(req, p);
                PromptReport report = new PromptReport(echo, scored, only);
                ApiRouter.Handler handler = p.tokens() == null ? x -> completions.generate(x, report)
                        : x -> completions.generateTokens(x, p.tokens(), report);
                // a refusal of a later prompt is that prompt's (the ones before passed the same shared checks); one of
                // the first may be the request's as a whole (its options), so it names none
                String name = i > 0 ? "prompt[" + i + "]" : null;
                for (int j = 0; j < n; j++) {
                    choices.add(new Choice(seeded(ollama, j), handler, j == 0, name, echo ? p.text() : null));
                }
            }
            answer(ex, req, "cmpl-", false, choices);
        });
    }

    /**
     * A request's choices must fit the wait queue at once: more could never all be answered, and a 503 would only
     * have the client retry what cannot fit.
     */
    private void requireRoom(long choices) {
        if (choices > maxChoices) {
            throw OpenAiError.invalid("n", "the request asks for " + choices + " choices (prompts times n); at most "
                    + maxChoices + " are taken in one request (OLLAMA_MAX_QUEUE)");
        }
    }

    /**
     * The body of a prompt's choice {@code j}: with a fixed {@code seed} (from 0), choice j draws with seed + j
     * (wrapping within the non-negative longs), so the choices differ and the request is still repeatable (the same
     * seed for all would give n copies of one answer). A negative seed asks for a random one for each choice.
     */
    private static ObjectNode seeded(ObjectNode ollama, int j) {
        JsonNode seed = ollama.path("options").path("seed");
        if (j == 0 || !seed.isIntegralNumber() || seed.longValue() < 0) {
            return ollama;
        }
        ObjectNode copy = ollama.deepCopy();
        ((ObjectNode) copy.get("options")).put("seed", (seed.longValue() + j) & Long.MAX_VALUE);
        return copy;
    }

    /**
     * One choice of a completion: the Ollama body and handler that make it, whether its prompt's tokens count
     * toward the usage (once a prompt, however many choices it has), and its prompt's name in errors where the
     * request has several ({@code prompt[2]}), else null; {@code echo} the prompt's text the answer starts with
     * ({@code echo}), else null.
     */
    private record Choice(ObjectNode ollama, ApiRouter.Handler handler, boolean countsPrompt, String prompt,
                          String echo) {}

    /**
     * Both completion routes: serve each choice by its Ollama handler and translate the answer back; one choice
     * through an {@link OpenAiExchange}, several (prompts, {@code n}) through a {@link ChoiceFanOut}.
     */
    private static void answer(Exchange ex, ObjectNode req, String idPrefix, boolean chat, List<Choice> choices) {
        boolean usage = OpenAiMapping.includeUsage(req);
        long created = Instant.now().getEpochSecond();
        String id = idPrefix + randomId();
        if (choices.size() == 1) {
            Choice c = choices.getFirst();
            OpenAiExchange tx = new OpenAiExchange(ex, HttpMethod.POST, Json.write(c.ollama()),
                    new StreamTranslation(id, 0, created, usage, chat, c.echo()));
            run(tx, () -> c.handler().handle(tx));
            return;
        }
        OpenAiExchange.Translation[] translations = new OpenAiExchange.Translation[choices.size()];
        boolean[] counts = new boolean[choices.size()];
        for (int i = 0; i < translations.length; i++) {
            translations[i] = new StreamTranslation(id, i, created, usage, chat, choices.get(i).echo());
            counts[i] = choices.get(i).countsPrompt();
        }
        ChoiceFanOut fan = new ChoiceFanOut(ex, OpenAiFields.bool(req, "stream", false), usage, id, created,
                chat ? "chat.completion.chunk" : "text_completion", translations, counts);
        // one request's choices go in together: two requests whose choices interleaved could each fill half the
        // queue and both be refused, where the first would have fitted alone
        synchronized (FAN_OUT) {
            submit(fan, choices);
        }
        fan.submitted(); // what the choices wrote so far goes out now: every one was let in
    }

    /** Submits every choice to its handler, until one fails (which fails the request). */
    private static void submit(ChoiceFanOut fan, List<Choice> choices) {
        for (int i = 0; i < choices.size() && !fan.failed(); i++) {
            Choice c = choices.get(i);
            ChoiceFanOut.Part part = fan.part(i, c.ollama(), c.prompt());
            try {
                c.handler().handle(part);
            } catch (Throwable t) {
                Failure f = failure(t);
                if (t instanceof OpenAiError) {
                    fan.fail(f.status(), f.message(), f.param(), f.code());
                } else {
                    part.sendError(f.status(), f.message()); // names the prompt where the refusal is its own
                }
            }
        }
    }

    public void embeddings(Exchange ex) {
        serve(ex, () -> {
            ObjectNode req = parse(ex);
            ObjectNode ollama = OpenAiMapping.toOllamaEmbed(req);
            boolean base64 = OpenAiMapping.base64(req);
            String model = ollama.get("model").textValue();
            OpenAiExchange tx = new OpenAiExchange(ex, HttpMethod.POST, Json.write(ollama),
                    OpenAiExchange.whole(o -> OpenAiMapping.embeddingList(model, o, base64)));
            run(tx, () -> embeds.embedTokensToo(tx));
        });
    }

    /** {@code /v1/rerank}: llama-server's (and Jina's) answer as it is, errors in OpenAI's shape. */
    public void rerank(Exchange ex) {
        serve(ex, () -> {
            ObjectNode req = parse(ex);
            req.remove("stream"); // no rerank API streams: the answer is one body, whatever the request says
            OpenAiExchange tx = new OpenAiExchange(ex, HttpMethod.POST, Json.write(req), OpenAiExchange.whole(o -> o));
            run(tx, () -> reranks.rerank(tx));
        });
    }

    public void models(Exchange ex) {
        OpenAiExchange tx = new OpenAiExchange(ex, ex.method(), new byte[0],
                OpenAiExchange.whole(OpenAiMapping::modelList));
        run(tx, () -> info.tags(tx));
    }

    /** {@code GET /v1/models/{model}}: the model's {@code /api/show}, as OpenAI's model object. */
    public void model(Exchange ex) {
        String name;
        try {
            name = URLDecoder.decode(ex.path().substring(MODELS_PREFIX.length()), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            ex.sendError(400, "the model name in the path is not valid percent-encoding");
            return;
        }
        ObjectNode show = Json.MAPPER.createObjectNode().put("model", name);
        OpenAiExchange tx = new OpenAiExchange(ex, HttpMethod.POST, Json.write(show),
                OpenAiExchange.whole(o -> OpenAiMapping.model(name, o.path("modified_at").asText(""))));
        run(tx, () -> info.show(tx));
    }

    /** Errors of parsing and mapping, before any Ollama handler ran, in OpenAI's shape. */
    private static void serve(Exchange ex, Body body) {
        try {
            body.run();
        } catch (Throwable t) {
            fail(new OpenAiExchange(ex, ex.method(), new byte[0], OpenAiExchange.whole(o -> o)), t);
        }
    }

    private static void run(OpenAiExchange tx, Body body) {
        try {
            body.run();
        } catch (Throwable t) {
            fail(tx, t);
        }
    }

    private static void fail(OpenAiExchange tx, Throwable t) {
        Failure f = failure(t);
        tx.sendError(f.status(), f.message(), f.param(), f.code());
    }

    /** An error as OpenAI's answer words it. */
    private record Failure(int status, String message, String param, String code) {}

    /** What a request's failure answers: an {@link OpenAiError} as it is, else as {@link ErrorMapper} maps it. */
    private static Failure failure(Throwable t) {
        if (t instanceof InterruptedException) {
            Thread.currentThread().interrupt();
        }
        if (t instanceof OpenAiError e) {
            return new Failure(e.status(), e.getMessage(), e.param(), e.code());
        }
        ErrorMapper.Mapped m = ErrorMapper.map(t);
        if (m.status() >= 500 && m.status() != 503) {
            LOG.log(System.Logger.Level.ERROR, "OpenAI request failed", t);
        }
        return new Failure(m.status(), m.message(), null, null);
    }

    private static ObjectNode parse(Exchange ex) {
        try {
            return Json.parseObject(ex.body());
        } catch (ApiException e) {
            throw new OpenAiError(e.status(), e.getMessage(), null, null);
        }
    }

    private static String randomId() {
        return Long.toString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE, 36);
    }

    /** Chat and completion answers: whole, or chunk by chunk with the usage chunk when asked. */
    private static final class StreamTranslation implements OpenAiExchange.Translation {
        private final String id;
        /** What this choice's tool call ids are made from: the answer's id, and the choice's index after the first. */
        private final String callIds;
        private final long created;
        private final boolean includeUsage;
        private final boolean chat;
        private boolean toolCallsSent;
        /** Characters of the answer whose tokens' log probabilities earlier chunks carried (text_offset). */
        private int textOffset;
        /** The prompt the completion's text starts with ({@code echo}) where it was text, else null. */
        private final String echo;
        /** Whether a chunk carried the echoed prompt. */
        private boolean echoSent;

        StreamTranslation(String id, int choice, long created, boolean includeUsage, boolean chat, String echo) {
            this.id = id;
            this.callIds = choice == 0 ? id : id + "_" + choice; // unique across the choices of one answer
            this.created = created;
            this.includeUsage = includeUsage;
            this.chat = chat;
            this.echo = echo;
        }

        @Override
        public JsonNode whole(JsonNode ollama) {
            if (chat) {
                return OpenAiMapping.chatCompletion(id, callIds, created, ollama);
            }
            String echoed = echoed(ollama);
            ObjectNode out = OpenAiMapping.completion(id, created, ollama, echoed);
            echo(out, echoed);
            return out;
        }

        /**
         * The prompt's text the answer starts with, once: the request's text prompt, or a prompt of token ids as
         * the handler spelled it ({@code prompt_text}); null when not echoed or already sent.
         */
        private String echoed(JsonNode ollama) {
            if (echoSent) {
                return null;
            }
            if (echo != null) {
                return echo;
            }
            JsonNode text = ollama.get("prompt_text");
            return text != null && text.isTextual() ? text.textValue() : null;
        }

        /** Puts the echoed prompt before the first chunk's (or the whole answer's) text. */
        private void echo(ObjectNode completion, String echoed) {
            if (echoed != null) {
                ObjectNode choice = (ObjectNode) completion.path("choices").path(0);
                choice.put("text", echoed + choice.path("text").asText(""));
                echoSent = true;
            }
        }

        @Override
        public List<JsonNode> line(JsonNode ollama) {
            List<JsonNode> out = new ArrayList<>(2);
            if (chat) {
                ObjectNode chunk = OpenAiMapping.chatChunk(id, callIds, created, ollama, toolCallsSent);
                toolCallsSent |= chunk.path("choices").path(0).path("delta").has("tool_calls");
                out.add(chunk);
            } else {
                String echoed = echoed(ollama);
                // the answer's text, and its tokens' offsets, follow the prompt
                textOffset += OpenAiLogprobs.characters(echoed);
                ObjectNode chunk = OpenAiMapping.completionChunk(id, created, ollama, textOffset, echoed);
                echo(chunk, echoed);
                if (includeUsage) { // as Ollama's completion writer: each chunk carries a zero usage, the last its own
                    chunk.putObject("usage").put("prompt_tokens", 0).put("completion_tokens", 0)
                            .put("total_tokens", 0);
                }
                out.add(chunk);
                textOffset += OpenAiLogprobs.textLength(ollama);
            }
            if (includeUsage && ollama.path("done").asBoolean(false)) {
                out.add(OpenAiMapping.usageChunk(id, chat ? "chat.completion.chunk" : "text_completion", created,
                        ollama));
            }
            return out;
        }
    }
}
