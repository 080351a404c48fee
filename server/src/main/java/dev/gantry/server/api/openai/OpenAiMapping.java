package dev.gantry.server.api.openai;

import static dev.gantry.server.api.openai.OpenAiFields.bool;
import static dev.gantry.server.api.openai.OpenAiFields.integer;
import static dev.gantry.server.api.openai.OpenAiFields.longInteger;
import static dev.gantry.server.api.openai.OpenAiFields.maxTokens;
import static dev.gantry.server.api.openai.OpenAiFields.numberOr;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gantry.models.ModelName;
import dev.gantry.server.http.Json;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.OffsetDateTime;
import java.util.Base64;
import java.util.Locale;
import java.util.Set;

/**
 * OpenAI's API as an edge over Ollama's: each request is mapped to the Ollama request body the Ollama handlers
 * take, and each Ollama response (a whole body or one NDJSON line) is mapped back. Fields the Ollama chat path
 * understands ({@code tools}, {@code format}, {@code think}, tool calls and tool results in messages) are passed
 * through, so there is one inference path. Pure: no I/O, no clock except where a caller passes one.
 */
public final class OpenAiMapping {
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final Set<String> EFFORTS = Set.of("high", "medium", "low", "none");
    static final String FINGERPRINT = "fp_gantry";

    private OpenAiMapping() {}

    // ---- requests

    /** {@code /v1/chat/completions} to an {@code /api/chat} body. */
    public static ObjectNode toOllamaChat(ObjectNode req) {
        ObjectNode out = NODES.objectNode();
        out.put("model", model(req));
        JsonNode messages = req.get("messages");
        if (messages == null || messages.isNull()) {
            throw OpenAiError.invalid("messages", "messages is required");
        }
        if (!messages.isArray() || messages.isEmpty()) {
            throw OpenAiError.invalid("messages", "messages must be a non-empty list of messages");
        }
        ArrayNode mapped = out.putArray("messages");
        for (int i = 0; i < messages.size(); i++) {
            mapped.add(message(messages, i));
        }
        out.put("stream", bool(req, "stream", false));
        ObjectNode options = options(req, true);
        JsonNode maxCompletion = req.get("max_completion_tokens");
        Integer max = maxTokens(req, maxCompletion != null && !maxCompletion.isNull() ? "max_completion_tokens"
                : "max_tokens", false);
        if (max != null) {
            options.put("num_predict", max);
        }
        out.set("options", options);
        JsonNode format = responseFormat(req.get("response_format"));
        if (format != null) {
            out.set("format", format);
        }
        JsonNode tools = req.get("tools");
        if (tools != null && !tools.isNull()) {
            if (!tools.isArray()) {
                throw OpenAiError.invalid("tools", "tools must be a list");
            }
            out.set("tools", tools);
        }
        OpenAiToolChoice.apply(req, out);
        JsonNode think = think(req);
        if (think != null) {
            out.set("think", think);
        }
        OpenAiLogprobs.chatRequest(req, out);
        return out;
    }

    /** {@code /v1/completions} to an {@code /api/generate} body, for one of its {@link OpenAiInputs#prompts}. */
    public static ObjectNode toOllamaGenerate(ObjectNode req, OpenAiInputs.Prompt prompt) {
        ObjectNode out = NODES.objectNode();
        out.put("model", model(req));
        if (prompt.tokens() != null) {
            out.put("raw", true); // the ids go to the model as they are (the handler is given them apart)
            JsonNode suffix = req.get("suffix");
            if (suffix != null && suffix.isTextual() && !suffix.textValue().isEmpty()) {
                throw OpenAiError.invalid("suffix", "suffix needs a text prompt (a prompt of token ids goes to the "
                        + "model as it is, without the template that places a suffix)");
            }
        } else {
            out.put("prompt", prompt.text());
            if (bool(req, "echo", false)) {
                // an echoed prompt is the text the answer continues (and is scored), as llama-server and vLLM read
                // a completion's prompt: no chat template around it, no system prompt before it
                out.put("raw", true);
                JsonNode suffix = req.get("suffix");
                if (suffix != null && suffix.isTextual() && !suffix.textValue().isEmpty()) {
                    throw OpenAiError.invalid("suffix", "suffix cannot be used with echo (an echoed prompt goes to "
                            + "the model as it is, without the template that places a suffix)");
                }
            }
        }
        out.put("stream", bool(req, "stream", false));
        ObjectNode options = options(req, false);
        if (options.get("top_p").isNumber() && options.get("top_p").doubleValue() == 0) {
            options.put("top_p", 1.0); // Ollama's completions take top_p 0 as not set
        }
        // max_tokens 0 with echo: the prompt alone (the handler is told apart; Ollama's num_predict 0 is no limit)
        Integer max = bool(req, "echo", false) && Integer.valueOf(0).equals(OpenAiFields.integer(req, "max_tokens"))
                ? null : maxTokens(req, "max_tokens", true);
        if (max != null) {
            options.put("num_predict", max);
        }
        out.set("options", options);
        JsonNode suffix = req.get("suffix");
        if (suffix != null && !suffix.isNull()) {
            if (!suffix.isTextual()) {
                throw OpenAiError.invalid("suffix", "suffix must be a string");
            }
            out.put("suffix", suffix.textValue());
        }
        OpenAiLogprobs.completionRequest(req, out);
        return out;
    }

    /** {@code /v1/embeddings} to an {@code /api/embed} body ({@code encoding_format} is applied on the way back). */
    public static ObjectNode toOllamaEmbed(ObjectNode req) {
        ObjectNode out = NODES.objectNode();
        out.put("model", model(req));
        JsonNode input = req.get("input");
        if (input == null || input.isNull()) {
            throw OpenAiError.invalid("input", "input is required");
        }
        if (input.isTextual()) {
            if (input.textValue().isEmpty()) {
                input = NODES.arrayNode().add(""); // as Ollama takes it: one input, the empty string
            }
        } else if (input.isArray()) {
            if (input.isEmpty()) {
                throw OpenAiError.invalid("input", "input must not be an empty list");
            }
            input = OpenAiInputs.inputList((ArrayNode) input);
        } else {
            throw OpenAiError.invalid("input", OpenAiInputs.INPUT_SHAPES);
        }
        out.set("input", input);
        encodingFormat(req);
        Integer dims = integer(req, "dimensions");
        if (dims != null && dims > 0) { // Ollama truncates only to a positive number; 0 and below are not set
            out.put("dimensions", dims);
        }
        out.put("truncate", true);
        return out;
    }

    /** Whether {@code /v1/embeddings} asked for base64 ({@code encoding_format}); float is the default. */
    public static boolean base64(ObjectNode req) {
        return encodingFormat(req).equals("base64");
    }

    /** Whether a streamed request asked for a last chunk with the usage ({@code stream_options.include_usage}). */
    public static boolean includeUsage(ObjectNode req) {
        JsonNode o = req.get("stream_options");
        if (o == null || o.isNull()) {
            return false;
        }
        if (!(o instanceof ObjectNode so)) {
            throw OpenAiError.invalid("stream_options", "stream_options must be an object");
        }
        return bool(so, "include_usage", false);
    }

    private static String encodingFormat(ObjectNode req) {
        JsonNode f = req.get("encoding_format");
        if (f == null || f.isNull() || f.isTextual() && f.textValue().isEmpty()) {
            return "float";
        }
        // any case, as Ollama compares it
        String format = f.isTextual() ? f.textValue().toLowerCase(Locale.ROOT) : "";
        if (!format.equals("float") && !format.equals("base64")) {
            throw OpenAiError.invalid("encoding_format", "encoding_format must be \"float\" or \"base64\"");
        }
        return format;
    }

    private static String model(ObjectNode req) {
        JsonNode m = req.get("model");
        if (m == null || m.isNull() || (m.isTextual() && m.textValue().isEmpty())) {
            throw OpenAiError.invalid("model", "model is required");
        }
        if (!m.isTextual()) {
            throw OpenAiError.invalid("model", "model must be a string");
        }
        return m.textValue();
    }

    /**
     * The sampling options with Ollama's OpenAI defaults (temperature and top_p 1). A stop that is neither a string
     * nor a list is ignored, as Ollama ignores it; in a list, chat drops what is not a string, completions refuse it.
     */
    private static ObjectNode options(ObjectNode req, boolean chat) {
        ObjectNode o = NODES.objectNode();
        o.set("temperature", numberOr(req, "temperature", 1.0));
        o.set("top_p", numberOr(req, "top_p", 1.0));
        Long seed = longInteger(req, "seed"); // any 64-bit integer, as OpenAI's API takes it
        if (seed != null) {
            o.put("seed", seed);
        }
        for (String p : new String[] {"frequency_penalty", "presence_penalty"}) {
            JsonNode v = req.get(p);
            if (v != null && !v.isNull()) {
                if (!v.isNumber()) {
                    throw OpenAiError.invalid(p, p + " must be a number");
                }
                if (!Double.isFinite(v.doubleValue())) {
                    throw OpenAiError.invalid(p, p + " must be a finite number");
                }
                o.set(p, v);
            }
        }
        JsonNode stop = req.get("stop");
        if (stop != null && stop.isTextual()) {
            o.putArray("stop").add(stop.textValue());
        } else if (stop != null && stop.isArray()) {
            ArrayNode stops = o.putArray("stop");
            for (JsonNode s : stop) {
                if (s.isTextual()) {
                    stops.add(s.textValue());
                } else if (!chat) {
                    throw OpenAiError.invalid("stop", "invalid type for 'stop' field: " + goType(s));
                }
            }
        }
        return o;
    }

    /** The Go type Ollama's error texts name for a JSON value decoded into {@code any}. */
    private static String goType(JsonNode v) {
        return v.isNumber() ? "float64" : v.isBoolean() ? "bool" : v.isArray() ? "[]interface {}"
                : v.isObject() ? "map[string]interface {}" : v.isNull() ? "<nil>" : "string";
    }

    private static JsonNode responseFormat(JsonNode rf) {
        if (rf == null || rf.isNull()) {
            return null;
        }
        if (!(rf instanceof ObjectNode o) || !o.path("type").isTextual()) {
            throw OpenAiError.invalid("response_format", "response_format must be an object with a type");
        }
        // as Ollama: any other type, and json_schema without a schema, leave the output unconstrained
        return switch (o.get("type").textValue().strip().toLowerCase(Locale.ROOT)) {
            case "json_object" -> NODES.textNode("json");
            case "json_schema" -> {
                JsonNode schema = o.path("json_schema").get("schema");
                if (schema == null || schema.isNull()) {
                    yield null;
                }
                if (!schema.isObject()) {
                    throw OpenAiError.invalid("response_format.json_schema.schema",
                            "response_format.json_schema.schema must be an object");
                }
                yield schema;
            }
            default -> null;
        };
    }

    private static JsonNode think(ObjectNode req) {
        JsonNode effort = req.path("reasoning").get("effort");
        if (effort == null || effort.isNull()) {
            effort = req.get("reasoning_effort");
        }
        if (effort == null || effort.isNull()) {
            return null;
        }
        if (!effort.isTextual() || !EFFORTS.contains(effort.textValue())) {
            throw OpenAiError.invalid("reasoning_effort", "invalid reasoning value: '" + (effort.isTextual()
                    ? effort.textValue() : effort.toString()) + "' (must be \"high\", \"medium\", \"low\", or \"none\")");
        }
        return effort.textValue().equals("none") ? NODES.booleanNode(false) : effort;
    }

    private static ObjectNode message(JsonNode messages, int i) {
        String param = "messages[" + i + "]";
        if (!(messages.get(i) instanceof ObjectNode m)) {
            throw OpenAiError.invalid(param, param + " must be an object");
        }
        JsonNode roleNode = m.get("role");
        if (roleNode != null && !roleNode.isNull() && !roleNode.isTextual()) {
            throw OpenAiError.invalid(param + ".role", param + ".role must be a string");
        }
        String role = roleNode == null || roleNode.isNull() ? "" // Ollama passes a missing role on as ""
                : roleNode.textValue().equals("developer") ? "system"
                : roleNode.textValue().equals("function") ? "tool" // the older functions API's answer to a call
                : roleNode.textValue();
        // the older functions API's call (one, its arguments a string) stands as a list of one tool call
        JsonNode calls = m.get("tool_calls");
        if ((calls == null || calls.isNull()) && m.get("function_call") instanceof ObjectNode legacy) {
            ArrayNode one = NODES.arrayNode();
            one.addObject().put("type", "function").set("function", legacy);
            calls = one;
        }
        ObjectNode out = NODES.objectNode();
        out.put("role", role);
        JsonNode content = m.get("content");
        StringBuilder text = new StringBuilder();
        ArrayNode images = null;
        if (content == null || content.isNull()) {
            if (calls == null || calls.isNull()) { // content may be left out only by a message that calls tools
                throw OpenAiError.invalid(param + ".content", "invalid message content type: <nil>");
            }
        } else if (content.isTextual()) {
            text.append(content.textValue());
        } else if (content.isArray()) {
            for (JsonNode part : content) {
                String type = part.path("type").asText("");
                switch (type) {
                    case "text" -> {
                        if (!part.path("text").isTextual()) {
                            throw OpenAiError.invalid(param + ".content", "a text part needs text");
                        }
                        if (!text.isEmpty()) {
                            text.append('\n');
                        }
                        text.append(part.get("text").textValue());
                    }
                    case "image_url" -> {
                        JsonNode url = part.path("image_url");
                        String u = url.isTextual() ? url.textValue() : url.path("url").asText("");
                        int comma = u.indexOf(";base64,");
                        if (!u.startsWith("data:") || comma < 0) {
                            throw OpenAiError.invalid(param + ".content", "invalid image input: only base64 data "
                                    + "URLs are supported");
                        }
                        if (images == null) {
                            images = NODES.arrayNode();
                        }
                        images.add(u.substring(comma + ";base64,".length()));
                    }
                    default -> throw OpenAiError.invalid(param + ".content", "unsupported content part type \""
                            + type + "\"");
                }
            }
        } else {
            throw OpenAiError.invalid(param + ".content", param + ".content must be a string or a list of parts");
        }
        out.put("content", text.toString());
        if (images != null) {
            out.set("images", images);
        }
        JsonNode reasoning = m.get("reasoning");
        if (reasoning != null && reasoning.isTextual()) {
            out.put("thinking", reasoning.textValue());
        }
        if (calls != null && !calls.isNull()) {
            out.set("tool_calls", toolCallsToOllama(calls, param));
        }
        if (role.equals("tool")) {
            String name = m.path("name").asText("");
            String callId = m.path("tool_call_id").asText("");
            if (name.isEmpty() && !callId.isEmpty()) {
                name = toolNameFor(messages, i, callId);
            }
            if (!name.isEmpty()) {
                out.put("tool_name", name);
            }
            if (!callId.isEmpty()) {
                out.put("tool_call_id", callId);
            }
        }
        return out;
    }

    /** OpenAI's tool calls (arguments as a JSON string) to Ollama's (arguments as an object). */
    private static ArrayNode toolCallsToOllama(JsonNode calls, String param) {
        if (!calls.isArray()) {
            throw OpenAiError.invalid(param + ".tool_calls", "tool_calls must be a list");
        }
        ArrayNode out = NODES.arrayNode();
        for (JsonNode c : calls) {
            ObjectNode call = out.addObject();
            if (c.path("id").isTextual()) {
                call.put("id", c.get("id").textValue());
            }
            ObjectNode fn = call.putObject("function");
            fn.put("name", c.path("function").path("name").asText(""));
            JsonNode args = c.path("function").get("arguments");
            if (args == null || args.isNull() || (args.isTextual() && args.textValue().isBlank())) {
                fn.putObject("arguments");
            } else if (args.isTextual()) {
                try {
                    JsonNode parsed = Json.MAPPER.readTree(args.textValue());
                    if (!parsed.isObject()) {
                        throw OpenAiError.invalid(param + ".tool_calls", "invalid tool call arguments: not an object");
                    }
                    fn.set("arguments", parsed);
                } catch (JsonProcessingException e) {
                    throw OpenAiError.invalid(param + ".tool_calls", "invalid tool call arguments: "
                            + e.getOriginalMessage());
                }
            } else if (args.isObject()) {
                fn.set("arguments", args);
            } else {
                throw OpenAiError.invalid(param + ".tool_calls", "invalid tool call arguments");
            }
        }
        return out;
    }

    private static String toolNameFor(JsonNode messages, int before, String callId) {
        for (int j = before - 1; j >= 0; j--) {
            for (JsonNode c : messages.get(j).path("tool_calls")) {
                if (callId.equals(c.path("id").asText(null))) {
                    return c.path("function").path("name").asText("");
                }
            }
        }
        return "";
    }

    // ---- responses

    /** A whole {@code /api/chat} answer as a {@code chat.completion}. */
    public static ObjectNode chatCompletion(String id, long created, JsonNode ollama) {
        return chatCompletion(id, id, created, ollama);
    }

    /** As {@link #chatCompletion(String, long, JsonNode)}, its tool calls' ids made from {@code callIds}. */
    static ObjectNode chatCompletion(String id, String callIds, long created, JsonNode ollama) {
        ObjectNode out = head(id, "chat.completion", created, ollama);
        ObjectNode choice = out.putArray("choices").addObject();
        choice.put("index", 0);
        ObjectNode message = choice.putObject("message");
        JsonNode m = ollama.path("message");
        message.put("role", m.path("role").asText("assistant"));
        message.put("content", m.path("content").asText(""));
        if (m.path("thinking").isTextual() && !m.get("thinking").textValue().isEmpty()) {
            message.put("reasoning", m.get("thinking").textValue());
        }
        ArrayNode calls = toolCallsToOpenAi(m.path("tool_calls"), callIds);
        if (!calls.isEmpty()) {
            message.set("tool_calls", calls);
        }
        choice.put("finish_reason", finishReason(ollama, !calls.isEmpty()));
        choice.set("logprobs", OpenAiLogprobs.chat(ollama));
        out.set("usage", usage(ollama));
        return out;
    }

    /**
     * One streamed {@code /api/chat} line as a {@code chat.completion.chunk}; {@code toolCallsSent} says whether an
     * earlier chunk carried tool calls (the finish reason is then {@code tool_calls}).
     */
    public static ObjectNode chatChunk(String id, long created, JsonNode ollama, boolean toolCallsSent) {
        return chatChunk(id, id, created, ollama, toolCallsSent);
    }

    /** As {@link #chatChunk(String, long, JsonNode, boolean)}, its tool calls' ids made from {@code callIds}. */
    static ObjectNode chatChunk(String id, String callIds, long created, JsonNode ollama, boolean toolCallsSent) {
        ObjectNode out = head(id, "chat.completion.chunk", created, ollama);
        ObjectNode choice = out.putArray("choices").addObject();
        choice.put("index", 0);
        ObjectNode delta = choice.putObject("delta");
        JsonNode m = ollama.path("message");
        delta.put("role", "assistant");
        delta.put("content", m.path("content").asText(""));
        if (m.path("thinking").isTextual() && !m.get("thinking").textValue().isEmpty()) {
            delta.put("reasoning", m.get("thinking").textValue());
        }
        ArrayNode calls = toolCallsToOpenAi(m.path("tool_calls"), callIds);
        if (!calls.isEmpty()) {
            delta.set("tool_calls", calls);
        }
        if (ollama.path("done").asBoolean(false)) {
            choice.put("finish_reason", finishReason(ollama, toolCallsSent || !calls.isEmpty()));
        } else {
            choice.putNull("finish_reason");
        }
        choice.set("logprobs", OpenAiLogprobs.chat(ollama));
        return out;
    }

    /** A whole {@code /api/generate} answer as a {@code text_completion}. */
    public static ObjectNode completion(String id, long created, JsonNode ollama) {
        return completion(id, created, ollama, null);
    }

    /**
     * {@link #completion(String, long, JsonNode)} whose text follows the {@code echoed} prompt (null for none): the
     * prompt's tokens' {@code text_offset}s are into it, and the generated tokens' start after it.
     */
    public static ObjectNode completion(String id, long created, JsonNode ollama, String echoed) {
        ObjectNode out = textCompletion(id, created, ollama, true, OpenAiLogprobs.characters(echoed), echoed);
        out.set("usage", usage(ollama));
        return out;
    }

    /**
     * One streamed {@code /api/generate} line as a {@code text_completion} chunk; {@code offset} is how many
     * characters of the answer earlier chunks' log probabilities covered.
     */
    public static ObjectNode completionChunk(String id, long created, JsonNode ollama, int offset) {
        return completionChunk(id, created, ollama, offset, null);
    }

    /** {@link #completionChunk(String, long, JsonNode, int)} that carries the {@code echoed} prompt's tokens. */
    public static ObjectNode completionChunk(String id, long created, JsonNode ollama, int offset, String echoed) {
        return textCompletion(id, created, ollama, ollama.path("done").asBoolean(false), offset, echoed);
    }

    /** A {@code text_completion} with one choice: the text, and the finish reason once {@code finished}. */
    private static ObjectNode textCompletion(String id, long created, JsonNode ollama, boolean finished, int offset,
                                             String echoed) {
        ObjectNode out = head(id, "text_completion", created, ollama);
        ObjectNode choice = out.putArray("choices").addObject();
        choice.put("text", ollama.path("response").asText(""));
        choice.put("index", 0);
        choice.set("logprobs", OpenAiLogprobs.text(ollama, offset, echoed));
        if (finished) {
            choice.put("finish_reason", finishReason(ollama, false));
        } else {
            choice.putNull("finish_reason");
        }
        return out;
    }

    /** The extra last chunk of a stream that asked for {@code include_usage}: no choices, the usage. */
    public static ObjectNode usageChunk(String id, String object, long created, JsonNode ollamaLast) {
        ObjectNode out = head(id, object, created, ollamaLast);
        out.putArray("choices");
        out.set("usage", usage(ollamaLast));
        return out;
    }

    /** {@code prompt_tokens}, {@code completion_tokens} and their total from an Ollama final object. */
    public static ObjectNode usage(JsonNode ollama) {
        int prompt = ollama.path("prompt_eval_count").asInt(0);
        int completion = ollama.path("eval_count").asInt(0);
        ObjectNode u = NODES.objectNode();
        u.put("prompt_tokens", prompt);
        u.put("completion_tokens", completion);
        u.put("total_tokens", prompt + completion);
        int cached = ollama.path("prompt_eval_cached_count").asInt(0);
        if (cached > 0) {
            u.putObject("prompt_tokens_details").put("cached_tokens", cached);
        }
        return u;
    }

    /** An {@code /api/embed} answer as an embedding list, each vector as floats or as base64 of little-endian float32. */
    public static ObjectNode embeddingList(String model, JsonNode ollama, boolean base64) {
        ObjectNode out = NODES.objectNode();
        out.put("object", "list");
        ArrayNode data = out.putArray("data");
        int i = 0;
        for (JsonNode v : ollama.path("embeddings")) {
            ObjectNode e = data.addObject();
            e.put("object", "embedding");
            if (base64) {
                e.put("embedding", floatsToBase64(v));
            } else {
                e.set("embedding", v);
            }
            e.put("index", i++);
        }
        out.put("model", model);
        ObjectNode usage = out.putObject("usage");
        int tokens = ollama.path("prompt_eval_count").asInt(0);
        usage.put("prompt_tokens", tokens);
        usage.put("total_tokens", tokens);
        return out;
    }

    static String floatsToBase64(JsonNode vector) {
        ByteBuffer b = ByteBuffer.allocate(4 * vector.size()).order(ByteOrder.LITTLE_ENDIAN);
        for (JsonNode x : vector) {
            b.putFloat(x.floatValue());
        }
        return Base64.getEncoder().encodeToString(b.array());
    }

    /** An {@code /api/tags} answer as a model list. */
    public static ObjectNode modelList(JsonNode tags) {
        ObjectNode out = NODES.objectNode();
        out.put("object", "list");
        ArrayNode data = out.putArray("data");
        for (JsonNode m : tags.path("models")) {
            data.add(model(m.path("name").asText(""), m.path("modified_at").asText("")));
        }
        return out;
    }

    /** One model, from its name and its Ollama {@code modified_at}. */
    public static ObjectNode model(String name, String modifiedAt) {
        ObjectNode o = NODES.objectNode();
        o.put("id", name);
        o.put("object", "model");
        long created = 0;
        try {
            created = modifiedAt.isEmpty() ? 0 : OffsetDateTime.parse(modifiedAt).toEpochSecond();
        } catch (java.time.format.DateTimeParseException e) {
            // leave 0: the listing still works
        }
        o.put("created", created);
        o.put("owned_by", ModelName.tryParse(name).map(ModelName::namespace).orElse(ModelName.DEFAULT_NAMESPACE));
        return o;
    }

    /** OpenAI's error body. */
    /** The router's answer to a path it does not serve: not a missing model. */
    private static final String PAGE_NOT_FOUND = "404 page not found";

    public static ObjectNode error(int status, String message, String param, String code) {
        ObjectNode out = NODES.objectNode();
        ObjectNode e = out.putObject("error");
        e.put("message", message);
        // Ollama's types: invalid_request_error for 400, not_found_error for 404, api_error for the rest
        e.put("type", status == 400 ? "invalid_request_error" : status == 404 ? "not_found_error" : "api_error");
        if (param == null) {
            e.putNull("param");
        } else {
            e.put("param", param);
        }
        if (code == null && status == 401) {
            code = "invalid_api_key"; // as OpenAI answers a missing or wrong key
        }
        if (code == null && status == 404 && message.contains("not found") && !message.equals(PAGE_NOT_FOUND)) {
            code = "model_not_found"; // what OpenAI's clients look for
        }
        if (code == null) {
            e.putNull("code");
        } else {
            e.put("code", code);
        }
        return out;
    }

    /**
     * Ollama's done_reason as OpenAI's finish_reason, as Ollama passes it on: stop, length, tool_calls, or load and
     * unload for a request that only loaded or unloaded the model.
     */
    static String finishReason(JsonNode ollama, boolean toolCalls) {
        if (toolCalls) {
            return "tool_calls";
        }
        String r = ollama.path("done_reason").asText("stop");
        return r.equals("length") || r.equals("load") || r.equals("unload") ? r : "stop";
    }

    private static ObjectNode head(String id, String object, long created, JsonNode ollama) {
        ObjectNode out = NODES.objectNode();
        out.put("id", id);
        out.put("object", object);
        out.put("created", created);
        out.put("model", ollama.path("model").asText(""));
        out.put("system_fingerprint", FINGERPRINT);
        return out;
    }

    private static ArrayNode toolCallsToOpenAi(JsonNode calls, String responseId) {
        ArrayNode out = NODES.arrayNode();
        int i = 0;
        for (JsonNode c : calls) {
            ObjectNode call = out.addObject();
            JsonNode fn = c.path("function");
            call.put("index", fn.path("index").isInt() ? fn.get("index").intValue() : i);
            call.put("id", c.path("id").isTextual() ? c.get("id").textValue() : "call_" + responseId + "_" + i);
            call.put("type", "function");
            ObjectNode f = call.putObject("function");
            f.put("name", fn.path("name").asText(""));
            JsonNode args = fn.get("arguments");
            f.put("arguments", args == null || args.isNull() ? "{}"
                    : args.isTextual() ? args.textValue() : args.toString());
            i++;
        }
        return out;
    }
}
