package dev.gantry.server.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** The agent-check protocol: one line per connection, a weight that falls as load rises. */
class LoadAgentTest {
    @Test
    void busierMeansLighter() {
        assertEquals(100, AgentReport.weight(0, 64));
        assertEquals(100, AgentReport.weight(0, 0));
        assertEquals(50, AgentReport.weight(64, 64));
        assertEquals(33, AgentReport.weight(128, 64));
        assertEquals(1, AgentReport.weight(1_000_000, 1));
        int last = 101;
        for (int busy = 0; busy <= 256; busy += 16) {
            int w = AgentReport.weight(busy, 64);
            assertTrue(w <= last && w >= 1, busy + " -> " + w);
            last = w;
        }
    }

    @Test
    void answersEachConnectionWithOneLine() throws Exception {
        AtomicReference<String> state = new AtomicReference<>("up ready 77%");
        try (LoadAgent agent = LoadAgent.start("127.0.0.1", 0, state::get)) {
            assertEquals("up ready 77%", read(agent.port()));
            state.set("drain");
            assertEquals("drain", read(agent.port()));
        }
    }

    private static String read(int port) throws Exception {
        try (Socket s = new Socket("127.0.0.1", port);
             BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII))) {
            s.setSoTimeout(10_000);
            String line = in.readLine();
            assertEquals(null, in.readLine(), "then the agent closes");
            return line;
        }
    }
}
