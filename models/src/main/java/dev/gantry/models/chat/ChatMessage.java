package dev.gantry.models.chat;

import java.util.List;

/**
 * One message of a conversation as Ollama's {@code /api/chat} carries it: a role ({@code system}, {@code user},
 * {@code assistant}, {@code tool}), its text, the assistant's reasoning and tool calls, and for a tool result the
 * tool's name. Absent parts are {@code null} or empty.
 */
public record ChatMessage(String role, String content, String thinking, List<ToolCall> toolCalls, String toolName) {
    public ChatMessage {
        content = content == null ? "" : content;
        toolCalls = toolCalls == null ? List.of() : List.copyOf(toolCalls);
    }

    public static ChatMessage of(String role, String content) {
        return new ChatMessage(role, content, null, List.of(), null);
    }
}
