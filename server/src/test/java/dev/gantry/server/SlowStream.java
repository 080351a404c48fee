package dev.gantry.server;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * A client that starts a long stream and then stops reading it, over a plain socket with a small receive buffer:
 * once the kernel's buffers and the server's outbound buffer fill, the server's channel is not writable and the
 * runner skips the sequence, so the generation stays in flight, paused, for as long as the test likes. {@link #finish}
 * reads the rest. For tests of draining and of full queues.
 */
final class SlowStream implements AutoCloseable {
    /**
     * A generation long enough to fill the buffers: up to the tiny model's whole context (not shifted), end-of-text
     * ignored.
     */
    static final String LONG_GENERATION = "{\"model\":\"stories260k\",\"prompt\":\"Once upon a time\",\"shift\":false,"
            + "\"options\":{\"num_predict\":-1,\"ignore_eos\":true}}";

    private final Socket socket;
    private final InputStream in;
    private final ByteArrayOutputStream received = new ByteArrayOutputStream();
    private int bodyStart = -1;

    private SlowStream(Socket socket) throws IOException {
        this.socket = socket;
        this.in = socket.getInputStream();
    }

    /** Sends {@code body} to {@code path} and returns once the response's headers and a first line have arrived. */
    static SlowStream open(int port, String path, String body) throws IOException {
        Socket s = new Socket();
        s.setReceiveBufferSize(2048);
        s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        s.setSoTimeout(120_000);
        byte[] json = body.getBytes(StandardCharsets.UTF_8);
        String request = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\nContent-Type: application/json"
                + "\r\nContent-Length: " + json.length + "\r\nConnection: close\r\n\r\n";
        s.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
        s.getOutputStream().write(json);
        s.getOutputStream().flush();
        SlowStream stream = new SlowStream(s);
        stream.readFirstLine();
        return stream;
    }

    private void readFirstLine() throws IOException {
        while (true) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("connection closed before the first line: " + text());
            }
            received.write(b);
            String text = text();
            if (bodyStart < 0 && text.endsWith("\r\n\r\n")) {
                bodyStart = received.size();
            } else if (bodyStart >= 0 && b == '\n' && text.endsWith("}\n")) {
                return;
            }
        }
    }

    private String text() {
        return received.toString(StandardCharsets.UTF_8);
    }

    /** The status line and headers. */
    String head() {
        return new String(received.toByteArray(), 0, bodyStart, StandardCharsets.UTF_8);
    }

    /** Reads to the end of the response; returns its body's NDJSON lines, de-chunked. */
    List<String> finish() throws IOException {
        in.transferTo(received);
        byte[] all = received.toByteArray();
        return dechunk(all, bodyStart).lines().filter(l -> !l.isBlank()).toList();
    }

    private static String dechunk(byte[] b, int from) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int i = from;
        while (i < b.length) {
            int eol = i;
            while (eol + 1 < b.length && !(b[eol] == '\r' && b[eol + 1] == '\n')) {
                eol++;
            }
            if (eol + 1 >= b.length) {
                break;
            }
            int size = Integer.parseInt(new String(b, i, eol - i, StandardCharsets.US_ASCII).strip(), 16);
            if (size == 0) {
                break;
            }
            out.write(b, eol + 2, size);
            i = eol + 2 + size + 2;
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
