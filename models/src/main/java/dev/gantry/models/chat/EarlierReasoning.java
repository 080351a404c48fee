package dev.gantry.models.chat;

import java.util.ArrayList;
import java.util.List;

/**
 * Ollama's treatment of reasoning left in earlier answers: for Qwen 3 (the model family) and DeepSeek-R1 (the
 * model's name), an assistant message before the last user message loses a leading {@code <think>...</think>} block
 * from its content before the template sees it, so a client that sends answers back with their reasoning inline
 * does not spend the context on it (Ollama's routes.go filters them the same way).
 */
public final class EarlierReasoning {
    private static final String OPEN = ChatOutputParser.OPEN;
    private static final String CLOSE = ChatOutputParser.CLOSE;

    private EarlierReasoning() {}

    /** Whether a model of this family and name gets the filter, as Ollama decides it. */
    public static boolean applies(String modelFamily, String modelName) {
        return "qwen3".equals(modelFamily) || "deepseek-r1".equals(modelName);
    }

    /** {@code messages} with the reasoning blocks cut from the answers before the last user message. */
    public static List<ChatMessage> strip(List<ChatMessage> messages) {
        int lastUser = -1;
        for (int i = 0; i < messages.size(); i++) {
            if ("user".equals(messages.get(i).role())) {
                lastUser = i;
            }
        }
        List<ChatMessage> out = new ArrayList<>(messages.size());
        for (int i = 0; i < messages.size(); i++) {
            ChatMessage m = messages.get(i);
            if (i < lastUser && "assistant".equals(m.role())) {
                String content = content(m.content());
                if (!content.equals(m.content())) {
                    m = new ChatMessage(m.role(), content, m.thinking(), m.toolCalls(), m.toolName());
                }
            }
            out.add(m);
        }
        return out;
    }

    /**
     * The content after a leading reasoning block (its leading whitespace dropped, as the output parser drops it);
     * an unclosed block is all reasoning; a content that opens none is kept as it is.
     */
    static String content(String text) {
        String t = text.stripLeading();
        if (!t.startsWith(OPEN)) {
            return text;
        }
        int close = t.indexOf(CLOSE, OPEN.length());
        return close < 0 ? "" : t.substring(close + CLOSE.length()).stripLeading();
    }
}
