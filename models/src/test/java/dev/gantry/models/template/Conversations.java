package dev.gantry.models.template;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The conversations the template tests render, as the plain values a chat template receives. */
final class Conversations {
    private Conversations() {}

    static Map<String, Object> message(String role, String content) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("role", role);
        m.put("content", content);
        return m;
    }

    static Map<String, Object> map(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    /** system, user, assistant (no tools). */
    static List<Object> simple() {
        return new ArrayList<>(List.of(message("system", "You are a helpful assistant."),
                message("user", "Hello, how are you?"), message("assistant", "I am fine, thank you."),
                message("user", "What is the capital of France?")));
    }

    /** system, user, an assistant tool call, the tool's answer. */
    static List<Object> withToolCall() {
        Map<String, Object> call = map("id", "call00001", "type", "function", "function",
                map("name", "get_weather", "arguments", map("city", "Paris")));
        Map<String, Object> assistant = message("assistant", "");
        assistant.put("tool_calls", new ArrayList<>(List.of(call)));
        Map<String, Object> tool = message("tool", "{\"temperature\": 21}");
        tool.put("tool_call_id", "call00001");
        tool.put("name", "get_weather");
        tool.put("tool_name", "get_weather");
        return new ArrayList<>(List.of(message("system", "You are a helpful assistant."),
                message("user", "What is the weather in Paris?"), assistant, tool));
    }

    static List<Object> tools() {
        Map<String, Object> params = map("type", "object", "properties",
                map("city", map("type", "string", "description", "The city")), "required", new ArrayList<>(List.of("city")));
        return new ArrayList<>(List.of(map("type", "function", "function",
                map("name", "get_weather", "description", "Get the weather in a city", "parameters", params))));
    }
}
