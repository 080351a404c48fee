package dev.gantry.server.api.ollama;

import dev.gantry.runtime.runner.FinishReason;
import dev.gantry.runtime.runner.GenerationMetrics;
import dev.gantry.runtime.runner.TokenRelay;
import dev.gantry.server.http.Exchange;
import dev.gantry.server.http.Json;
import java.time.Instant;

/**
 * Writes one generation as Ollama does: NDJSON lines while streaming, or one JSON object at the end. Called by a
 * {@link TokenRelay} on the connection's event loop, in order; the stream's headers go out with the first line,
 * so a request the runner rejects can still get a plain status.
 */
final class CompletionStream implements TokenRelay.Sink {
    /** Generate and chat differ only in how a piece of text is wrapped. */
    enum Shape {
        GENERATE, CHAT
    }

    private final Exchange exchange;
    private final Shape shape;
    private final String model;
    private final boolean stream;
    private final long startNanos;
    private final long loadNanos;
    private final StringBuilder whole = new StringBuilder();
    private final ChunkEncoder encoder;
    private boolean started;

    CompletionStream(Exchange exchange, Shape shape, String model, boolean stream, long startNanos, long loadNanos) {
        this.exchange = exchange;
        this.shape = shape;
        this.model = model;
        this.stream = stream;
        this.startNanos = startNanos;
        this.loadNanos = loadNanos;
        this.encoder = new ChunkEncoder(model, shape == Shape.CHAT);
    }

    @Override
    public void onText(String text) {
        if (!stream) {
            whole.append(text);
            return;
        }
        start();
        exchange.writeChunkLater(encoder.line(text));
    }

    @Override
    public void flush() {
        if (started) {
            exchange.flush();
        }
    }

    @Override
    public void onDone(FinishReason reason, GenerationMetrics m) {
        Object last = chunk(stream ? "" : whole.toString(), true, reason.wire(), m);
        if (stream) {
            start();
            exchange.writeChunk(Json.line(last));
            exchange.endStream();
        } else {
            exchange.sendJson(200, Json.write(last));
        }
    }

    @Override
    public void onError(Throwable error) {
        String message = error.getMessage() == null ? error.toString() : error.getMessage();
        if (started) {
            exchange.writeChunk(Json.errorLine(message));
            exchange.endStream();
        } else {
            exchange.sendError(500, message);
        }
    }

    @Override
    public boolean isWritable() {
        return exchange.isWritable();
    }

    private void start() {
        if (!started) {
            started = true;
            exchange.startStream("application/x-ndjson");
        }
    }

    private Object chunk(String text, boolean done, String reason, GenerationMetrics m) {
        String now = Instant.now().toString();
        Long total = m == null ? null : System.nanoTime() - startNanos;
        Long load = m == null ? null : loadNanos;
        Integer promptCount = m == null ? null : m.promptTokens();
        Long promptTime = m == null ? null : m.promptEvalNanos();
        Integer evalCount = m == null ? null : m.generatedTokens();
        Long evalTime = m == null ? null : m.evalNanos();
        return switch (shape) {
            case GENERATE -> new Responses.GenerateChunk(model, now, text, done, reason, total, load, promptCount,
                    promptTime, evalCount, evalTime);
            case CHAT -> new Responses.ChatChunk(model, now, new Responses.Message("assistant", text), done, reason,
                    total, load, promptCount, promptTime, evalCount, evalTime);
        };
    }

    /** The answer to a request that only loads or unloads a model (empty prompt or messages). */
    static Object loadOnly(Shape shape, String model, String reason) {
        String now = Instant.now().toString();
        return switch (shape) {
            case GENERATE -> new Responses.GenerateChunk(model, now, "", true, reason, null, null, null, null, null, null);
            case CHAT -> new Responses.ChatChunk(model, now, new Responses.Message("assistant", ""), true, reason,
                    null, null, null, null, null, null);
        };
    }
}
