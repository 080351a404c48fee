package dev.gantry.server.ops;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.function.Supplier;

/**
 * HAProxy's agent check: a TCP port where each connection gets one line, such as {@code up ready 73%}, and is
 * closed. HAProxy sets the server's weight to that share of its configured weight, so a busier Gantry gets fewer
 * new requests, and {@code drain} stops new ones while in-flight requests finish. One accepting thread; each answer
 * is a few bytes written at once, so connections never queue behind each other for long.
 */
public final class LoadAgent implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("gantry.agent");

    private final ServerSocket socket;
    private final Supplier<String> report;
    private final Thread acceptor;

    private LoadAgent(ServerSocket socket, Supplier<String> report) {
        this.socket = socket;
        this.report = report;
        this.acceptor = Thread.ofPlatform().name("haproxy-agent").daemon(true).unstarted(this::serve);
    }

    /** Listens on {@code host:port} (port 0 picks a free one) and answers every connection with {@code report}. */
    public static LoadAgent start(String host, int port, Supplier<String> report) {
        try {
            ServerSocket s = new ServerSocket();
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(InetAddress.getByName(host), port), 64);
            LoadAgent agent = new LoadAgent(s, report);
            agent.acceptor.start();
            LOG.log(System.Logger.Level.INFO, "HAProxy agent check on {0}", s.getLocalSocketAddress());
            return agent;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot listen for the HAProxy agent check on " + host + ":" + port, e);
        }
    }

    public int port() {
        return socket.getLocalPort();
    }

    private void serve() {
        while (!socket.isClosed()) {
            try (Socket c = socket.accept()) {
                c.setSoTimeout(1000);
                OutputStream out = c.getOutputStream();
                out.write((report.get() + "\n").getBytes(StandardCharsets.US_ASCII));
                out.flush();
                c.shutdownOutput();
            } catch (SocketException e) {
                if (socket.isClosed()) {
                    return;
                }
                LOG.log(System.Logger.Level.DEBUG, "agent connection failed", e);
            } catch (IOException | RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "agent check answer failed", e);
            }
        }
    }

    @Override
    public void close() {
        try {
            socket.close();
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "closing the agent socket", e);
        }
    }
}
