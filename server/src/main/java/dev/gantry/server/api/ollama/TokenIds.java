package dev.gantry.server.api.ollama;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Optional;

/** Token ids a client sends instead of text (OpenAI's and llama-server's prompts and inputs). Pure. */
public final class TokenIds {
    private TokenIds() {}

    /**
     * The ids of a JSON list, or empty where one of its elements is not a token id (an integer from 0; whether it is
     * in the model's vocabulary is for {@link #outside} once the model is loaded).
     */
    public static Optional<int[]> parse(JsonNode list) {
        if (list == null || !list.isArray()) {
            return Optional.empty();
        }
        int[] out = new int[list.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode t = list.get(i);
            if (!t.isIntegralNumber() || !t.canConvertToInt() || t.intValue() < 0) {
                return Optional.empty();
            }
            out[i] = t.intValue();
        }
        return Optional.of(out);
    }

    /** The position of the first id not in a vocabulary of {@code vocab} tokens, or -1 where all are. */
    static int outside(int[] tokens, int vocab) {
        for (int i = 0; i < tokens.length; i++) {
            if (tokens[i] < 0 || tokens[i] >= vocab) {
                return i;
            }
        }
        return -1;
    }
}
