package dev.gantry.server.api.openai;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gantry.runtime.sampling.TokenLogprobs;

/**
 * OpenAI's log probabilities to and from Ollama's: the requests' {@code logprobs}/{@code top_logprobs} become
 * {@code /api/chat}'s and {@code /api/generate}'s, and the {@code logprobs} entries of Ollama's lines become chat's
 * {@code logprobs.content} or the legacy completion's token lists.
 */
final class OpenAiLogprobs {
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private OpenAiLogprobs() {}

    /** Chat's {@code logprobs} (a boolean) and {@code top_logprobs} onto the Ollama body {@code out}. */
    static void chatRequest(ObjectNode req, ObjectNode out) {
        boolean logprobs = OpenAiFields.bool(req, "logprobs", false);
        Integer top = OpenAiFields.integer(req, "top_logprobs");
        if (top != null && (top < 0 || top > TokenLogprobs.MAX_TOP)) {
            throw OpenAiError.invalid("top_logprobs", "top_logprobs must be between 0 and " + TokenLogprobs.MAX_TOP);
        }
        if (logprobs) {
            out.put("logprobs", true).put("top_logprobs", top == null ? 0 : top);
        }
    }

    /** The legacy completion's {@code logprobs}: how many alternatives, 0 for the token's own only. */
    static void completionRequest(ObjectNode req, ObjectNode out) {
        Integer logprobs = OpenAiFields.integer(req, "logprobs");
        if (logprobs != null) {
            if (logprobs < 0 || logprobs > TokenLogprobs.MAX_TOP) {
                throw OpenAiError.invalid("logprobs", "logprobs must be between 0 and " + TokenLogprobs.MAX_TOP);
            }
            out.put("logprobs", true).put("top_logprobs", logprobs);
        }
    }

    /** Chat's {@code logprobs}: {@code {"content": [{token, logprob, bytes, top_logprobs}, ...]}}, or null. */
    static JsonNode chat(JsonNode ollama) {
        JsonNode lps = ollama.get("logprobs");
        if (lps == null || !lps.isArray()) {
            return NODES.nullNode();
        }
        ObjectNode out = NODES.objectNode();
        ArrayNode content = out.putArray("content");
        for (JsonNode e : lps) {
            ObjectNode entry = content.addObject();
            entry.set("token", e.get("token"));
            entry.set("logprob", e.get("logprob"));
            entry.set("bytes", e.get("bytes"));
            ArrayNode top = entry.putArray("top_logprobs");
            for (JsonNode t : e.path("top_logprobs")) {
                top.addObject().setAll((ObjectNode) t);
            }
        }
        return out;
    }

    /**
     * The legacy completion's {@code logprobs}: {@code tokens}, {@code token_logprobs}, {@code top_logprobs} (one
     * token-to-log-probability object per token) and {@code text_offset} from {@code offset} (the characters of the
     * answer before this chunk), or null. Also {@code content}, chat's form, which is what Ollama's
     * {@code /v1/completions} returns: clients written against either find theirs.
     */
    static JsonNode text(JsonNode ollama, int offset) {
        return text(ollama, offset, null);
    }

    /**
     * {@link #text(JsonNode, int)}, with an echoed prompt's tokens ({@code prompt_logprobs}) first: their offsets
     * are into {@code echoed}, the prompt's text as the answer starts with it. Where the tokens spell more than
     * that before it (the space a SentencePiece tokenizer puts before the first word), their offsets are moved back
     * by that much, and none passes the echoed text's end. Offsets count characters (code points, as Python and
     * OpenAI count them), from the tokens' bytes, so a character split over two tokens counts once.
     */
    static JsonNode text(JsonNode ollama, int offset, String echoed) {
        JsonNode lps = ollama.get("logprobs");
        JsonNode prompt = ollama.get("prompt_logprobs");
        boolean generated = lps != null && lps.isArray();
        if (!generated && (prompt == null || !prompt.isArray())) {
            return NODES.nullNode();
        }
        ObjectNode out = NODES.objectNode();
        ArrayNode tokens = out.putArray("tokens");
        ArrayNode logprobs = out.putArray("token_logprobs");
        ArrayNode tops = out.putArray("top_logprobs");
        ArrayNode offsets = out.putArray("text_offset");
        if (prompt != null && prompt.isArray()) {
            // an echoed prompt's tokens first, from the answer's start: the first has no log probability (nothing
            // comes before it), so null, as OpenAI writes it
            java.io.ByteArrayOutputStream all = new java.io.ByteArrayOutputStream();
            for (JsonNode e : prompt) {
                for (JsonNode b : e.path("bytes")) {
                    all.write(b.intValue());
                }
            }
            String spelled = all.toString(java.nio.charset.StandardCharsets.UTF_8);
            String text = echoed == null ? spelled : echoed;
            int end = characters(text);
            int shift = spelled.endsWith(text) ? characters(spelled) - end : 0;
            int at = 0;
            for (JsonNode e : prompt) {
                String token = e.path("token").asText("");
                tokens.add(token);
                JsonNode lp = e.get("logprob");
                logprobs.add(lp == null ? NODES.nullNode() : lp);
                if (lp == null || lp.isNull()) {
                    tops.addNull();
                } else {
                    ObjectNode top = tops.addObject();
                    for (JsonNode t : e.path("top_logprobs")) {
                        top.set(t.path("token").asText(""), t.get("logprob"));
                    }
                }
                offsets.add(Math.clamp(at - shift, 0, end));
                at += characters(e.path("bytes"));
            }
        }
        if (!generated) {
            out.putArray("content");
            return out;
        }
        for (JsonNode e : lps) {
            String token = e.path("token").asText("");
            tokens.add(token);
            logprobs.add(e.get("logprob"));
            ObjectNode top = tops.addObject();
            for (JsonNode t : e.path("top_logprobs")) {
                top.set(t.path("token").asText(""), t.get("logprob"));
            }
            offsets.add(offset);
            offset += characters(e.path("bytes"));
        }
        out.set("content", chat(ollama).get("content"));
        return out;
    }

    /** How many characters of the answer an Ollama line's log probabilities cover (their tokens' text). */
    static int textLength(JsonNode ollama) {
        int n = 0;
        for (JsonNode e : ollama.path("logprobs")) {
            n += characters(e.path("bytes"));
        }
        return n;
    }

    /** The characters (code points) of {@code text}; 0 for null. */
    static int characters(String text) {
        return text == null ? 0 : text.codePointCount(0, text.length());
    }

    /** The characters UTF-8 {@code bytes} begin: every byte but a continuation byte starts one. */
    private static int characters(JsonNode bytes) {
        int n = 0;
        for (JsonNode b : bytes) {
            if ((b.intValue() & 0xC0) != 0x80) {
                n++;
            }
        }
        return n;
    }
}
