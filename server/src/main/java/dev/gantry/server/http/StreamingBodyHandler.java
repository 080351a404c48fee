package dev.gantry.server.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import java.nio.ByteBuffer;

/**
 * Sits before the body aggregator and takes the requests routed with {@link ApiRouter#streamingRoute} (blob
 * uploads, many gigabytes): their body goes chunk by chunk to the handler's {@link ApiRouter.BodySink} instead of
 * being collected in memory under the JSON body limit. Every other request passes through untouched.
 *
 * <p>Chunks are written on the event loop: a sink appends to a file and updates a digest, which costs about what
 * reading the socket does. One instance per connection; the event loop is its only thread.
 */
final class StreamingBodyHandler extends ChannelInboundHandlerAdapter {
    private final ApiRouter router;
    private Exchange exchange;
    private ApiRouter.BodySink sink;
    /** True while the rest of a refused body is read and dropped. */
    private boolean discarding;

    StreamingBodyHandler(ApiRouter router) {
        this.router = router;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof HttpRequest req && !(msg instanceof FullHttpRequest)) {
            Exchange ex = new Exchange(ctx, req.method(), req.uri(), req.headers(), new byte[0],
                    HttpUtil.isKeepAlive(req));
            ApiRouter.StreamingHandler h = router.streamingHandler(req.method(), ex.path(), ex);
            if (h == null) {
                ctx.fireChannelRead(msg);
                return;
            }
            start(ctx, req, ex, h);
            return;
        }
        if (msg instanceof HttpContent c && (sink != null || discarding)) {
            try {
                if (sink != null) {
                    write(c);
                }
                if (c instanceof LastHttpContent) {
                    finish();
                }
            } finally {
                c.release();
            }
            return;
        }
        ctx.fireChannelRead(msg);
    }

    private void start(ChannelHandlerContext ctx, HttpRequest req, Exchange ex, ApiRouter.StreamingHandler h) {
        exchange = ex;
        discarding = true;
        if (!req.decoderResult().isSuccess()) {
            ex.sendError(400, "malformed HTTP request");
            return;
        }
        try {
            sink = h.open(ex);
        } catch (Throwable t) {
            ApiRouter.fail(ex, t);
            return;
        }
        discarding = false;
        if (HttpUtil.is100ContinueExpected(req)) {
            ctx.writeAndFlush(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE));
        }
    }

    private void write(HttpContent c) {
        try {
            for (ByteBuffer b : c.content().nioBuffers()) {
                sink.write(b);
            }
        } catch (Throwable t) {
            sink.abort();
            sink = null;
            discarding = true;
            ApiRouter.fail(exchange, t);
        }
    }

    private void finish() {
        ApiRouter.BodySink s = sink;
        Exchange ex = exchange;
        sink = null;
        exchange = null;
        discarding = false;
        if (s != null) {
            try {
                s.end(ex);
            } catch (Throwable t) {
                s.abort();
                ApiRouter.fail(ex, t);
            }
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        if (sink != null) {
            sink.abort();
            sink = null;
        }
        super.channelInactive(ctx);
    }
}
