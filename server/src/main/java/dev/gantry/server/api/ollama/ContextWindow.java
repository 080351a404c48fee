package dev.gantry.server.api.ollama;

import dev.gantry.runtime.engine.Engine;
import dev.gantry.server.http.ApiException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.ToIntFunction;

/**
 * Makes a request fit its context, as Ollama does: {@code num_ctx} (within the context the model was loaded with),
 * a chat's oldest messages dropped (its system messages kept), then a prompt's leading tokens dropped (its first,
 * the BOS, kept), each logged; or a 400 when the request says {@code "truncate": false}. Pure but for the log.
 *
 * <p>A prompt that fits is left alone. One that does not is cut to the context less one token when the request
 * shifts its context (Ollama's default: the generation makes room as it goes), else to leave room to generate (half
 * the context at most, or an eighth without {@code num_predict}), since a prompt cut to the whole context could then
 * generate nothing.
 */
final class ContextWindow {
    private static final System.Logger LOG = System.getLogger("gantry.api");

    private ContextWindow() {}

    /** The tokens this request may use: its {@code num_ctx} when given, at most {@code loaded}. */
    static int of(int loaded, int numCtx) {
        if (numCtx <= 0) {
            return loaded;
        }
        if (numCtx > loaded) {
            LOG.log(System.Logger.Level.WARNING, "num_ctx {0} is more than the {1} tokens per sequence the model was "
                    + "loaded with; using {1} (OLLAMA_CONTEXT_LENGTH sets the loaded context)", numCtx, loaded);
            return loaded;
        }
        return Math.max(4, numCtx);
    }

    /**
     * How long a prompt that had to be cut may be: all the window but one token when the context shifts, else the
     * window less room to generate.
     */
    static int target(int window, int numPredict, boolean shift) {
        if (shift) {
            return Math.max(1, window - 1);
        }
        int room = numPredict > 0 ? Math.min(numPredict, window / 2) : Math.max(1, window / 8);
        return Math.max(1, window - room - 1);
    }

    /**
     * Drops a conversation's oldest messages until it fits, keeping its system messages and at least the last
     * message (with the assistant turn whose tool calls a trailing tool result answers). {@code tokens} counts a
     * candidate's rendered prompt. With {@code truncate} false the messages are kept: {@link #fit} refuses them.
     */
    static <M> List<M> dropOldest(List<M> messages, java.util.function.Function<M, String> role,
                                  ToIntFunction<List<M>> tokens, int window, int numPredict, boolean truncate) {
        return dropOldest(messages, role, tokens, window, numPredict, false, truncate);
    }

    /** {@link #dropOldest}, cutting to the whole window less one token when the context {@code shift}s. */
    static <M> List<M> dropOldest(List<M> messages, java.util.function.Function<M, String> role,
                                  ToIntFunction<List<M>> tokens, int window, int numPredict, boolean shift,
                                  boolean truncate) {
        if (!truncate || messages.size() < 2 || tokens.applyAsInt(messages) < window) {
            return messages;
        }
        int target = target(window, numPredict, shift);
        // The fewest oldest messages to drop, by bisection: dropping more never lengthens the prompt, and
        // rendering and counting once per candidate (as a loop from the oldest did) took minutes for a chat of
        // 20,000 messages.
        int lo = 1;
        int hi = messages.size() - 1; // dropping all but the last block, when nothing fits
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (tokens.applyAsInt(keptFrom(messages, role, mid)) <= target) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        List<M> kept = keptFrom(messages, role, lo);
        LOG.log(System.Logger.Level.WARNING, "dropped the {0} oldest of {1} chat messages to fit the context of {2} "
                + "tokens", messages.size() - kept.size(), messages.size(), window);
        return kept;
    }

    /** The conversation from message {@code i} on (with its block), and the system messages before it. */
    private static <M> List<M> keptFrom(List<M> messages, java.util.function.Function<M, String> role, int i) {
        int start = blockStart(messages, role, i);
        List<M> kept = new ArrayList<>();
        for (int j = 0; j < start; j++) {
            if (role.apply(messages.get(j)).equals("system")) {
                kept.add(messages.get(j));
            }
        }
        kept.addAll(messages.subList(start, messages.size()));
        return kept;
    }

    /** A tool result is not kept without the assistant message before its block of results. */
    private static <M> int blockStart(List<M> messages, java.util.function.Function<M, String> role, int i) {
        if (!role.apply(messages.get(i)).equals("tool")) {
            return i;
        }
        int start = i;
        while (start > 0 && role.apply(messages.get(start - 1)).equals("tool")) {
            start--;
        }
        return start > 0 && role.apply(messages.get(start - 1)).equals("assistant") ? start - 1 : i;
    }

    /** {@link #fit(int[], int, int, int, boolean)} with Ollama's default {@code num_keep} of 4. */
    static int[] fit(int[] tokens, int window, int numPredict, boolean truncate) {
        return fit(tokens, window, numPredict, OllamaOptions.DEFAULT_NUM_KEEP, truncate);
    }

    /**
     * A prompt that fits the window, or, when it does not, its first {@code numKeep} tokens (at least the first,
     * the BOS; a negative {@code numKeep}: as many as fit) and its last tokens, as Ollama's runner cuts a prompt;
     * a 400 when the request says {@code truncate: false}.
     */
    static int[] fit(int[] tokens, int window, int numPredict, int numKeep, boolean truncate) {
        return fit(tokens, window, numPredict, numKeep, false, truncate);
    }

    /** {@link #fit(int[], int, int, int, boolean)}, cutting to the whole window less one when it {@code shift}s. */
    static int[] fit(int[] tokens, int window, int numPredict, int numKeep, boolean shift, boolean truncate) {
        if (tokens.length < window) {
            return tokens;
        }
        if (!truncate) {
            throw ApiException.badRequest(tokens.length > window
                    ? "the input length exceeds the context length (" + tokens.length + " tokens, context " + window
                    + ")"
                    : "the input fills the context (" + tokens.length + " tokens), leaving no room to generate");
        }
        int keep = target(window, numPredict, shift);
        int head = numKeep < 0 ? keep : Math.clamp(numKeep, 1, keep);
        int[] out = new int[keep];
        System.arraycopy(tokens, 0, out, 0, head);
        System.arraycopy(tokens, tokens.length - (keep - head), out, head, keep - head);
        LOG.log(System.Logger.Level.WARNING, "truncated a prompt of {0} tokens to {1} to fit the context of {2}",
                tokens.length, keep, window);
        return out;
    }
}
