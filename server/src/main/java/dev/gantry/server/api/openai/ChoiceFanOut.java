package dev.gantry.server.api.openai;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gantry.server.http.Exchange;
import dev.gantry.server.http.Json;
import io.netty.handler.codec.http.HttpMethod;
import java.util.ArrayList;
import java.util.List;

/**
 * The choices of one OpenAI completion request that asks for several (a list of prompts, or {@code n} above 1):
 * each choice is its own Ollama generation, served through its own {@link Part} exchange, so they batch with each
 * other in the runner. Their answers come back as one body whose {@code choices} are in index order, or as one
 * stream of chunks that carry their choice's {@code index}, ending with one usage chunk (when asked) and one
 * {@code [DONE]} after the last choice finished.
 *
 * <p>The first failure (a refused prompt, a full queue, an error in a stream) ends the whole request with it, in
 * OpenAI's shape, and cancels the other choices' generations; a closed connection cancels them all too.
 *
 * <p>Parts write from their request thread and from the connection's event loop; every method that touches the
 * shared state holds this object's lock. Until every choice is submitted their writes are held; from then on every
 * write to the client is made on the event loop (the held ones first), which keeps them in order on the wire. Before
 * that only a whole answer (a refusal) is written, from the request thread.
 */
final class ChoiceFanOut {
    private final Exchange client;
    private final boolean stream;
    private final boolean includeUsage;
    private final String id;
    private final long created;
    private final String object;
    private final OpenAiExchange.Translation[] translations;
    /** Whether a choice's prompt tokens count toward the usage: one choice of each prompt (its first of n). */
    private final boolean[] countsPrompt;
    private final ObjectNode[] wholes;
    private final List<Runnable> cancels = new ArrayList<>();
    private int finished;
    private boolean started;
    /**
     * Until every choice was submitted, what they write waits here: a later choice's refusal (a bad prompt, a full
     * queue) is then still the request's status, not an error after a 200 and other choices' text.
     */
    private List<Runnable> held = new ArrayList<>();
    private volatile boolean failed;
    private JsonNode last;
    private long promptTokens;
    private long completionTokens;
    private long cachedTokens;

    /**
     * @param translations one per choice, in index order (each a fresh translation of its own stream)
     * @param countsPrompt per choice, whether its prompt's tokens count toward the usage
     * @param id           the answer's id, which each translation also gives its chunks
     * @param object       the stream's chunk object ({@code text_completion}, {@code chat.completion.chunk})
     */
    ChoiceFanOut(Exchange client, boolean stream, boolean includeUsage, String id, long created, String object,
                 OpenAiExchange.Translation[] translations, boolean[] countsPrompt) {
        this.client = client;
        this.id = id;
        this.created = created;
        this.stream = stream;
        this.includeUsage = includeUsage;
        this.object = object;
        this.translations = translations.clone();
        this.countsPrompt = countsPrompt.clone();
        this.wholes = new ObjectNode[translations.length];
    }

    /**
     * The exchange choice {@code index}'s Ollama handler writes to, carrying its mapped Ollama body; {@code prompt}
     * names its prompt in a client error's message where the request has several (else null).
     */
    Part part(int index, ObjectNode ollamaBody, String prompt) {
        return new Part(index, Json.write(ollamaBody), prompt);
    }

    /**
     * Every choice was submitted (or one failed): what they wrote goes out, then what they write from now on. Sent
     * from the connection's event loop, where the choices' later writes come from: a write from another thread is
     * queued to the event loop, so a later write made there would overtake it (chunks after their choice's end, or
     * before the stream's head).
     */
    void submitted() {
        client.eventLoop().execute(this::release);
    }

    private synchronized void release() {
        List<Runnable> pending = held;
        held = null;
        for (Runnable r : pending) {
            r.run();
        }
        flush();
    }

    /** Runs {@code write} now, or once every choice was submitted. */
    private boolean hold(Runnable write) {
        if (held == null) {
            return false;
        }
        held.add(write);
        return true;
    }

    /** Whether a choice already failed the request: choices not yet started are not. */
    boolean failed() {
        return failed;
    }

    /** Ends the request with an error (before or during the answer) and cancels every choice. */
    synchronized void fail(int status, String message, String param, String code) {
        if (failed) {
            return;
        }
        failed = true;
        ObjectNode body = OpenAiMapping.error(status, message, param, code);
        if (started) {
            client.writeChunk(OpenAiExchange.event(Json.write(body)));
            client.endStream();
        } else {
            client.sendJson(status, Json.write(body));
        }
        for (Runnable r : cancels) {
            r.run();
        }
        cancels.clear();
    }

    private synchronized void onCancel(Runnable action) {
        if (failed) {
            action.run();
        } else {
            cancels.add(action);
        }
    }

    /** A choice's whole answer (not streamed; or an answer sent whole to a stream: an empty prompt's load). */
    private synchronized void whole(int index, JsonNode ollama) {
        if (failed || hold(() -> whole(index, ollama))) {
            return;
        }
        if (stream) {
            line(index, ollama);
            end(index);
            return;
        }
        count(index, ollama);
        wholes[index] = (ObjectNode) translations[index].whole(ollama);
        last = ollama;
        if (++finished < wholes.length) {
            return;
        }
        ObjectNode merged = wholes[0].deepCopy();
        ArrayNode choices = merged.putArray("choices");
        for (int i = 0; i < wholes.length; i++) {
            for (JsonNode c : wholes[i].path("choices")) {
                choices.add(((ObjectNode) c.deepCopy()).put("index", i));
            }
        }
        merged.set("usage", OpenAiMapping.usage(totals()));
        client.sendJson(200, Json.write(merged));
    }

    /** One streamed Ollama line of a choice. */
    private synchronized void line(int index, JsonNode ollama) {
        if (failed || hold(() -> line(index, ollama))) {
            return;
        }
        if (ollama.has("error")) {
            fail(500, ollama.path("error").asText(""), null, null);
            return;
        }
        if (!started) {
            started = true;
            client.startStream("text/event-stream; charset=utf-8");
        }
        if (ollama.path("done").asBoolean(false)) {
            count(index, ollama);
            last = ollama;
        }
        for (JsonNode chunk : translations[index].line(ollama)) {
            if (chunk.path("choices").isEmpty()) {
                continue; // a choice's own usage chunk: the request's comes once, after the last choice
            }
            for (JsonNode c : chunk.path("choices")) {
                ((ObjectNode) c).put("index", index);
            }
            client.writeChunkLater(OpenAiExchange.event(Json.write(chunk)));
        }
    }

    /** A choice's stream ended; after the last, the usage chunk (when asked) and {@code [DONE]}. */
    private synchronized void end(int index) {
        if (failed || hold(() -> end(index)) || ++finished < translations.length) {
            return;
        }
        if (!started) { // every choice ended without a line: still an event stream
            started = true;
            client.startStream("text/event-stream; charset=utf-8");
        }
        if (includeUsage && last != null) {
            ObjectNode usage = OpenAiMapping.usageChunk(id, object, created, totals());
            client.writeChunkLater(OpenAiExchange.event(Json.write(usage)));
        }
        client.writeChunkLater(OpenAiExchange.DONE);
        client.endStream();
    }

    private synchronized void flush() {
        if (!failed && started && held == null) {
            client.flush();
        }
    }

    private void count(int index, JsonNode ollama) {
        if (countsPrompt[index]) {
            promptTokens += ollama.path("prompt_eval_count").asLong(0);
            cachedTokens += ollama.path("prompt_eval_cached_count").asLong(0);
        }
        completionTokens += ollama.path("eval_count").asLong(0);
    }

    /** An Ollama final object with the choices' summed counts, for {@link OpenAiMapping#usage}. */
    private JsonNode totals() {
        ObjectNode t = last != null && last.isObject() ? ((ObjectNode) last).deepCopy()
                : Json.MAPPER.createObjectNode();
        t.put("prompt_eval_count", promptTokens);
        t.put("eval_count", completionTokens);
        t.put("prompt_eval_cached_count", cachedTokens);
        return t;
    }

    /** What one choice's Ollama handler sees: its own request body; its answer goes to the fan-out. */
    final class Part extends Exchange {
        private final int index;
        private final String prompt;
        private volatile boolean streaming;

        private Part(int index, byte[] body, String prompt) {
            super(client, HttpMethod.POST, body);
            this.index = index;
            this.prompt = prompt;
        }

        @Override
        public void send(int status, String contentType, byte[] content, java.util.Map<String, String> headers) {
            if (status >= 400) {
                sendError(status, OpenAiExchange.errorMessage(content));
                return;
            }
            JsonNode ollama = OpenAiExchange.parse(content);
            if (ollama == null) {
                fail(500, "an answer that is not JSON", null, null);
                return;
            }
            whole(index, ollama);
        }

        /** A client error names the prompt it is about where the request has several. */
        @Override
        public void sendError(int status, String message) {
            boolean client = status >= 400 && status < 499 && status != 404;
            boolean named = client && prompt != null;
            fail(status, named ? prompt + ": " + message : message, named ? "prompt" : null, null);
        }

        @Override
        public boolean isStreaming() {
            return streaming;
        }

        @Override
        public boolean isOpen() {
            return super.isOpen() && !failed;
        }

        @Override
        public void onClose(Runnable action) {
            onCancel(action);
            super.onClose(action);
        }

        @Override
        public void startStream(String contentType) {
            streaming = true;
        }

        @Override
        public void writeChunk(byte[] data) {
            writeChunkLater(data);
            flush();
        }

        @Override
        public void writeChunkLater(byte[] data) {
            JsonNode ollama = OpenAiExchange.parse(data);
            if (ollama != null) {
                line(index, ollama);
            }
        }

        @Override
        public void flush() {
            ChoiceFanOut.this.flush();
        }

        @Override
        public void endStream() {
            end(index);
        }
    }
}
