package dev.gantry.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The load options of an embedding request apply, as Ollama's embed handler passes them to its scheduler:
 * {@code num_ctx} sets the context the input is cut to (or refused beyond), on {@code /api/embed} and on
 * {@code /api/embeddings}. They were validated and then dropped, so the model ran at its default context.
 */
class EmbedOptionsTest {
    static TestServer server;
    static final String TEXT = "Once upon a time there was a little girl named Lily who loved to play outside in the "
            + "sun. One day she found a big red ball in the park and she played with it all day long.";

    @BeforeAll
    static void start() throws Exception {
        server = TestServer.start(TestServer.defaults().withContextLength(256));
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @Test
    void numCtxSetsTheContextTheInputIsCutTo() throws Exception {
        server.post("/api/generate", "{\"model\":\"stories260k\"}"); // load
        int tokens = server.model().tokenize(TEXT, true, true).length;
        assertTrue(tokens > 32 && tokens < 256, "the text is " + tokens + " tokens");

        HttpResponse<String> refused = server.post("/api/embed", "{\"model\":\"stories260k\",\"input\":\"" + TEXT
                + "\",\"truncate\":false,\"options\":{\"num_ctx\":32}}");
        assertEquals(400, refused.statusCode(), refused.body());
        assertTrue(refused.body().contains("exceeds the context length"), refused.body());

        HttpResponse<String> cut = server.post("/api/embed", "{\"model\":\"stories260k\",\"input\":\"" + TEXT
                + "\",\"options\":{\"num_ctx\":32}}");
        assertEquals(200, cut.statusCode(), cut.body());
        assertEquals(32, TestServer.json(cut.body()).get("prompt_eval_count").intValue(), cut.body());
        JsonNode ps = TestServer.json(server.get("/api/ps").body());
        assertEquals(32, ps.at("/models/0/context_length").intValue(), ps.toString());

        HttpResponse<String> older = server.post("/api/embeddings", "{\"model\":\"stories260k\",\"prompt\":\"" + TEXT
                + "\",\"options\":{\"num_ctx\":64}}");
        assertEquals(200, older.statusCode(), older.body());
        assertEquals(64, TestServer.json(server.get("/api/ps").body()).at("/models/0/context_length").intValue());
    }
}
