package dev.gantry.models.chat;

import java.util.Map;

/** A function call the model asked for: the tool's name and its arguments as a JSON object. */
public record ToolCall(String name, Map<String, Object> arguments) {
    public ToolCall {
        arguments = arguments == null ? Map.of() : arguments;
    }
}
