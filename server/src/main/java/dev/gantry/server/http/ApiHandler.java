package dev.gantry.server.http;

import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.buffer.Unpooled;

/**
 * Turns each aggregated request into an {@link Exchange} and hands it to the router. Runs on the event loop and
 * does no work of its own there: the router dispatches to other threads.
 */
final class ApiHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
    private static final System.Logger LOG = System.getLogger("gantry.server");
    private final ApiRouter router;

    ApiHandler(ApiRouter router) {
        this.router = router;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
        if (!req.decoderResult().isSuccess()) { // EdgeHandler answers these first; here in case it is bypassed
            ctx.writeAndFlush(EdgeHandler.malformed(req.decoderResult().cause()))
                    .addListener(ChannelFutureListener.CLOSE);
            return;
        }
        byte[] body = ByteBufUtil.getBytes(req.content());
        Exchange ex = new Exchange(ctx, req.method(), req.uri(), req.headers(), body, HttpUtil.isKeepAlive(req));
        router.dispatch(ex);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof TooLongFrameException || cause.getCause() instanceof TooLongFrameException) {
            sendAndClose(ctx, HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, "request body too large");
            return;
        }
        LOG.log(System.Logger.Level.DEBUG, "connection error", cause);
        ctx.close();
    }

    private static void sendAndClose(ChannelHandlerContext ctx, HttpResponseStatus status, String message) {
        byte[] json = Json.error(message);
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, Unpooled.wrappedBuffer(json));
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json; charset=utf-8");
        r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, json.length);
        ctx.writeAndFlush(r).addListener(ChannelFutureListener.CLOSE);
    }
}
