package dev.gantry.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * HTTP framing on raw sockets, where java.net.http would hide it: pipelined requests are answered in order (two
 * streams on one connection never mix), an HTTP/1.0 client gets no chunked encoding, and the headers RFC 9110 asks
 * for ({@code Date}, {@code Allow} on a 405, a 400 without {@code Host}, 431 for oversized headers).
 */
class HttpFramingTest {
    static TestServer server;

    @BeforeAll
    static void start() throws Exception {
        server = TestServer.start(TestServer.defaults().withNumParallel(4));
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @Test
    void pipelinedRequestsAreAnsweredInTheOrderSent() throws Exception {
        try (Socket s = open()) {
            send(s, request("POST", "/api/generate", "HTTP/1.1", "{\"model\":\"stories260k\",\"prompt\":\"Once\","
                    + "\"stream\":false,\"options\":{\"num_predict\":20,\"ignore_eos\":true}}")
                    + request("GET", "/api/version", "HTTP/1.1", null)
                    + request("GET", "/nothing", "HTTP/1.1", null)
                    + request("GET", "/v1/models", "HTTP/1.1", null));
            InputStream in = s.getInputStream();
            Response generate = Response.read(in);
            assertEquals(200, generate.status, generate.text());
            assertEquals(20, TestServer.json(generate.text()).get("eval_count").asInt(), generate.text());
            Response version = Response.read(in);
            assertTrue(version.text().contains("\"version\""), version.text());
            assertEquals(404, Response.read(in).status);
            Response models = Response.read(in);
            assertTrue(models.text().contains("\"object\":\"list\""), models.text());
        }
    }

    @Test
    void twoPipelinedStreamsDoNotMix() throws Exception {
        try (Socket s = open()) {
            send(s, request("POST", "/api/generate", "HTTP/1.1", "{\"model\":\"stories260k\",\"prompt\":\"Once\","
                    + "\"options\":{\"num_predict\":1500,\"ignore_eos\":true}}"));
            InputStream in = s.getInputStream();
            Response head = Response.readHead(in); // the first stream is under way when the second request comes
            send(s, request("POST", "/api/chat", "HTTP/1.1", "{\"model\":\"stories260k\",\"messages\":[{\"role\":"
                    + "\"user\",\"content\":\"Hi\"}],\"options\":{\"num_predict\":40,\"ignore_eos\":true}}"));
            Response first = Response.readBody(in, head);
            Response second = Response.read(in);
            assertEquals("chunked", first.headers.get("transfer-encoding"));
            List<JsonNode> a = TestServer.ndjson(first.text());
            List<JsonNode> b = TestServer.ndjson(second.text());
            a.forEach(l -> assertNotNull(l.get("response"), "a generate line: " + l));
            b.forEach(l -> assertNotNull(l.get("message"), "a chat line: " + l));
            assertEquals(1500, a.getLast().get("eval_count").asInt());
            assertEquals(40, b.getLast().get("eval_count").asInt());
        }
        assertEquals(0, OverloadTest.idle(server).kvCellsUsed());
    }

    @Test
    void anHttp10ClientGetsAStreamWithoutChunkedEncodingEndedByClose() throws Exception {
        try (Socket s = open()) {
            send(s, request("POST", "/api/generate", "HTTP/1.0", "{\"model\":\"stories260k\",\"prompt\":\"Once\","
                    + "\"options\":{\"num_predict\":12,\"ignore_eos\":true}}"));
            InputStream in = s.getInputStream();
            Response r = Response.readHead(in);
            assertEquals(200, r.status);
            assertFalse(r.headers.containsKey("transfer-encoding"), r.headers.toString());
            assertFalse(r.headers.containsKey("content-length"), r.headers.toString());
            String body = new String(in.readAllBytes(), StandardCharsets.UTF_8); // to the close
            List<JsonNode> lines = TestServer.ndjson(body);
            assertTrue(lines.getLast().get("done").asBoolean(), body);
            assertEquals(12, lines.getLast().get("eval_count").asInt(), body);
        }
    }

    @Test
    void anHttp10ClientThatKeepsTheConnectionIsToldSo() throws Exception {
        try (Socket s = open()) {
            send(s, "GET /api/version HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
            InputStream in = s.getInputStream();
            Response first = Response.read(in);
            assertEquals("keep-alive", first.headers.get("connection"));
            send(s, "GET /api/version HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
            assertEquals(200, Response.read(in).status, "the same connection serves the next request");
        }
    }

    @Test
    void responsesCarryTheRfcHeaders() throws Exception {
        try (Socket s = open()) {
            send(s, request("GET", "/api/version", "HTTP/1.1", null));
            Response r = Response.read(s.getInputStream());
            assertNotNull(r.headers.get("date"), r.headers.toString());
            assertTrue(r.headers.get("date").endsWith(" GMT"), r.headers.get("date"));
        }
        try (Socket s = open()) {
            send(s, request("GET", "/api/generate", "HTTP/1.1", null));
            Response r = Response.read(s.getInputStream());
            assertEquals(405, r.status);
            assertEquals("POST", r.headers.get("allow"));
            assertTrue(r.text().contains("\"error\""), r.text());
        }
        try (Socket s = open()) { // a blob's HEAD and its streamed upload's POST (the upload was left out)
            send(s, request("GET", "/api/blobs/sha256:" + "0".repeat(64), "HTTP/1.1", null));
            Response r = Response.read(s.getInputStream());
            assertEquals(405, r.status);
            assertEquals("HEAD, POST", r.headers.get("allow"));
        }
        try (Socket s = open()) {
            send(s, "GET /api/version HTTP/1.1\r\n\r\n");
            Response r = Response.read(s.getInputStream());
            assertEquals(400, r.status, r.text());
            assertTrue(r.text().contains("Host"), r.text());
        }
        try (Socket s = open()) {
            send(s, "GET /api/version HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n\r\n");
            Response r = Response.read(s.getInputStream());
            assertEquals(400, r.status, r.text());
            assertTrue(r.text().contains("more than one Host"), r.text());
        }
        try (Socket s = open()) {
            send(s, "GET /api/version HTTP/1.1\r\nHost: localhost\r\nX-Big: " + "a".repeat(200_000) + "\r\n\r\n");
            Response r = Response.read(s.getInputStream());
            assertEquals(431, r.status, r.text());
            assertTrue(r.text().contains("\"error\""), r.text());
        }
    }

    private static Socket open() throws IOException {
        Socket s = new Socket("127.0.0.1", server.gantry.port());
        s.setSoTimeout(60_000);
        return s;
    }

    private static String request(String method, String path, String version, String body) {
        StringBuilder r = new StringBuilder(method + " " + path + " " + version + "\r\nHost: localhost\r\n");
        if (body != null) {
            r.append("Content-Type: application/json\r\nContent-Length: ")
                    .append(body.getBytes(StandardCharsets.UTF_8).length).append("\r\n\r\n").append(body);
        } else {
            r.append("\r\n");
        }
        return r.toString();
    }

    private static void send(Socket s, String text) throws IOException {
        OutputStream out = s.getOutputStream();
        out.write(text.getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    /** One HTTP/1.1 response read off a stream: status, lower-cased headers and the body (de-chunked). */
    record Response(int status, Map<String, String> headers, byte[] body) {
        String text() {
            return new String(body, StandardCharsets.UTF_8);
        }

        static Response readHead(InputStream in) throws IOException {
            String status = line(in);
            Map<String, String> headers = new LinkedHashMap<>();
            for (String h; !(h = line(in)).isEmpty(); ) {
                int colon = h.indexOf(':');
                headers.put(h.substring(0, colon).trim().toLowerCase(Locale.ROOT), h.substring(colon + 1).trim());
            }
            return new Response(Integer.parseInt(status.split(" ")[1]), headers, new byte[0]);
        }

        static Response read(InputStream in) throws IOException {
            return readBody(in, readHead(in));
        }

        static Response readBody(InputStream in, Response head) throws IOException {
            ByteArrayOutputStream body = new ByteArrayOutputStream();
            if ("chunked".equals(head.headers.get("transfer-encoding"))) {
                for (int size; (size = Integer.parseInt(line(in).trim(), 16)) > 0; ) {
                    body.write(in.readNBytes(size));
                    line(in);
                }
                line(in); // the empty line after the last chunk
            } else {
                body.write(in.readNBytes(Integer.parseInt(head.headers.getOrDefault("content-length", "0"))));
            }
            return new Response(head.status, head.headers, body.toByteArray());
        }

        private static String line(InputStream in) throws IOException {
            List<Byte> bytes = new ArrayList<>();
            for (int b; (b = in.read()) != '\n'; ) {
                if (b < 0) {
                    throw new IOException("connection closed mid-line");
                }
                bytes.add((byte) b);
            }
            byte[] out = new byte[bytes.size()];
            for (int i = 0; i < out.length; i++) {
                out[i] = bytes.get(i);
            }
            return new String(out, StandardCharsets.UTF_8).stripTrailing();
        }
    }
}
