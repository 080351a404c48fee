package dev.gantry.server.http;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.DateFormatter;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;
import java.util.Date;

/**
 * One request at a time per connection, right after the HTTP codec. A client may send its next request before the
 * answer to the last one (HTTP/1.1 pipelining); the handlers behind answer on other threads, so without this a quick
 * answer could overtake a slow one, or two streams mix in one body. Here a request that arrives while an answer is
 * still being written waits, with everything that follows it, and reading from the socket pauses until the answer's
 * last part has been written.
 *
 * <p>Also the response framing that depends on the request: every response gets a {@code Date}; an HTTP/1.0 client
 * gets no chunked encoding (it cannot read it): a stream's body ends where the connection closes, and a client that
 * asked to keep the connection is told it is kept. Event loop only, one instance per connection.
 */
final class ResponseOrder extends ChannelDuplexHandler {
    /** Messages of requests that came while an answer was being written, in order. */
    private final ArrayDeque<Object> waiting = new ArrayDeque<>();
    /** A request was passed on and its answer's last part is not written yet. */
    private boolean answering;
    /** The request being answered came as HTTP/1.0. */
    private boolean http10;
    private boolean http10KeepAlive;
    /** The answer being written is an HTTP/1.0 stream: the connection closes after it. */
    private boolean closeAfterAnswer;

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!waiting.isEmpty() || (answering && msg instanceof HttpRequest)) {
            waiting.addLast(msg);
            ctx.channel().config().setAutoRead(false); // no more until the waiting requests are under way
            return;
        }
        pass(ctx, msg);
    }

    private void pass(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof HttpRequest req) {
            answering = true;
            http10 = req.protocolVersion().equals(HttpVersion.HTTP_1_0);
            http10KeepAlive = http10 && HttpUtil.isKeepAlive(req);
        }
        ctx.fireChannelRead(msg); // the body of the request being answered passes as it comes
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (msg instanceof HttpResponse r) {
            r.headers().set(HttpHeaderNames.DATE, DateFormatter.format(new Date()));
            if (http10) {
                http10Framing(r);
            }
        }
        boolean last = msg instanceof LastHttpContent // a 100 Continue is not the answer
                && !(msg instanceof HttpResponse r && r.status().codeClass() == HttpStatusClass.INFORMATIONAL);
        if (!last) {
            ctx.write(msg, promise);
            return;
        }
        if (closeAfterAnswer) {
            closeAfterAnswer = false;
            ctx.write(msg, promise.unvoid()).addListener(ChannelFutureListener.CLOSE);
        } else {
            ctx.write(msg, promise);
        }
        answering = false;
        if (!waiting.isEmpty()) {
            // after this write has gone down the pipeline: the next answer's bytes follow this one's
            ctx.executor().execute(() -> passWaiting(ctx));
        }
    }

    private void http10Framing(HttpResponse r) {
        if (HttpUtil.isTransferEncodingChunked(r)) {
            // a stream: unframed, ended by closing the connection
            r.headers().remove(HttpHeaderNames.TRANSFER_ENCODING);
            r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            closeAfterAnswer = !(r instanceof LastHttpContent);
        } else if (http10KeepAlive && !r.headers().contains(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE, true)) {
            r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
        }
    }

    /** Passes on waiting messages up to and with the next request's whole body or until an answer is under way. */
    private void passWaiting(ChannelHandlerContext ctx) {
        if (!ctx.channel().isOpen()) {
            releaseWaiting();
            return;
        }
        while (!waiting.isEmpty() && !(answering && waiting.peekFirst() instanceof HttpRequest)) {
            pass(ctx, waiting.pollFirst());
        }
        if (waiting.isEmpty()) {
            ctx.fireChannelReadComplete();
            ctx.channel().config().setAutoRead(true);
        }
    }

    private void releaseWaiting() {
        for (Object m; (m = waiting.pollFirst()) != null; ) {
            ReferenceCountUtil.release(m);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        releaseWaiting();
        super.channelInactive(ctx);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        releaseWaiting();
    }
}
