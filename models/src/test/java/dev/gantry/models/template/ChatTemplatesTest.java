package dev.gantry.models.template;

import dev.gantry.models.TestData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

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
        return all.stream().map(p -> DynamicTest.dynamicTest(p.getFileName().toString(), () -> {
            JinjaTemplate t = JinjaTemplate.parse(Files.readString(p));
            Map<String, Object> ctx = new HashMap<>();
            ctx.put("messages", Conversations.withToolCall());
            ctx.put("tools", Conversations.tools());
            ctx.put("add_generation_prompt", true);
            ctx.put("bos_token", "<s>");
            ctx.put("eos_token", "</s>");
            String out = t.render(ctx);
            assertTrue(out.contains("What is the weather in Paris?"), out);
            assertTrue(out.contains("get_weather"), out);
            assertTrue(out.contains("21"), out);
        }));
    }
}
