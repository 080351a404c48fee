package dev.gantry.server.api.openai;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * What OpenAI's requests take beyond one string: {@code /v1/completions}' prompts (strings, token ids, lists of
 * either) and {@code n}, {@code /v1/embeddings}' list inputs (strings, token ids, lists of token ids).
 */
final class OpenAiInputs {
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private OpenAiInputs() {}

    /** One prompt of {@code /v1/completions}: its text, or the token ids a client sent (then {@code text} is null). */
    public record Prompt(String text, int[] tokens) {}

    /** Prompts of one request at most (OpenAI's limit for a list of prompts). */
    static final int MAX_PROMPTS = 2048;

    private static final String PROMPT_SHAPES = "prompt must be a string, a list of strings, a list of token ids or a "
            + "list of lists of token ids";

    /**
     * {@code /v1/completions}' prompts, each answered as its own choice: a string (a missing prompt is "", which
     * only loads the model, as Ollama passes it on), a list of strings, one list of token ids, or a list of such
     * lists (strings and token lists may mix, as llama-server takes them).
     */
    static java.util.List<Prompt> prompts(ObjectNode req) {
        JsonNode prompt = req.get("prompt");
        if (prompt == null || prompt.isNull()) {
            return java.util.List.of(new Prompt("", null));
        }
        if (prompt.isTextual()) {
            return java.util.List.of(new Prompt(prompt.textValue(), null));
        }
        if (!prompt.isArray()) {
            throw OpenAiError.invalid("prompt", PROMPT_SHAPES);
        }
        if (prompt.isEmpty()) {
            throw OpenAiError.invalid("prompt", "prompt must not be an empty list");
        }
        if (prompt.get(0).isNumber()) { // one prompt as token ids
            return java.util.List.of(new Prompt(null, tokenIds(prompt, "prompt")));
        }
        if (prompt.size() == 1 && prompt.get(0).isTextual()) {
            return java.util.List.of(new Prompt(prompt.get(0).textValue(), null)); // as one string: "" only loads
        }
        if (prompt.size() > MAX_PROMPTS) {
            throw OpenAiError.invalid("prompt", "prompt holds " + prompt.size() + " prompts; at most " + MAX_PROMPTS
                    + " are taken in one request");
        }
        java.util.List<Prompt> out = new java.util.ArrayList<>(prompt.size());
        for (int i = 0; i < prompt.size(); i++) {
            JsonNode p = prompt.get(i);
            if (p.isTextual()) {
                out.add(new Prompt(p.textValue(), null));
            } else if (p.isArray()) {
                out.add(new Prompt(null, tokenIds(p, "prompt[" + i + "]")));
            } else {
                throw OpenAiError.invalid("prompt", PROMPT_SHAPES);
            }
            // Ollama's lone empty prompt only loads the model; a list's would be a choice of nothing
            if (p.isTextual() ? p.textValue().isEmpty() : p.isEmpty()) {
                throw OpenAiError.invalid("prompt", "prompt[" + i + "] is empty");
            }
        }
        return out;
    }

    /** Choices a request may ask for ({@code n}) at most, as OpenAI takes it. */
    static final int MAX_CHOICES = 128;

    /** How many choices a completion asks for: {@code n}, 1 where it is not set. */
    static int choiceCount(ObjectNode req) {
        Integer n = OpenAiFields.integer(req, "n");
        if (n == null) {
            return 1;
        }
        if (n < 1 || n > MAX_CHOICES) {
            throw OpenAiError.invalid("n", "n must be an integer from 1 to " + MAX_CHOICES);
        }
        return n;
    }

    static final String INPUT_SHAPES = "input must be a string, a list of strings, a list of token ids or "
            + "a list of lists of token ids";

    /**
     * {@code /v1/embeddings}' list input as {@code /api/embed}'s list: strings stay, one list of token ids is one
     * input, a list of such lists is one input each (strings and token lists may mix, as llama-server takes them).
     */
    static ArrayNode inputList(ArrayNode input) {
        boolean tokens = false;
        boolean other = false;
        for (JsonNode n : input) {
            tokens |= n.isNumber();
            other |= !n.isNumber();
        }
        if (tokens) {
            if (other) {
                throw OpenAiError.invalid("input", INPUT_SHAPES + " (a list mixed token ids with other values)");
            }
            tokenIds(input, "input");
            return NODES.arrayNode().add(input);
        }
        int i = 0;
        for (JsonNode n : input) {
            if (n.isArray()) {
                tokenIds(n, "input[" + i + "]");
            } else if (!n.isTextual()) {
                throw OpenAiError.invalid("input", INPUT_SHAPES);
            }
            i++;
        }
        return input;
    }

    /** Token ids: integers from 0 (whether each is in the model's vocabulary is checked once it is loaded). */
    private static int[] tokenIds(JsonNode list, String param) {
        return dev.gantry.server.api.ollama.TokenIds.parse(list).orElseThrow(
                () -> OpenAiError.invalid(param, param + " must hold token ids (integers from 0)"));
    }
}
