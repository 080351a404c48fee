package dev.gantry.models.chat;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Splits gpt-oss's answer, written in OpenAI's harmony format, into reasoning, text and tool calls as it arrives, as
 * Ollama's harmony parser does. The answer is a series of messages, each a header and a body:
 * {@code <|channel|>analysis<|message|>...} (reasoning), {@code <|channel|>final<|message|>...} (the answer),
 * {@code <|channel|>commentary to=functions.NAME <|constrain|>json<|message|>{...}} (a call of tool NAME with
 * those arguments; a commentary message without a recipient is text; a message to a built-in tool, such as
 * {@code analysis to=browser.search}, is a call of that tool). The recipient may also stand in the header's role
 * part, before {@code <|channel|>}, even in the answer's first header. A message after the first starts with
 * {@code <|start|>assistant}; its end, {@code <|end|>}, is a control token llama.cpp does not render (the generation
 * ends at {@code <|return|>} or {@code <|call|>}), so a body runs to the next {@code <|start|>} or
 * {@code <|channel|>}. llama.cpp renders {@code <|channel|>}, {@code <|message|>}, {@code <|start|>} and
 * {@code <|constrain|>} for gpt-oss's vocabulary. Text before any header is the answer's.
 *
 * <p>Not thread-safe: one per generation, fed in order.
 */
public final class HarmonyParser implements AnswerParser {
    private static final String START = "<|start|>";
    private static final String CHANNEL = "<|channel|>";
    private static final String MESSAGE = "<|message|>";
    /** Rendered only by a vocabulary that renders every special token; dropped where they appear. */
    private static final List<String> ENDS = List.of("<|end|>", "<|return|>", "<|call|>");
    private static final ObjectMapper JSON = new ObjectMapper();

    /** PRELUDE: the answer's start, which may still turn out to be a header ({@code  to=functions.x<|channel|>...}). */
    private enum Part { PRELUDE, HEADER, BODY }

    private enum Route { THINKING, CONTENT, CALL }

    private final StringBuilder pending = new StringBuilder();
    private final StringBuilder call = new StringBuilder();
    private final List<ToolCall> calls = new ArrayList<>();
    private Part part;
    private Route route = Route.CONTENT;
    private String recipient;

    private final java.util.Set<String> toolNames;

    public HarmonyParser() {
        this(java.util.Set.of());
    }

    /**
     * @param toolNames the request's tools: a call whose name differs from one only in characters an identifier
     *                  cannot hold ({@code get_weather} for {@code get-weather}) is given the declared name, as
     *                  Ollama maps the names it rewrites for gpt-oss back
     */
    public HarmonyParser(java.util.Set<String> toolNames) {
        this(toolNames, null);
    }

    /**
     * @param openChannel the channel of a message the prompt opened and left for the model to go on with (an
     *                    assistant's message given last, {@link #openChannel(String)}), or null
     */
    public HarmonyParser(java.util.Set<String> toolNames, String openChannel) {
        this.toolNames = java.util.Set.copyOf(toolNames);
        if (openChannel != null) {
            this.part = Part.BODY;
            this.route = openChannel.equals("analysis") ? Route.THINKING : Route.CONTENT;
            return;
        }
        // text before any header is the answer's, unless it opens with a recipient: the prompt ends with
        // "<|start|>assistant", and the model may go on with " to=functions.NAME<|channel|>commentary..."
        this.part = Part.PRELUDE;
    }

    /**
     * The channel of the message a harmony prompt ends inside (its last {@code <|start|>}'s header read, its body
     * begun, no end after it): a prefill the model goes on with; null when the prompt ends between messages.
     */
    public static String openChannel(String prompt) {
        int s = prompt.lastIndexOf(START);
        int m = prompt.lastIndexOf(MESSAGE);
        if (s < 0 || m < s) {
            return null;
        }
        String body = prompt.substring(m + MESSAGE.length());
        for (String end : ENDS) {
            if (body.contains(end)) {
                return null;
            }
        }
        int c = prompt.lastIndexOf(CHANNEL, m);
        if (c < s) {
            return null;
        }
        String channel = prompt.substring(c + CHANNEL.length(), m).strip();
        int end = firstOf(channel, ' ', '<');
        return end < 0 ? channel : channel.substring(0, end);
    }

    /** Whether a chat template writes the harmony format (gpt-oss's). */
    public static boolean isHarmony(String template) {
        return template != null && template.contains(CHANNEL) && template.contains(MESSAGE);
    }

    @Override
    public ChatOutputParser.Delta accept(String text) {
        pending.append(text);
        StringBuilder thinking = new StringBuilder();
        StringBuilder answer = new StringBuilder();
        while (true) {
            if (part == Part.PRELUDE) {
                String start = pending.toString().stripLeading();
                if (start.startsWith("to=")) {
                    part = Part.HEADER;
                } else if (start.isEmpty() || "to=".startsWith(start) || "<|".startsWith(start)) {
                    break; // not decided yet
                } else {
                    part = Part.BODY;
                    if (start.startsWith("<|")) {
                        pending.setLength(0); // the line breaks before the first header are no one's text
                        pending.append(start);
                    }
                }
                continue;
            }
            if (part == Part.HEADER) {
                int m = pending.indexOf(MESSAGE);
                if (m < 0) {
                    break; // the header is not complete yet
                }
                header(pending.substring(0, m));
                pending.delete(0, m + MESSAGE.length());
                part = Part.BODY;
                continue;
            }
            int next = nextHeader();
            if (next >= 0) {
                route(pending.substring(0, next), thinking, answer);
                pending.delete(0, next);
                endBody();
                part = Part.HEADER;
                continue;
            }
            // the body so far, less a tail that may be the start of a marker
            int keep = markerTail();
            route(pending.substring(0, pending.length() - keep), thinking, answer);
            pending.delete(0, pending.length() - keep);
            break;
        }
        return new ChatOutputParser.Delta(thinking.toString(), answer.toString());
    }

    @Override
    public ChatOutputParser.Final finish() {
        StringBuilder thinking = new StringBuilder();
        StringBuilder answer = new StringBuilder();
        if (part != Part.HEADER || pending.indexOf("<|") < 0) {
            // a header never finished that holds no marker was text after all ("to=do list: ...")
            route(pending.toString(), thinking, answer);
        }
        pending.setLength(0);
        endBody();
        return new ChatOutputParser.Final(thinking.toString(), answer.toString(), List.copyOf(calls));
    }

    /** Where the next message's header begins in {@link #pending}, or -1. */
    private int nextHeader() {
        int s = pending.indexOf(START);
        int c = pending.indexOf(CHANNEL);
        if (s < 0) {
            return c;
        }
        return c < 0 ? s : Math.min(s, c);
    }

    /** How many characters at the end of {@link #pending} may be the beginning of a marker still arriving. */
    private int markerTail() {
        int open = pending.lastIndexOf("<");
        if (open < 0 || pending.indexOf(">", open) >= 0) {
            return 0;
        }
        String tail = pending.substring(open);
        for (String marker : new String[] {START, CHANNEL, MESSAGE, "<|end|>", "<|return|>", "<|call|>"}) {
            if (marker.startsWith(tail)) {
                return tail.length();
            }
        }
        return 0;
    }

    /** Reads a header: its channel and recipient set where the body goes. */
    private void header(String h) {
        for (String end : ENDS) {
            h = h.replace(end, "");
        }
        // from the last <|start|> and the last <|channel|>: a marker spelled out in ordinary text before them
        // (a model writing about harmony) does not name this message
        int st = h.lastIndexOf(START);
        if (st >= 0) {
            h = h.substring(st + START.length());
        }
        String channel = "";
        int c = h.lastIndexOf(CHANNEL);
        if (c >= 0) {
            String after = h.substring(c + CHANNEL.length()).strip();
            int space = firstOf(after, ' ', '<');
            channel = space < 0 ? after : after.substring(0, space);
        }
        recipient = null;
        int to = h.indexOf("to=");
        if (to >= 0) {
            String after = h.substring(to + 3);
            int end = firstOf(after, ' ', '<');
            recipient = (end < 0 ? after : after.substring(0, end)).strip();
        }
        if (recipient != null && !recipient.isEmpty() && !recipient.equals("assistant")) {
            // a function's call, or one of the built-in tools' (browser.search, python), as Ollama names them
            route = Route.CALL;
            call.setLength(0);
        } else if (channel.equals("analysis")) {
            route = Route.THINKING;
        } else {
            route = Route.CONTENT; // final, and commentary without a recipient (a preamble)
        }
    }

    /** The index of the first whitespace or {@code <} in {@code s}, or -1 (the args name the old two). */
    private static int firstOf(String s, char a, char b) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == a || c == b || Character.isWhitespace(c)) {
                return i;
            }
        }
        return -1;
    }

    private void route(String body, StringBuilder thinking, StringBuilder answer) {
        for (String end : ENDS) {
            body = body.replace(end, "");
        }
        if (body.isEmpty()) {
            return;
        }
        switch (route) {
            case THINKING -> thinking.append(body);
            case CONTENT -> answer.append(body);
            case CALL -> call.append(body);
        }
    }

    /** A message's body has ended: a tool call's arguments are complete. */
    private void endBody() {
        if (route == Route.CALL && recipient != null) {
            String name = declared(recipient.startsWith("functions.") ? recipient.substring("functions.".length())
                    : recipient);
            Map<String, Object> arguments = arguments(call.toString().strip());
            if (arguments != null) { // a call cut short (the answer's length ran out inside its JSON) is none
                calls.add(new ToolCall(name, arguments));
            }
            call.setLength(0);
            route = Route.CONTENT;
            recipient = null;
        }
    }

    /** The request's tool {@code name} stands for: itself, or the one it spells with identifier characters. */
    private String declared(String name) {
        if (toolNames.contains(name)) {
            return name;
        }
        for (String t : toolNames) {
            if (identifier(t).equals(name)) {
                return t;
            }
        }
        return name;
    }

    private static String identifier(String name) {
        StringBuilder b = new StringBuilder(name.length());
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            b.append(Character.isLetterOrDigit(c) || c == '_' ? c : '_');
        }
        return b.toString();
    }

    /**
     * The call's JSON arguments; text that is not a JSON object is passed as {@code {"input": text}}; null for JSON
     * that ends too soon (the generation stopped inside it).
     */
    private static Map<String, Object> arguments(String json) {
        if (json.isEmpty()) {
            return Map.of();
        }
        try {
            return JSON.readValue(json, new TypeReference<Map<String, Object>>() {});
        } catch (com.fasterxml.jackson.core.io.JsonEOFException cutShort) {
            return null;
        } catch (JsonProcessingException e) {
            return Map.of("input", json);
        }
    }
}
