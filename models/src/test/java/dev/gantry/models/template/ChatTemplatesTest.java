package dev.gantry.models.template;

import dev.gantry.models.TestData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import dev.gantry.models.chat.ChatMessage;
import dev.gantry.models.chat.PromptBuilder;
import dev.gantry.models.chat.ToolCall;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Every chat template of llama.cpp's collection renders a conversation with a tool call and a tool answer. */
class ChatTemplatesTest {
    static List<Path> templates() throws IOException {
        Path dir = TestData.sharedDir().resolve("llama-data/chat-templates");
        assumeTrue(Files.isDirectory(dir), "no chat templates in " + dir);
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(p -> p.toString().endsWith(".jinja")).sorted().toList();
        }
    }

    @TestFactory
    Stream<DynamicTest> everyTemplateRendersAToolConversation() throws IOException {
        List<Path> all = templates();
        assertTrue(all.size() >= 70, "expected the 70 templates, found " + all.size());
        PromptBuilder builder = new PromptBuilder(new PromptBuilder.Tokens("<s>", "</s>"), null);
        return all.stream().map(p -> DynamicTest.dynamicTest(p.getFileName().toString(), () -> {
            String source = Files.readString(p);
            // Straight through the engine first, so a template error is seen rather than hidden by a fallback.
            JinjaTemplate.parse(source);
            List<ChatMessage> messages = List.of(ChatMessage.of("system", "You are a helpful assistant."),
                    ChatMessage.of("user", "What is the weather in Paris?"),
                    new ChatMessage("assistant", "", null, List.of(new ToolCall("get_weather", Map.of("city", "Paris"))),
                            null),
                    new ChatMessage("tool", "{\"temperature\": 21}", null, List.of(), "get_weather"));
            PromptBuilder.Prompt out = builder.build(new PromptBuilder.Request(source, null, null, messages,
                    Conversations.tools(), null));
            assertEquals(PromptBuilder.Source.JINJA, out.source(), p + " fell back");
            assertTrue(out.text().contains("What is the weather in Paris?"), out.text());
            assertTrue(out.text().contains("21"), out.text());
        }));
    }
}
