package dev.gantry.server.api.ollama;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gantry.server.http.Json;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The hand-written line encoder writes what Jackson writes for the same chunk. */
class ChunkEncoderTest {
    @ParameterizedTest
    @ValueSource(strings = {" Once", "", "say \"hi\"\n\ttab", "back\\slash", "中文 é 😀", "\u0001\u001f ctl", "</script>"})
    void generateLinesMatchJackson(String text) throws Exception {
        byte[] line = new ChunkEncoder("stories260k:latest", false).line(text);
        assertEquals('\n', line[line.length - 1]);
        ObjectNode mine = (ObjectNode) Json.MAPPER.readTree(new String(line, StandardCharsets.UTF_8));
        ObjectNode jackson = (ObjectNode) Json.MAPPER.readTree(Json.write(new Responses.GenerateChunk(
                "stories260k:latest", "x", text, null, false, null, null, null, null, null, null, null, null, null)));
        assertTimestamp(mine.remove("created_at"));
        jackson.remove("created_at");
        assertEquals(jackson, mine);
    }

    @ParameterizedTest
    @ValueSource(strings = {" Once", "line\nbreak", "😀"})
    void chatLinesMatchJackson(String text) throws Exception {
        byte[] line = new ChunkEncoder("m\"odel", true).line(text);
        ObjectNode mine = (ObjectNode) Json.MAPPER.readTree(new String(line, StandardCharsets.UTF_8));
        ObjectNode jackson = (ObjectNode) Json.MAPPER.readTree(Json.write(new Responses.ChatChunk("m\"odel", "x",
                new Responses.Message("assistant", text), false, null, null, null, null, null, null, null, null)));
        assertTimestamp(mine.remove("created_at"));
        jackson.remove("created_at");
        assertEquals(jackson, mine);
    }

    private static void assertTimestamp(JsonNode ts) {
        Instant t = Instant.parse(ts.asText());
        assertTrue(Math.abs(t.toEpochMilli() - System.currentTimeMillis()) < 60_000, ts.asText());
    }
}
