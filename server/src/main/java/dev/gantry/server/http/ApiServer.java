package dev.gantry.server.http;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/** Binds the HTTP server and shuts it down. One instance per listening address. */
public final class ApiServer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("gantry.server");

    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    private final Channel channel;

    private ApiServer(EventLoopGroup boss, EventLoopGroup workers, Channel channel) {
        this.boss = boss;
        this.workers = workers;
        this.channel = channel;
    }

    /**
     * Starts listening.
     *
     * @param ioThreads event-loop threads; they only parse and write, inference runs elsewhere
     */
    public static ApiServer start(String host, int port, ApiRouter router, int ioThreads, int maxBodyBytes)
            throws InterruptedException {
        return start(host, port, router, ioThreads, maxBodyBytes, EdgePolicy.forListener(host, false,
                java.util.Optional.empty(), OriginMatcher.of(java.util.List.of()),
                new BodyLimits(maxBodyBytes, java.util.Map.of())));
    }

    /** Starts listening, with {@code policy} applied to every request before it is read whole. */
    public static ApiServer start(String host, int port, ApiRouter router, int ioThreads, int maxBodyBytes,
                                  EdgePolicy policy) throws InterruptedException {
        EventLoopGroup boss = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        EventLoopGroup workers = new MultiThreadIoEventLoopGroup(ioThreads, NioIoHandler.newFactory());
        try {
            Channel ch = new ServerBootstrap()
                    .group(boss, workers)
                    .channel(NioServerSocketChannel.class)
                    .option(ChannelOption.SO_BACKLOG, 1024)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(32 * 1024, 64 * 1024))
                    .childHandler(new ApiServerInitializer(router, maxBodyBytes, policy))
                    .bind(host, port).sync().channel();
            LOG.log(System.Logger.Level.INFO, "listening on {0}", ch.localAddress());
            return new ApiServer(boss, workers, ch);
        } catch (RuntimeException | InterruptedException e) {
            boss.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            workers.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            throw e;
        }
    }

    public int port() {
        return ((InetSocketAddress) channel.localAddress()).getPort();
    }

    @Override
    public void close() {
        channel.close().syncUninterruptibly();
        boss.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        workers.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
