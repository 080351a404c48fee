package dev.gantry.server.api.openai;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gantry.server.http.Exchange;
import dev.gantry.server.http.Json;
import io.netty.handler.codec.http.HttpMethod;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.function.Function;

/**
 * The exchange an Ollama handler sees when it serves an OpenAI request: it carries the mapped Ollama request body,
 * and translates what the handler writes (a whole JSON body, or NDJSON lines) into OpenAI's answer (a whole JSON
 * body, or server-sent events ending with {@code data: [DONE]}) on the client's connection. Errors, whether
 * thrown before the answer or written in-band, leave in OpenAI's shape.
 *
 * <p>The handler writes from its request thread and, while streaming, from the connection's event loop, one at a
 * time and in order; this class keeps no state that two threads touch at once.
 */
final class OpenAiExchange extends Exchange {
    private static final byte[] DATA = "data: ".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] EVENT_END = "\n\n".getBytes(StandardCharsets.US_ASCII);
    static final byte[] DONE = "data: [DONE]\n\n".getBytes(StandardCharsets.US_ASCII);

    /** How one kind of answer is translated. */
    interface Translation {
        /** The whole answer (not streamed) from Ollama's whole body. */
        JsonNode whole(JsonNode ollama);

        /** The OpenAI chunks for one streamed Ollama line (the last has {@code done: true}). */
        default java.util.List<JsonNode> line(JsonNode ollama) {
            return java.util.List.of(whole(ollama));
        }
    }

    private final Exchange client;
    private final Translation translation;
    private volatile boolean failed;
    /** The client asked for a stream: even an answer the handler sends whole goes out as events. */
    private final boolean streamed;

    OpenAiExchange(Exchange client, HttpMethod method, byte[] ollamaBody, Translation translation) {
        super(client, method, ollamaBody);
        this.client = client;
        this.translation = translation;
        JsonNode request = parse(ollamaBody);
        this.streamed = request != null && request.path("stream").asBoolean(false);
        // a drain's error comes in ERRORS' shape: the router words it so for every path under /v1/
    }

    /** OpenAI's error object, as a stream's last event or as a body. */
    static final ErrorFormat ERRORS = new ErrorFormat() {
        @Override
        public byte[] streamed(String message) {
            return event(Json.write(OpenAiMapping.error(503, message, null, null)));
        }

        @Override
        public byte[] body(int status, String message) {
            return Json.write(OpenAiMapping.error(status, message, null, null));
        }
    };

    /** A translation that maps a whole body with {@code f} and streams nothing. */
    static Translation whole(Function<JsonNode, JsonNode> f) {
        return f::apply;
    }

    @Override
    public void send(int status, String contentType, byte[] content) {
        if (status >= 400) {
            sendError(status, errorMessage(content));
            return;
        }
        JsonNode ollama = parse(content);
        if (ollama == null) {
            client.send(status, contentType, content);
            return;
        }
        if (streamed && !client.isStreaming()) {
            // a whole answer to a streamed request (an empty prompt only loads the model): one event and [DONE],
            // as Ollama's writer sends it, so an SSE client is not handed plain JSON
            startStream("text/event-stream");
            writeChunk(content);
            endStream();
            return;
        }
        client.sendJson(status, Json.write(translation.whole(ollama)));
    }

    @Override
    public void sendError(int status, String message) {
        sendError(status, message, null, null);
    }

    /** An error before the answer started gets its status; after, it is the stream's last event. */
    void sendError(int status, String message, String param, String code) {
        ObjectNode body = OpenAiMapping.error(status, message, param, code);
        if (client.isStreaming()) {
            failed = true;
            client.writeChunk(event(Json.write(body)));
            client.endStream();
        } else {
            client.sendJson(status, Json.write(body));
        }
    }

    @Override
    public boolean isStreaming() {
        return client.isStreaming();
    }

    @Override
    public void startStream(String contentType) {
        client.startStream("text/event-stream; charset=utf-8");
    }

    @Override
    public void writeChunk(byte[] data) {
        writeChunkLater(data);
        client.flush();
    }

    @Override
    public void writeChunkLater(byte[] data) {
        JsonNode ollama = parse(data);
        if (ollama == null) {
            return;
        }
        if (ollama.has("error")) {
            failed = true;
            ObjectNode body = OpenAiMapping.error(500, ollama.path("error").asText(""), null, null);
            client.writeChunkLater(event(Json.write(body)));
            return;
        }
        for (JsonNode chunk : translation.line(ollama)) {
            client.writeChunkLater(event(Json.write(chunk)));
        }
    }

    @Override
    public void flush() {
        client.flush();
    }

    @Override
    public void endStream() {
        if (!failed) {
            client.writeChunkLater(DONE);
        }
        client.endStream();
    }

    /** One server-sent event of a JSON body. */
    static byte[] event(byte[] json) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(json.length + 8);
        out.writeBytes(DATA);
        out.writeBytes(json);
        out.writeBytes(EVENT_END);
        return out.toByteArray();
    }

    /** The JSON a handler wrote, or null where it is not JSON. */
    static JsonNode parse(byte[] json) {
        try {
            return Json.MAPPER.readTree(json);
        } catch (IOException e) {
            return null;
        }
    }

    /** The message of an Ollama error body, or the body itself where it has none. */
    static String errorMessage(byte[] content) {
        JsonNode n = parse(content);
        return n != null && n.path("error").isTextual() ? n.get("error").textValue()
                : new String(content, StandardCharsets.UTF_8);
    }
}
