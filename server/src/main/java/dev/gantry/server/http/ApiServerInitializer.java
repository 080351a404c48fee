package dev.gantry.server.http;

import io.netty.channel.ChannelInitializer;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;

/**
 * The pipeline: HTTP codec, one request at a time per connection, the edge policy (host, origin, token, body limit),
 * streamed uploads, aggregation of the rest, then the handler.
 */
final class ApiServerInitializer extends ChannelInitializer<SocketChannel> {
    private final ApiRouter router;
    private final int maxBodyBytes;
    private final EdgePolicy policy;

    ApiServerInitializer(ApiRouter router, int maxBodyBytes, EdgePolicy policy) {
        this.router = router;
        this.maxBodyBytes = maxBodyBytes;
        this.policy = policy;
    }

    @Override
    protected void initChannel(SocketChannel ch) {
        ch.pipeline()
                .addLast("http", new HttpServerCodec())
                .addLast("order", new ResponseOrder())
                .addLast("edge", new EdgeHandler(policy, router::errorFormat))
                .addLast("stream", new StreamingBodyHandler(router))
                .addLast("aggregate", new JsonErrorAggregator(maxBodyBytes, router))
                .addLast("api", new ApiHandler(router));
    }

    /** Answers an oversized body with 413 in Ollama's error shape (Netty's own answer has no body). */
    private static final class JsonErrorAggregator extends HttpObjectAggregator {
        private final ApiRouter router;

        JsonErrorAggregator(int max, ApiRouter router) {
            super(max);
            this.router = router;
        }

        @Override
        protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
            Exchange.ErrorFormat format = oversized instanceof io.netty.handler.codec.http.HttpRequest req
                    ? router.errorFormat(new io.netty.handler.codec.http.QueryStringDecoder(req.uri()).path())
                    : Exchange.ErrorFormat.OLLAMA;
            byte[] json = format.body(413, "request body too large (limit " + maxContentLength() + " bytes)");
            FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                    HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, Unpooled.wrappedBuffer(json));
            r.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json; charset=utf-8");
            r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, json.length);
            ctx.writeAndFlush(r).addListener(ChannelFutureListener.CLOSE);
        }
    }
}
