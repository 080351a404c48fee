package dev.gantry.models.chat;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Splits a model's streamed answer into reasoning, text and tool calls as it arrives. Reasoning is the part
 * between {@code <think>} and {@code </think>} (or from the start, when the prompt already opened the block) and
 * is separated only when the request asked to think. With tools, text that may be a tool call is held back until
 * it can be decided: an answer that starts like JSON or a tool-call marker is held to the end; elsewhere text is
 * held from a marker (or a partial marker at the end of what has arrived) on.
 *
 * <p>Not thread-safe: one per generation, fed in order.
 */
public final class ChatOutputParser implements AnswerParser {
    /** Text to send now: reasoning and/or content (either may be empty). */
    public record Delta(String thinking, String content) {
        public boolean isEmpty() {
            return thinking.isEmpty() && content.isEmpty();
        }
    }

    /** What remains at the end: the last text and the tool calls found. */
    public record Final(String thinking, String content, List<ToolCall> toolCalls) {}

    private enum State {
        START, THINKING, CONTENT
    }

    /** The reasoning block's tags, which every part of Gantry that separates reasoning goes by. */
    public static final String OPEN = "<think>";
    public static final String CLOSE = "</think>";

    private final boolean think;
    private final boolean tools;
    private final Set<String> toolNames;
    private State state;
    private final StringBuilder pending = new StringBuilder();
    /** All content after the reasoning, for the tool-call parse at the end. */
    private final StringBuilder content = new StringBuilder();
    /** How much of {@link #content} has been sent. */
    private int sent;
    private boolean holdAll;
    private final boolean bareJsonCalls;
    /**
     * Whether the content's leading whitespace goes: after the reasoning, as Ollama's thinking parser drops it; not
     * in a plain answer, which Ollama passes on as the model wrote it (its first token's space included, so the
     * log probabilities' tokens spell the content).
     */
    private boolean stripLeading;

    /**
     * @param think        whether to separate reasoning
     * @param thinkingOpen whether the prompt ended inside an opened reasoning block
     * @param toolNames    the request's tools; empty for none (then nothing is held back for tool calls)
     */
    public ChatOutputParser(boolean think, boolean thinkingOpen, Set<String> toolNames) {
        this(think, thinkingOpen, toolNames, true);
    }

    /**
     * @param bareJsonCalls whether the model may write a tool call as bare JSON (Llama 3's templates), so an answer
     *                      that starts with {@code {}, {@code [} or a code fence is held back until it ends; false
     *                      for a template whose calls have a tag ({@code <tool_call>}, {@code [TOOL_CALLS]}, ...):
     *                      then only the tag holds text back, as in Ollama, and a JSON answer streams
     */
    public ChatOutputParser(boolean think, boolean thinkingOpen, Set<String> toolNames, boolean bareJsonCalls) {
        this.bareJsonCalls = bareJsonCalls;
        this.think = think;
        this.tools = !toolNames.isEmpty();
        this.toolNames = Set.copyOf(toolNames);
        this.state = think ? (thinkingOpen ? State.THINKING : State.START) : State.CONTENT;
        // only after a reasoning block: an answer that opens none keeps its start as written, as Ollama's thinking
        // parser hands back the untrimmed text when no opening tag comes
        this.stripLeading = false;
    }

    @Override
    public Delta accept(String text) {
        pending.append(text);
        StringBuilder thinking = new StringBuilder();
        while (true) {
            if (state == State.START) {
                String s = pending.toString().stripLeading();
                if (s.startsWith(OPEN)) {
                    pending.setLength(0);
                    pending.append(s.substring(OPEN.length()));
                    state = State.THINKING;
                    continue;
                }
                if (OPEN.startsWith(s)) {
                    return new Delta(thinking.toString(), "");
                }
                state = State.CONTENT;
                continue;
            }
            if (state == State.THINKING) {
                int close = pending.indexOf(CLOSE);
                if (close >= 0) {
                    thinking.append(pending, 0, close);
                    pending.delete(0, close + CLOSE.length());
                    state = State.CONTENT;
                    stripLeading = true;
                    continue;
                }
                int keep = partialSuffix(pending, CLOSE);
                thinking.append(pending, 0, pending.length() - keep);
                pending.delete(0, pending.length() - keep);
                return new Delta(stripFirst(thinking), "");
            }
            String more = pending.toString();
            pending.setLength(0);
            if (stripLeading) {
                more = more.stripLeading();
                stripLeading = more.isEmpty();
            }
            content.append(more);
            return new Delta(stripFirst(thinking), releasable());
        }
    }

    private boolean thinkingStarted;

    /** Reasoning loses the whitespace right after {@code <think>}. */
    private String stripFirst(StringBuilder thinking) {
        String t = thinking.toString();
        if (!thinkingStarted) {
            t = t.stripLeading();
            thinkingStarted = !t.isEmpty();
        }
        return t;
    }

    /** The content that can be sent now, given what might still turn into a tool call. */
    private String releasable() {
        if (!tools) {
            String out = content.substring(sent);
            sent = content.length();
            return out;
        }
        if (holdAll) {
            return "";
        }
        if (sent == 0 && ToolCallParser.mayStartToolCall(content.toString(), bareJsonCalls)) {
            if (!content.toString().isBlank() && !couldStillBeText(content.toString())) {
                holdAll = true;
            }
            return "";
        }
        int limit = content.length();
        for (String opener : ToolCallParser.OPENERS) {
            int at = content.indexOf(opener, sent);
            if (at >= 0) {
                limit = Math.min(limit, at);
                holdAll = true;
            }
        }
        if (!holdAll) {
            int maxPartial = 0;
            for (String opener : ToolCallParser.OPENERS) {
                maxPartial = Math.max(maxPartial, partialSuffix(content, opener));
            }
            limit = content.length() - maxPartial;
        }
        if (limit <= sent) {
            return "";
        }
        String out = content.substring(sent, limit);
        sent = limit;
        return out;
    }

    /** A start that is only a partial marker may still turn out to be ordinary text. */
    private boolean couldStillBeText(String s) {
        String t = s.stripLeading();
        for (String o : ToolCallParser.OPENERS) {
            if (o.startsWith(t) && !t.equals(o)) {
                return true;
            }
        }
        return bareJsonCalls && "```".startsWith(t);
    }

    /** Ends the stream: what was held back, parsed for tool calls. */
    @Override
    public Final finish() {
        String thinking = "";
        if (state == State.THINKING) {
            thinking = stripFirst(new StringBuilder(pending));
        } else if (state == State.START) {
            content.append(pending); // no reasoning came: the text as written
        } else {
            content.append(pending);
        }
        pending.setLength(0);
        String rest = content.substring(sent);
        if (!tools) {
            sent = content.length();
            return new Final(thinking, rest, List.of());
        }
        ToolCallParser.Result r = ToolCallParser.parse(rest, toolNames);
        sent = content.length();
        return new Final(thinking, r.content(), new ArrayList<>(r.toolCalls()));
    }

    /** The length of the longest suffix of {@code s} that is a proper prefix of {@code marker}. */
    private static int partialSuffix(CharSequence s, String marker) {
        int max = Math.min(s.length(), marker.length() - 1);
        for (int n = max; n > 0; n--) {
            boolean match = true;
            for (int i = 0; i < n; i++) {
                if (s.charAt(s.length() - n + i) != marker.charAt(i)) {
                    match = false;
                    break;
                }
            }
            if (match) {
                return n;
            }
        }
        return 0;
    }
}
