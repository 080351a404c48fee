package dev.gantry.models.chat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Splits the answers of Cohere's Command R7B and Command A as their templates have them write: reasoning between
 * {@code <|START_THINKING|>} and {@code <|END_THINKING|>}, tool calls as a JSON list between {@code <|START_ACTION|>}
 * and {@code <|END_ACTION|>} (objects of {@code tool_name} and {@code parameters}), and the answer, possibly between
 * {@code <|START_RESPONSE|>} and {@code <|END_RESPONSE|>}, whose markers go. Markers that arrive in pieces are held
 * back until they can be told from text. The markers are control tokens, which Gantry's output renders for this
 * reason ({@link #MARKERS}).
 *
 * <p>Not thread-safe: one per generation, fed in order.
 */
public final class CommandParser implements AnswerParser {
    private static final String START_THINKING = "<|START_THINKING|>";
    private static final String END_THINKING = "<|END_THINKING|>";
    private static final String START_ACTION = "<|START_ACTION|>";
    private static final String END_ACTION = "<|END_ACTION|>";
    private static final String START_RESPONSE = "<|START_RESPONSE|>";
    private static final String END_RESPONSE = "<|END_RESPONSE|>";
    /** The markers this parser reads; control tokens whose text is one of these are rendered in the output. */
    public static final List<String> MARKERS = List.of(START_THINKING, END_THINKING, START_ACTION, END_ACTION,
            START_RESPONSE, END_RESPONSE);
    private static final ObjectMapper JSON = new ObjectMapper();

    private enum Route { THINKING, CONTENT, ACTION }

    private final StringBuilder pending = new StringBuilder();
    private final StringBuilder action = new StringBuilder();
    private final List<ToolCall> calls = new ArrayList<>();
    private Route route;
    /** Leading whitespace after a marker goes, as the templates put a line break there. */
    private boolean stripLeading;

    private final java.util.Set<String> toolNames;

    /**
     * @param thinkingOpen whether the prompt ended with {@code <|START_THINKING|>} (the model goes on reasoning)
     * @param toolNames    the request's tools: an action block is tool calls only where there are some (else its
     *                     text stays in the answer)
     */
    public CommandParser(boolean thinkingOpen, java.util.Set<String> toolNames) {
        this.route = thinkingOpen ? Route.THINKING : Route.CONTENT;
        this.toolNames = java.util.Set.copyOf(toolNames);
    }

    /** Whether a template writes Command's markers (so its answers are this parser's). */
    public static boolean isCommand(String template) {
        return template != null && (template.contains(START_THINKING) || template.contains(START_ACTION)
                || template.contains(START_RESPONSE));
    }

    @Override
    public ChatOutputParser.Delta accept(String text) {
        pending.append(text);
        StringBuilder thinking = new StringBuilder();
        StringBuilder content = new StringBuilder();
        while (!pending.isEmpty()) {
            int at = pending.indexOf("<|");
            if (at < 0) { // no marker starts here; a last "<" may still become one
                int end = pending.length() - (pending.charAt(pending.length() - 1) == '<' ? 1 : 0);
                emit(pending.substring(0, end), thinking, content);
                pending.delete(0, end);
                break;
            }
            if (at > 0) {
                emit(pending.substring(0, at), thinking, content);
                pending.delete(0, at);
                continue;
            }
            String marker = MARKERS.stream().filter(m -> pending.indexOf(m) == 0).findFirst().orElse(null);
            if (marker == null) {
                String head = pending.toString();
                if (MARKERS.stream().anyMatch(m -> m.startsWith(head))) {
                    break; // a marker not all here yet: held until it is, or is not
                }
                emit("<|", thinking, content); // text that merely looks like one
                pending.delete(0, 2);
                continue;
            }
            pending.delete(0, marker.length());
            switch (marker) {
                case START_THINKING -> route = Route.THINKING;
                case START_ACTION -> route = Route.ACTION;
                case END_ACTION -> {
                    route = Route.CONTENT;
                    content.append(parseAction()); // what is no call stays where it was written
                }
                default -> route = Route.CONTENT; // END_THINKING, START_RESPONSE, END_RESPONSE
            }
            stripLeading = true;
        }
        return new ChatOutputParser.Delta(thinking.toString(), content.toString());
    }

    private void emit(String text, StringBuilder thinking, StringBuilder content) {
        if (stripLeading && !text.isEmpty()) {
            // the line break a template may put after a marker; an indent after it is the answer's own
            text = text.startsWith("\r\n") ? text.substring(2) : text.startsWith("\n") ? text.substring(1) : text;
            stripLeading = false;
            if (text.isEmpty()) {
                return;
            }
        }
        switch (route) {
            case THINKING -> thinking.append(text);
            case CONTENT -> content.append(text);
            case ACTION -> action.append(text);
        }
    }

    /**
     * The action's JSON list as tool calls (each object's {@code tool_name} and {@code parameters}), all or none;
     * returns the text to keep in the answer instead: the whole block where it is no call list, or where the request
     * has no tools.
     */
    private String parseAction() {
        String json = action.toString().strip();
        action.setLength(0);
        if (json.isEmpty()) {
            return "";
        }
        if (toolNames.isEmpty()) {
            return json;
        }
        try {
            JsonNode list = JSON.readerFor(JsonNode.class)
                    .with(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
                    .readValue(json);
            List<ToolCall> found = new ArrayList<>();
            for (JsonNode call : list.isArray() ? list : JSON.createArrayNode().add(list)) {
                String name = call.path("tool_name").asText(call.path("name").asText(""));
                JsonNode params = call.has("parameters") ? call.get("parameters") : call.path("arguments");
                if (params.isTextual()) { // arguments written as a JSON string
                    params = JSON.readTree(params.textValue());
                }
                if (!call.isObject() || name.isEmpty() || !(params.isObject() || params.isMissingNode())) {
                    return json;
                }
                Map<String, Object> arguments = params.isObject()
                        ? JSON.convertValue(params, new com.fasterxml.jackson.core.type.TypeReference<
                                LinkedHashMap<String, Object>>() { })
                        : Map.of();
                found.add(new ToolCall(name, arguments));
            }
            calls.addAll(found);
            return "";
        } catch (java.io.IOException | IllegalArgumentException e) {
            return json; // not a call list: the answer's text, not lost
        }
    }

    @Override
    public ChatOutputParser.Final finish() {
        StringBuilder thinking = new StringBuilder();
        StringBuilder content = new StringBuilder();
        emit(pending.toString(), thinking, content); // a marker cut short is text
        pending.setLength(0);
        if (route == Route.ACTION) {
            content.append(parseAction()); // the answer ended inside an action (its end marker is the turn's end)
        }
        return new ChatOutputParser.Final(thinking.toString(), content.toString(), List.copyOf(calls));
    }
}
