package dev.gantry.runtime.engine.llama;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.gantry.llama.LlamaModelHandle;
import dev.gantry.models.chat.CommandParser;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The control tokens the binding renders are the markers Command's parser reads, no more and no fewer. */
class RenderedMarkersTest {
    @Test
    void theRenderedControlTokensAreTheParsersMarkers() {
        assertEquals(Set.copyOf(CommandParser.MARKERS), LlamaModelHandle.RENDERED_CONTROL_TOKENS);
    }
}
