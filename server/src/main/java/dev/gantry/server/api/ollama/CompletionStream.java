package dev.gantry.server.api.ollama;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gantry.models.chat.ChatOutputParser;
import dev.gantry.models.chat.ToolCall;
import dev.gantry.runtime.runner.FinishReason;
import dev.gantry.runtime.runner.GenerationMetrics;
import dev.gantry.runtime.runner.TokenRelay;
import dev.gantry.runtime.sampling.TokenLogprobs;
import dev.gantry.server.http.ErrorMapper;
import dev.gantry.server.http.Exchange;
import dev.gantry.server.http.Json;
import java.time.Instant;
import java.util.List;
import java.util.function.IntFunction;

/**
 * Writes one generation as Ollama does: NDJSON lines while streaming, or one JSON object at the end. Called by a
 * {@link TokenRelay} on the connection's event loop, in order; the stream's headers go out with the first line,
 * so a request the runner rejects can still get a plain status. For chat, an answer parser splits the
 * text into reasoning, content and tool calls (holding back what may be a tool call until it is decided).
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
    private final StringBuilder thinking = new StringBuilder();
    private final ChunkEncoder encoder;
    private final dev.gantry.models.chat.AnswerParser parser;
    private boolean started;
    /** Turns the answer's text into the final line's {@code context} (generate, not raw); null for none. */
    private java.util.function.Function<String, int[]> context;
    /** The whole answer as the model wrote it, kept for {@link #context}. */
    private StringBuilder answer;
    /** Log probabilities not yet written: they go with the next line (all of them with a whole answer). */
    private ArrayNode logprobs;
    /** Bytes of text the answer has had so far, and bytes of the tokens whose log probabilities were written. */
    private long textBytes;
    private long writtenLogprobBytes;

    CompletionStream(Exchange exchange, Shape shape, String model, boolean stream, long startNanos, long loadNanos) {
        this(exchange, shape, model, stream, startNanos, loadNanos, null);
    }

    CompletionStream(Exchange exchange, Shape shape, String model, boolean stream, long startNanos, long loadNanos,
                     dev.gantry.models.chat.AnswerParser parser) {
        this.exchange = exchange;
        this.shape = shape;
        this.model = model;
        this.stream = stream;
        this.startNanos = startNanos;
        this.loadNanos = loadNanos;
        this.encoder = new ChunkEncoder(model, shape == Shape.CHAT);
        this.parser = parser;
    }

    /**
     * Gives the last line a {@code context}: {@code f} turns the whole answer into the conversation's tokens
     * (the prompt's and the answer's), as Ollama sends them for a client to pass back.
     */
    CompletionStream withContext(java.util.function.Function<String, int[]> f) {
        this.context = f;
        this.answer = new StringBuilder(); // the raw answer: its reasoning and tool calls too, as the model wrote them
        return this;
    }

    /**
     * Ollama's {@code logprobs} entry: the token's text and bytes, its log probability and its likeliest
     * alternatives'.
     */
    @Override
    public void onLogprobs(TokenLogprobs lp, IntFunction<byte[]> pieces) {
        if (logprobs == null) {
            logprobs = Json.MAPPER.createArrayNode();
        }
        logprobs.add(entry(lp, pieces));
    }

    private static ObjectNode entry(TokenLogprobs lp, IntFunction<byte[]> pieces) {
        ObjectNode entry = tokenEntry(lp.token(), lp.logprob(), pieces);
        if (lp.topTokens().length > 0) {
            ArrayNode top = entry.putArray("top_logprobs");
            for (int i = 0; i < lp.topTokens().length; i++) {
                top.add(tokenEntry(lp.topTokens()[i], lp.topLogprobs()[i], pieces));
            }
        }
        return entry;
    }

    /**
     * The prompt's own log probabilities and text ({@link CompletionHandlers.PromptReport}), not yet written: they
     * go with the first line (all of them come before any text). Null when not asked or once written.
     */
    private ArrayNode promptLogprobs;
    private String promptText;

    /**
     * Reports the prompt {@code tokens} with the answer: with {@code logprobs}, each token's log probability
     * ({@code prompt_logprobs}: the first token's entry has none, as nothing comes before it, and the rest come
     * from the runner); with {@code text}, the tokens' text ({@code prompt_text}).
     */
    void reportPrompt(int[] tokens, boolean logprobs, boolean text, IntFunction<byte[]> pieces) {
        if (logprobs) {
            promptLogprobs = Json.MAPPER.createArrayNode();
            ObjectNode first = tokenEntry(tokens[0], 0, pieces);
            first.putNull("logprob");
            promptLogprobs.add(first);
        }
        if (text) {
            java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
            for (int t : tokens) {
                bytes.writeBytes(pieces.apply(t));
            }
            promptText = bytes.toString(java.nio.charset.StandardCharsets.UTF_8);
        }
    }

    @Override
    public void onPromptLogprobs(int position, TokenLogprobs lp, IntFunction<byte[]> pieces) {
        if (promptLogprobs != null) {
            promptLogprobs.add(entry(lp, pieces));
        }
    }

    private static ObjectNode tokenEntry(int token, float logprob, IntFunction<byte[]> pieces) {
        byte[] piece = pieces.apply(token);
        ObjectNode e = Json.MAPPER.createObjectNode();
        e.put("token", new String(piece, java.nio.charset.StandardCharsets.UTF_8));
        // -inf (a banned token) has no JSON number: the most negative finite value stands in, as llama-server does
        e.put("logprob", Float.isFinite(logprob) ? (double) logprob : -Double.MAX_VALUE);
        ArrayNode bytes = e.putArray("bytes");
        for (byte b : piece) {
            bytes.add(b & 0xff);
        }
        return e;
    }

    /** {@code chunk} as a line, with the log probabilities gathered since the last line. */
    private byte[] line(Object chunk) {
        return Json.line(withLogprobs(chunk));
    }

    /** {@code chunk}, or a copy with the log probabilities gathered since the last line, which it takes. */
    private Object withLogprobs(Object chunk) {
        boolean prompt = promptLogprobs != null || promptText != null;
        if ((logprobs == null || logprobs.isEmpty()) && !prompt) {
            return chunk;
        }
        ObjectNode node = Json.MAPPER.valueToTree(chunk);
        if (prompt) {
            if (promptText != null) {
                node.put("prompt_text", promptText);
            }
            if (promptLogprobs != null) {
                node.set("prompt_logprobs", promptLogprobs);
            }
            promptText = null;
            promptLogprobs = null;
        }
        if (logprobs == null || logprobs.isEmpty()) {
            return node;
        }
        node.set("logprobs", logprobs);
        for (JsonNode e : logprobs) {
            writtenLogprobBytes += e.get("bytes").size();
        }
        logprobs = Json.MAPPER.createArrayNode();
        return node;
    }

    @Override
    public void onText(String text) {
        if (answer != null) {
            answer.append(text);
        }
        textBytes += text.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
        if (parser == null) {
            emit("", text);
            return;
        }
        ChatOutputParser.Delta d = parser.accept(text);
        if (!d.isEmpty()) {
            emit(d.thinking(), d.content());
        }
    }

    private void emit(String think, String text) {
        if (!stream) {
            thinking.append(think);
            whole.append(text);
            return;
        }
        start();
        if (think.isEmpty() && (logprobs == null || logprobs.isEmpty()) && promptLogprobs == null
                && promptText == null) {
            exchange.writeChunkLater(encoder.line(text));
        } else {
            exchange.writeChunkLater(line(partial(text, think, null)));
        }
    }

    /** A line that is not the last, in the request's shape: text, reasoning (may be empty) and tool calls. */
    private Object partial(String text, String think, List<Responses.WireToolCall> calls) {
        String now = Instant.now().toString();
        String reasoning = think.isEmpty() ? null : think;
        return shape == Shape.CHAT
                ? new Responses.ChatChunk(model, now, new Responses.Message("assistant", text, reasoning, calls), false,
                        null, null, null, null, null, null, null, null)
                : new Responses.GenerateChunk(model, now, text, reasoning, false, null, null, null, null, null, null,
                        null, null, null);
    }

    @Override
    public void flush() {
        if (started) {
            exchange.flush();
        }
    }

    /**
     * Drops the log probabilities of the last tokens whose text a stop string took out whole, as Ollama does, so
     * the tokens reported spell the answer (a token the stop cut only in part stays). A chat's too: the count is of
     * the model's text as the stop strings left it, before any reasoning or tool-call parsing.
     */
    private void dropStoppedLogprobs() {
        if (logprobs == null || logprobs.isEmpty()) {
            return;
        }
        long start = writtenLogprobBytes;
        int keep = 0;
        for (JsonNode e : logprobs) {
            if (start >= textBytes) {
                break;
            }
            start += e.get("bytes").size();
            keep++;
        }
        while (logprobs.size() > keep) {
            logprobs.remove(logprobs.size() - 1);
        }
    }

    @Override
    public void onDone(FinishReason reason, GenerationMetrics m) {
        String doneReason = reason.wire();
        dropStoppedLogprobs();
        List<Responses.WireToolCall> calls = null;
        if (parser != null) {
            ChatOutputParser.Final f = parser.finish();
            if (!f.toolCalls().isEmpty()) {
                calls = f.toolCalls().stream().map(CompletionStream::wire).toList();
                doneReason = "stop";
            }
            if (stream && (!f.thinking().isEmpty() || !f.content().isEmpty() || calls != null)) {
                start();
                exchange.writeChunk(line(partial(f.content(), f.thinking(), calls)));
                calls = null;
            } else if (!stream) {
                thinking.append(f.thinking());
                whole.append(f.content());
            }
        }
        Object last = chunk(stream ? "" : whole.toString(), stream || thinking.isEmpty() ? null : thinking.toString(),
                calls, doneReason, m);
        if (stream) {
            start();
            exchange.writeChunk(line(last));
            exchange.endStream();
        } else {
            exchange.sendJson(200, Json.write(withLogprobs(last)));
        }
    }

    private static Responses.WireToolCall wire(ToolCall c) {
        return new Responses.WireToolCall(new Responses.WireFunction(c.name(), c.arguments()));
    }

    @Override
    public void onError(Throwable error) {
        String message = error.getMessage() == null ? error.toString() : error.getMessage();
        if (started) {
            exchange.writeChunk(Json.errorLine(message));
            exchange.endStream();
        } else {
            // a request the runner refused for what it asked (an IllegalArgumentException: a format llama.cpp
            // cannot compile, say) is the client's to fix: 400; the rest is ours: 500
            ErrorMapper.Mapped m = ErrorMapper.map(error);
            exchange.sendError(m.status(), m.message() == null ? message : m.message());
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

    private Object chunk(String text, String think, List<Responses.WireToolCall> calls, String reason,
                         GenerationMetrics m) {
        String now = Instant.now().toString();
        Long total = m == null ? null : System.nanoTime() - startNanos;
        Long load = m == null ? null : loadNanos;
        Integer promptCount = m == null ? null : m.promptTokens();
        // Ollama's prompt_eval_cached_count: set only when the cache held some of the prompt
        Integer cached = m == null || m.cachedPromptTokens() == 0 ? null : m.cachedPromptTokens();
        Long promptTime = m == null ? null : m.promptEvalNanos();
        Integer evalCount = m == null ? null : m.generatedTokens();
        Long evalTime = m == null ? null : m.evalNanos();
        return switch (shape) {
            case GENERATE -> new Responses.GenerateChunk(model, now, text, think, true, reason,
                    context == null ? null : context.apply(answer.toString()), total, load,
                    promptCount, cached, promptTime, evalCount, evalTime);
            case CHAT -> new Responses.ChatChunk(model, now, new Responses.Message("assistant", text, think, calls),
                    true, reason, total, load, promptCount, cached, promptTime, evalCount, evalTime);
        };
    }

    /** The answer to a request that only loads or unloads a model (empty prompt or messages). */
    static Object loadOnly(Shape shape, String model, String reason) {
        String now = Instant.now().toString();
        return switch (shape) {
            case GENERATE -> new Responses.GenerateChunk(model, now, "", null, true, reason, null, null, null, null,
                    null, null, null, null);
            case CHAT -> new Responses.ChatChunk(model, now, new Responses.Message("assistant", ""), true, reason,
                    null, null, null, null, null, null, null);
        };
    }
}
