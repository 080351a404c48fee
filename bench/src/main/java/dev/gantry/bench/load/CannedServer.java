package dev.gantry.bench.load;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A server that streams canned tokens as fast as it can write them, in Ollama's NDJSON: the load tool run against
 * it shows the tool's own ceiling, which must be well above any rate it reports for a real server.
 *
 * <p>usage: CannedServer PORT
 */
public final class CannedServer {
    private static final Pattern NUM_PREDICT = Pattern.compile("\"num_predict\"\\s*:\\s*(\\d+)");
    private static final byte[] LINE = "{\"model\":\"canned\",\"created_at\":\"2026-01-01T00:00:00.000000000Z\",\"response\":\" token\",\"done\":false}\n"
            .getBytes(StandardCharsets.UTF_8);

    public static void main(String[] args) throws IOException {
        HttpServer server = start(Integer.parseInt(args[0]));
        System.out.println("canned server on " + server.getAddress());
    }

    /** Starts the server on {@code port} of the loopback address (0: any free port). */
    static HttpServer start(int port) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 1024);
        server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        server.createContext("/api/generate", CannedServer::generate);
        server.createContext("/", CannedServer::root); // a 200 at the root, as Ollama's, for readiness checks
        server.start();
        return server;
    }

    static void root(HttpExchange ex) throws IOException {
        byte[] body = "Canned server is running".getBytes(StandardCharsets.UTF_8);
        ex.sendResponseHeaders(200, body.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(body);
        }
    }

    static void generate(HttpExchange ex) throws IOException {
        String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
        Matcher m = NUM_PREDICT.matcher(body);
        int n = m.find() ? Integer.parseInt(m.group(1)) : 128;
        ex.getResponseHeaders().set("Content-Type", "application/x-ndjson");
        ex.sendResponseHeaders(200, 0);
        try (OutputStream out = ex.getResponseBody()) {
            for (int i = 0; i < n; i++) {
                out.write(LINE);
                out.flush();
            }
            out.write(("{\"model\":\"canned\",\"done\":true,\"done_reason\":\"length\",\"eval_count\":" + n + "}\n")
                    .getBytes(StandardCharsets.UTF_8));
        }
    }
}
