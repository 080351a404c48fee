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
 */
public final class Exchange {
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
    private volatile boolean streaming;

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
    }

    public HttpMethod method() {
        return method;
    }

    public String path() {
        return path;
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
        finish(ctx.writeAndFlush(r));
    }

    public void sendJson(int status, byte[] json) {
        send(status, "application/json; charset=utf-8", json);
    }

    public void sendError(int status, String message) {
        if (streaming) {
            writeChunk(Json.errorLine(message));
            endStream();
        } else {
            sendJson(status, Json.error(message));
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
        ctx.writeAndFlush(new DefaultHttpContent(Unpooled.wrappedBuffer(data)));
    }

    /** Queues a chunk without flushing; {@link #flush()} sends what is queued. */
    public void writeChunkLater(byte[] data) {
        ctx.write(new DefaultHttpContent(Unpooled.wrappedBuffer(data)));
    }

    public void flush() {
        ctx.flush();
    }

    public void endStream() {
        finish(ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT));
    }

    private void finish(io.netty.channel.ChannelFuture f) {
        if (!keepAlive) {
            f.addListener(ChannelFutureListener.CLOSE);
        }
    }

    public static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
