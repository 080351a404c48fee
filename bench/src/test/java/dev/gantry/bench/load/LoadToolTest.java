package dev.gantry.bench.load;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.net.URI;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The load tool's figures: the steady window's rate, and a whole run against the canned server. */
class LoadToolTest {

    private static final long S = 1_000_000_000L;

    @Test
    void theSteadyRateCountsOnlyWhileEveryClientIsBusy() {
        // client 0: tokens at 1..10 s; client 1: first token at 3 s, tokens to 12 s. Window: 3 s to 10 s.
        long[] a = {1 * S, 2 * S, 4 * S, 6 * S, 8 * S, 10 * S};
        long[] b = {3 * S, 5 * S, 7 * S, 9 * S, 11 * S, 12 * S};
        double rate = LoadTool.steadyRate(List.of(a, b), new long[] {1 * S, 3 * S}, new long[] {10 * S, 12 * S});
        // in (3, 10]: 4, 6, 8, 10 and 5, 7, 9: 7 tokens in 7 s
        assertEquals(1.0, rate, 1e-9);
    }

    @Test
    void noWindowGivesZero() {
        long[] a = {1 * S, 2 * S};
        long[] b = {3 * S, 4 * S};
        assertEquals(0, LoadTool.steadyRate(List.of(a, b), new long[] {1 * S, 3 * S}, new long[] {2 * S, 4 * S}),
                "client 0 ended before client 1 began");
        assertEquals(0, LoadTool.steadyRate(List.of(a), new long[] {1 * S, 0}, new long[] {2 * S, 0}),
                "a client got no token");
    }

    @Test
    void aRunAgainstTheCannedServerReportsBothRates() throws Exception {
        HttpServer server = CannedServer.start(0);
        try {
            URI url = URI.create("http://127.0.0.1:" + server.getAddress().getPort());
            LoadTool.Result r = LoadTool.run(new LoadTool.Options(List.of(url), "ollama", "canned", 4, 5, 32, 20,
                    "test", null, true));
            assertEquals(20, r.ok());
            assertEquals(0, r.failed());
            assertEquals(20 * 32, r.tokens());
            assertTrue(r.tokensPerSecond() > 0);
            assertTrue(r.steadyTokensPerSecond() > 0, r.json());
            assertTrue(r.json().contains("\"steady_tokens_per_second\":"), r.json());
        } finally {
            server.stop(0);
        }
    }
}
