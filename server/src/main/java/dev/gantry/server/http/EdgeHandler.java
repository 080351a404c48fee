package dev.gantry.server.http;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;

/**
 * Applies the {@link EdgePolicy} to each request as its head arrives, before its body is gathered: a foreign
 * browser origin or a foreign {@code Host} gets 403, a missing or wrong token 401, a body over the path's limit
 * 413, all in Ollama's error shape; CORS preflights are answered here; and every response to an allowed
 * cross-origin request gets its {@code Access-Control-Allow-Origin}. One instance per connection; runs on the
 * connection's event loop, so it needs no locks.
 */
final class EdgeHandler extends ChannelDuplexHandler {
    static final String ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS";
    /** The headers Ollama lets browsers send, including the OpenAI client library's own. */
    static final String ALLOW_HEADERS = String.join(", ", "Authorization", "Content-Type", "User-Agent", "Accept",
            "X-Requested-With", "X-Stainless-Lang", "X-Stainless-Package-Version", "X-Stainless-OS",
            "X-Stainless-Arch", "X-Stainless-Retry-Count", "X-Stainless-Runtime", "X-Stainless-Runtime-Version",
            "X-Stainless-Async", "X-Stainless-Helper-Method", "X-Stainless-Poll-Helper",
            "X-Stainless-Custom-Poll-Interval", "X-Stainless-Timeout", "OpenAI-Beta");

    private final EdgePolicy policy;
    /** The allowed origin (or "" for none) of each request passed on and not yet answered, in order. */
    private final ArrayDeque<String> pendingOrigins = new ArrayDeque<>();
    /** Set while the body of a refused request is being skipped; sent once it has been read. */
    private FullHttpResponse refusal;
    private boolean skipping;
    /** Body bytes of the request being passed on, and its limit (for bodies without a Content-Length). */
    private long bodyBytes;
    private long bodyLimit = Long.MAX_VALUE;
    private boolean closed;
    /** A connection refused for its body's size reads on after the answer while data comes (see closeWith). */
    static final long LINGER_IDLE_MILLIS = 2_000;
    static final long LINGER_MAX_MILLIS = 30_000;
    /** When the last message arrived after the connection was refused (System.nanoTime; event loop only). */
    private long lastRead;

    /** The error shape of each path's API (OpenAI's under {@code /v1/}), for the refusals made here. */
    private final java.util.function.Function<String, Exchange.ErrorFormat> formats;
    /** The current request's error shape (event loop only). */
    private Exchange.ErrorFormat format = Exchange.ErrorFormat.OLLAMA;

    EdgeHandler(EdgePolicy policy) {
        this(policy, path -> Exchange.ErrorFormat.OLLAMA);
    }

    EdgeHandler(EdgePolicy policy, java.util.function.Function<String, Exchange.ErrorFormat> formats) {
        this.policy = policy;
        this.formats = formats;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (closed) {
            lastRead = System.nanoTime(); // a refused body still coming: the connection lingers
            ReferenceCountUtil.release(msg);
            return;
        }
        if (msg instanceof HttpRequest req) {
            onRequest(ctx, req);
            return;
        }
        if (msg instanceof HttpContent c) {
            if (skipping) {
                boolean last = c instanceof LastHttpContent;
                c.release();
                if (last) {
                    skipping = false;
                    FullHttpResponse r = refusal;
                    refusal = null;
                    send(ctx, r);
                }
                return;
            }
            bodyBytes += c.content().readableBytes();
            if (bodyBytes > bodyLimit) {
                c.release();
                closeWith(ctx, tooLarge(format, bodyLimit));
                return;
            }
        }
        ctx.fireChannelRead(msg);
    }

    private void onRequest(ChannelHandlerContext ctx, HttpRequest req) {
        String path = path(req.uri());
        format = formats.apply(path);
        String host = req.headers().get(HttpHeaderNames.HOST);
        String origin = req.headers().get(HttpHeaderNames.ORIGIN);
        boolean last = req instanceof LastHttpContent;
        boolean keepAlive = HttpUtil.isKeepAlive(req);

        if (!req.decoderResult().isSuccess()) {
            // the codec drops everything after a request it could not read: answer and end the connection
            Throwable cause = req.decoderResult().cause();
            ReferenceCountUtil.release(req);
            closeWith(ctx, malformed(cause));
            return;
        }
        if (host == null && !req.protocolVersion().equals(HttpVersion.HTTP_1_0)) {
            refuse(ctx, req, last, error(format, HttpResponseStatus.BAD_REQUEST, "missing required Host header",
                    keepAlive));
            return;
        }
        if (req.headers().getAll(HttpHeaderNames.HOST).size() > 1) {
            // RFC 9112: a request with more than one Host is refused (a second could slip past the host check)
            refuse(ctx, req, last, error(format, HttpResponseStatus.BAD_REQUEST, "more than one Host header",
                    keepAlive));
            return;
        }
        if (!policy.originAllowed(origin, host)) {
            refuse(ctx, req, last, error(format, HttpResponseStatus.FORBIDDEN, "origin " + printable(origin)
                    + " is not allowed; add it to OLLAMA_ORIGINS", keepAlive));
            return;
        }
        boolean crossOrigin = origin != null && !origin.isEmpty();
        if (req.method().equals(HttpMethod.OPTIONS) && crossOrigin
                && req.headers().contains(HttpHeaderNames.ACCESS_CONTROL_REQUEST_METHOD)) {
            refuse(ctx, req, last, preflight(origin, keepAlive)); // not a refusal: answered here, body skipped alike
            return;
        }
        if (!policy.hostAllowed(host)) {
            refuse(ctx, req, last, error(format, HttpResponseStatus.FORBIDDEN, "host " + printable(host)
                    + " is not allowed while Gantry listens on loopback", keepAlive));
            return;
        }
        if (!policy.authorized(path, req.headers().get(HttpHeaderNames.AUTHORIZATION))) {
            FullHttpResponse r = error(format, HttpResponseStatus.UNAUTHORIZED, "unauthorized", keepAlive);
            r.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer");
            allowOrigin(r, crossOrigin ? origin : "");
            refuse(ctx, req, last, r);
            return;
        }
        long limit = policy.bodyLimits().limitFor(path);
        long declared = HttpUtil.getContentLength(req, -1L);
        if (declared > limit) {
            if (last) {
                ReferenceCountUtil.release(req);
            }
            closeWith(ctx, tooLarge(format, limit));
            return;
        }
        bodyBytes = 0;
        bodyLimit = limit;
        pendingOrigins.addLast(crossOrigin ? origin : "");
        ctx.fireChannelRead(req);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (msg instanceof HttpResponse r && r.status().code() >= 200) {
            String origin = pendingOrigins.pollFirst();
            if (origin != null) {
                allowOrigin(r, origin);
            }
        }
        ctx.write(msg, promise);
    }

    /**
     * Answers now when the request has no body left to read, else after skipping it (so the reply is read). A
     * client that waits for {@code 100 Continue} will not send its body: it is answered now and the connection
     * closed, since what it sends next cannot be known.
     */
    private void refuse(ChannelHandlerContext ctx, HttpRequest req, boolean last, FullHttpResponse r) {
        boolean expectsContinue = HttpUtil.is100ContinueExpected(req);
        ReferenceCountUtil.release(req);
        if (last) {
            send(ctx, r);
        } else if (expectsContinue) {
            closeWith(ctx, r);
        } else {
            refusal = r;
            skipping = true;
        }
    }

    private static void send(ChannelHandlerContext ctx, FullHttpResponse r) {
        if (r.headers().contains(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE, true)) {
            ctx.writeAndFlush(r).addListener(ChannelFutureListener.CLOSE);
        } else {
            ctx.writeAndFlush(r);
        }
    }

    /**
     * Sends {@code r} and ends the connection gently: our side is shut after the answer, and what the client still
     * sends (the rest of a body too large to read) is read and dropped until the client closes, sends nothing for
     * {@link #LINGER_IDLE_MILLIS}, or {@link #LINGER_MAX_MILLIS} have passed. Closing with its body unread in our
     * buffers would reset the connection under the client's writes, and a reset loses the answer for most clients.
     */
    private void closeWith(ChannelHandlerContext ctx, FullHttpResponse r) {
        closed = true;
        r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        ctx.writeAndFlush(r).addListener(sent -> {
            if (!sent.isSuccess() || !(ctx.channel() instanceof DuplexChannel channel)) {
                ctx.close();
                return;
            }
            long start = System.nanoTime();
            lastRead = start;
            channel.config().setAutoRead(true);
            channel.shutdownOutput();
            var check = ctx.executor().scheduleAtFixedRate(() -> {
                long now = System.nanoTime();
                if (now - lastRead > TimeUnit.MILLISECONDS.toNanos(LINGER_IDLE_MILLIS)
                        || now - start > TimeUnit.MILLISECONDS.toNanos(LINGER_MAX_MILLIS)) {
                    ctx.close();
                }
            }, LINGER_IDLE_MILLIS / 4, LINGER_IDLE_MILLIS / 4, TimeUnit.MILLISECONDS);
            channel.closeFuture().addListener(closedNow -> check.cancel(false));
        });
    }

    private static FullHttpResponse preflight(String origin, boolean keepAlive) {
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.NO_CONTENT);
        allowOrigin(r, origin);
        r.headers().set(HttpHeaderNames.ACCESS_CONTROL_ALLOW_METHODS, ALLOW_METHODS);
        r.headers().set(HttpHeaderNames.ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS);
        r.headers().set(HttpHeaderNames.ACCESS_CONTROL_MAX_AGE, "43200");
        if (!keepAlive) {
            r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        }
        return r;
    }

    private static void allowOrigin(HttpResponse r, String origin) {
        if (!origin.isEmpty()) {
            r.headers().set(HttpHeaderNames.ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            r.headers().add(HttpHeaderNames.VARY, HttpHeaderNames.ORIGIN);
        }
    }

    private static FullHttpResponse tooLarge(Exchange.ErrorFormat format, long limit) {
        return error(format, HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE,
                "request body too large (limit " + limit + " bytes)",
                false);
    }

    /** The answer to a request the codec could not read: its headers or request line too long, or malformed. */
    static FullHttpResponse malformed(Throwable cause) {
        if (cause instanceof TooLongHttpHeaderException) {
            return error(HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "request headers too large", false);
        }
        if (cause instanceof TooLongHttpLineException) {
            return error(HttpResponseStatus.REQUEST_URI_TOO_LONG, "request line too long", false);
        }
        return error(HttpResponseStatus.BAD_REQUEST, "malformed HTTP request", false);
    }

    static FullHttpResponse error(HttpResponseStatus status, String message, boolean keepAlive) {
        return error(Exchange.ErrorFormat.OLLAMA, status, message, keepAlive);
    }

    static FullHttpResponse error(Exchange.ErrorFormat format, HttpResponseStatus status, String message,
                                  boolean keepAlive) {
        byte[] json = format.body(status.code(), message);
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, Unpooled.wrappedBuffer(json));
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json; charset=utf-8");
        r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, json.length);
        if (!keepAlive) {
            r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        }
        return r;
    }

    private static String path(String uri) {
        int q = uri.indexOf('?');
        String p = q < 0 ? uri : uri.substring(0, q);
        return p.length() > 1 && p.endsWith("/") && !p.startsWith("/api/blobs/") ? p.substring(0, p.length() - 1) : p;
    }

    private static String printable(String s) {
        if (s == null) {
            return "(none)";
        }
        StringBuilder b = new StringBuilder("\"");
        s.codePoints().limit(100).forEach(c -> b.append(c >= 0x20 && c < 0x7f && c != '"' ? Character.toString(c) : "?"));
        return b.append('"').toString();
    }

}
