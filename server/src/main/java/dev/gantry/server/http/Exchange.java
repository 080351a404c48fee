package dev.gantry.server.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One HTTP request and its response. The request is already read whole; the response is either one body
 * ({@link #send}) or a stream ({@link #startStream}, {@link #writeChunk}, {@link #endStream}). Writes may come from
 * any thread: Netty runs them on the channel's event loop, in order.
 *
 * <p>Not final for one reason: an API adapter (OpenAI's) hands an Ollama handler a subclass that carries a
 * translated request body and overrides the response methods to translate what the handler writes.
 */
public class Exchange {
    /** What a 503 tells clients to wait before retrying: a queue slot frees in about a generation's time. */
    static final int RETRY_AFTER_SECONDS = 1;

    private final ChannelHandlerContext ctx;
    private final HttpMethod method;
    private final String path;
    private final String query;
    private final HttpHeaders headers;
    private final byte[] body;
    private final boolean keepAlive;
    private final AtomicBoolean responded = new AtomicBoolean();
    private volatile java.util.Map<String, String> pathParams = java.util.Map.of();
    private final AtomicBoolean done = new AtomicBoolean();
    private volatile Runnable whenDone = () -> {};
    private volatile io.netty.util.concurrent.GenericFutureListener<io.netty.util.concurrent.Future<? super Void>>
            closeListener;
    private volatile boolean streaming;
    private volatile boolean ended;
    /** {@link #abort} ended the response: later writes of the request's own stream are dropped. */
    private volatile boolean aborted;
    /**
     * What runs once the response is complete or the connection closed; shared with adapted copies, whose answers
     * go out through this exchange.
     */
    private final java.util.List<Runnable> afterResponse;
    /**
     * The exchange of the client's connection: this one, or for an adapted copy the one it was made from. Whether
     * the answer is done, what runs after it and how a drain ends it are the connection's, kept there.
     */
    private final Exchange origin;
    /** How {@link #abort} words its error for this connection's API (an adapter sets its own). */
    private volatile ErrorFormat errorFormat = ErrorFormat.OLLAMA;

    /** An error as a connection's API writes it: a stream's last piece, or a whole body. */
    public interface ErrorFormat {
        /** Ollama's: a last {@code {"error": ...}} line, or that object as the body. */
        ErrorFormat OLLAMA = new ErrorFormat() {
            @Override
            public byte[] streamed(String message) {
                return Json.errorLine(message);
            }

            @Override
            public byte[] body(int status, String message) {
                return Json.error(message);
            }
        };

        byte[] streamed(String message);

        byte[] body(int status, String message);
    }

    Exchange(ChannelHandlerContext ctx, HttpMethod method, String uri, HttpHeaders headers, byte[] body,
             boolean keepAlive) {
        this.ctx = ctx;
        this.method = method;
        int q = uri.indexOf('?');
        this.path = q < 0 ? uri : uri.substring(0, q);
        this.query = q < 0 ? "" : uri.substring(q + 1);
        this.headers = headers;
        this.body = body;
        this.keepAlive = keepAlive;
        this.afterResponse = new java.util.concurrent.CopyOnWriteArrayList<>();
        this.origin = this;
    }

    /**
     * The same connection with another request body and method; for adapters that rewrite a request and feed it to
     * another handler. The copy shares the channel, so streams, readiness and close callbacks are the connection's.
     */
    protected Exchange(Exchange original, HttpMethod method, byte[] body) {
        this.ctx = original.ctx;
        this.method = method;
        this.path = original.path;
        this.query = original.query;
        this.headers = original.headers;
        this.body = body;
        this.keepAlive = original.keepAlive;
        this.afterResponse = original.afterResponse;
        this.origin = original.origin;
    }

    /** The models this connection's request holds (set by the model leases; the connection's, for every copy). */
    private final java.util.Set<Object> heldModels = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /** The models this connection's request holds, to which its further leases may add. */
    public java.util.Set<Object> heldModels() {
        return origin.heldModels;
    }

    /** An error body as this connection's API words it (Ollama's, or OpenAI's under {@code /v1/}). */
    byte[] errorBody(int status, String message) {
        return origin.errorFormat.body(status, message);
    }

    /** How {@link #abort} words its error on this connection (the router sets it by path prefix). */
    void errorFormat(ErrorFormat format) {
        origin.errorFormat = java.util.Objects.requireNonNull(format);
    }

    /**
     * Runs {@code action} once the whole response has been handed to the socket or the connection closed (at once
     * when that has already happened): for what a request holds while it is answered, such as its model.
     */
    public void afterResponse(Runnable action) {
        if (origin != this) {
            // the connection's: a copy is never marked done itself, so an action added after the client left
            // (say, the lease of a model that finished loading then) would wait there for ever
            origin.afterResponse(action);
            return;
        }
        afterResponse.add(action);
        if (done.get()) {
            runAfterResponse();
        }
    }

    private void runAfterResponse() {
        for (Runnable r : afterResponse) {
            if (afterResponse.remove(r)) {
                try {
                    r.run();
                } catch (RuntimeException e) {
                    System.getLogger("gantry.server").log(System.Logger.Level.WARNING, "after-response action failed",
                            e);
                }
            }
        }
    }

    public HttpMethod method() {
        return method;
    }

    public String path() {
        return path;
    }

    /**
     * A {@code :name} segment of the route's path, as sent (not URL-decoded); empty when the route has none of
     * that name.
     */
    public java.util.Optional<String> pathParam(String name) {
        return java.util.Optional.ofNullable(pathParams.get(name));
    }

    void pathParams(java.util.Map<String, String> params) {
        this.pathParams = java.util.Map.copyOf(params);
    }

    /** True once a response (or its head) has been sent. */
    public boolean hasResponded() {
        return responded.get() || origin.responded.get();
    }

    public String query() {
        return query;
    }

    public HttpHeaders headers() {
        return headers;
    }

    public byte[] body() {
        return body;
    }

    /** The channel's event loop: the thread where stream chunks are produced and written. */
    public Executor eventLoop() {
        return ctx.executor();
    }

    public boolean isOpen() {
        return ctx.channel().isActive();
    }

    /** False while the client reads slower than the server writes. */
    public boolean isWritable() {
        return ctx.channel().isWritable();
    }

    public boolean isStreaming() {
        return streaming;
    }

    /** Runs {@code action} once when the connection closes (for example, the client went away). */
    public void onClose(Runnable action) {
        ctx.channel().closeFuture().addListener(f -> action.run());
    }

    public void send(int status, String contentType, byte[] content) {
        send(status, contentType, content, java.util.Map.of());
    }

    /**
     * {@link #send(int, String, byte[])} with extra headers, e.g. {@code Retry-After}; a {@code Connection: close}
     * among them closes the connection once the answer is written.
     */
    public void send(int status, String contentType, byte[] content, java.util.Map<String, String> extraHeaders) {
        if (!responded.compareAndSet(false, true)) {
            return;
        }
        ByteBuf buf = method.equals(HttpMethod.HEAD) ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(content);
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(status), buf);
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType);
        r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, content.length);
        if (status == 503) {
            // busy, not broken: tells clients and load balancers when to try again
            r.headers().set(HttpHeaderNames.RETRY_AFTER, RETRY_AFTER_SECONDS);
        }
        extraHeaders.forEach((k, v) -> r.headers().set(k, v));
        io.netty.channel.ChannelFuture f = ctx.writeAndFlush(r);
        if (keepAlive && r.headers().containsValue(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE, true)) {
            f.addListener(ChannelFutureListener.CLOSE);
        }
        finish(f);
    }

    /**
     * Refuses the request with 503, a {@code Retry-After} and {@code Connection: close}, so a client or balancer
     * goes elsewhere (used while the server drains).
     */
    public void sendUnavailable(String message, int retryAfterSeconds) {
        send(503, "application/json; charset=utf-8", origin.errorFormat.body(503, message), java.util.Map.of(
                HttpHeaderNames.RETRY_AFTER.toString(), Integer.toString(retryAfterSeconds),
                HttpHeaderNames.CONNECTION.toString(), HttpHeaderValues.CLOSE.toString()));
    }

    /**
     * Ends the request now, whatever it is doing, and closes the connection (which cancels its generation): a stream
     * gets a last {@code {"error": ...}} line, a request not yet answered a 503. Runs on the event loop, after any
     * write already queued there. For the end of a drain.
     */
    public void abort(String message) {
        if (origin != this) {
            origin.abort(message);
            return;
        }
        ErrorFormat format = errorFormat;
        ctx.executor().execute(() -> {
            if (done.get()) {
                return;
            }
            if (ended) {
                return; // its last bytes are on their way
            }
            aborted = true;
            if (streaming) {
                ended = true;
                ctx.write(new DefaultHttpContent(Unpooled.wrappedBuffer(format.streamed(message))));
                ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT).addListener(ChannelFutureListener.CLOSE);
            } else if (responded.compareAndSet(false, true)) {
                byte[] json = format.body(503, message);
                FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                        HttpResponseStatus.SERVICE_UNAVAILABLE, Unpooled.wrappedBuffer(json));
                r.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json; charset=utf-8");
                r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, json.length);
                r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                ctx.writeAndFlush(r).addListener(ChannelFutureListener.CLOSE);
            }
            // else a whole answer is already on its way: let it finish
        });
    }

    /**
     * Runs {@code action} once, when the whole response has been handed to the socket or the connection closed,
     * whichever comes first: what the server waits for when it drains.
     */
    public void whenDone(Runnable action) {
        whenDone = action;
        // removed again once done, so a long keep-alive connection does not collect one listener per request
        closeListener = f -> markDone();
        ctx.channel().closeFuture().addListener(closeListener);
        if (!ctx.channel().isOpen()) {
            markDone();
        }
    }

    /** Whether the response is complete or the connection closed. */
    public boolean isDone() {
        return origin.done.get();
    }

    private void markDone() {
        if (done.compareAndSet(false, true)) {
            io.netty.util.concurrent.GenericFutureListener<io.netty.util.concurrent.Future<? super Void>> l =
                    closeListener;
            if (l != null) {
                ctx.channel().closeFuture().removeListener(l);
            }
            whenDone.run();
            runAfterResponse();
        }
    }

    public void sendJson(int status, byte[] json) {
        send(status, "application/json; charset=utf-8", json);
    }

    /** An error as this connection's API words it (OpenAI's shape under {@code /v1/}, else Ollama's). */
    public void sendError(int status, String message) {
        if (streaming) {
            writeChunk(origin.errorFormat.streamed(message));
            endStream();
        } else {
            sendJson(status, errorBody(status, message));
        }
    }

    public void sendError(ApiException e) {
        sendError(e.status(), e.getMessage());
    }

    /** Starts a chunked 200 response. */
    public void startStream(String contentType) {
        if (!responded.compareAndSet(false, true)) {
            throw new IllegalStateException("response already started");
        }
        streaming = true;
        HttpResponse r = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType);
        HttpUtil.setTransferEncodingChunked(r, true);
        if (!keepAlive) {
            r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        }
        ctx.writeAndFlush(r);
    }

    public void writeChunk(byte[] data) {
        if (aborted) {
            return;
        }
        ctx.writeAndFlush(new DefaultHttpContent(Unpooled.wrappedBuffer(data)));
    }

    /** Queues a chunk without flushing; {@link #flush()} sends what is queued. */
    public void writeChunkLater(byte[] data) {
        if (aborted) {
            return;
        }
        ctx.write(new DefaultHttpContent(Unpooled.wrappedBuffer(data)));
    }

    public void flush() {
        ctx.flush();
    }

    public void endStream() {
        if (aborted) {
            return;
        }
        ended = true;
        finish(ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT));
    }

    private void finish(io.netty.channel.ChannelFuture f) {
        if (!keepAlive) {
            f.addListener(ChannelFutureListener.CLOSE);
        }
        f.addListener(x -> markDone());
    }

    public static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
