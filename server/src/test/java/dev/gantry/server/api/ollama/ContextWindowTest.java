package dev.gantry.server.api.ollama;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.ToIntFunction;
import org.junit.jupiter.api.Test;

/** Dropping a chat's oldest messages to fit the context. */
class ContextWindowTest {
    /** A message as role and length in tokens. */
    record Msg(String role, int tokens) {}

    private static final ToIntFunction<List<Msg>> TOKENS = l -> l.stream().mapToInt(Msg::tokens).sum();

    /** The old way, one candidate after another from the oldest: what the bisection must agree with. */
    private static List<Msg> linear(List<Msg> messages, int target) {
        for (int i = 1; i < messages.size(); i++) {
            int start = i;
            if (messages.get(i).role().equals("tool")) {
                while (start > 0 && messages.get(start - 1).role().equals("tool")) {
                    start--;
                }
                start = start > 0 && messages.get(start - 1).role().equals("assistant") ? start - 1 : i;
            }
            List<Msg> kept = new ArrayList<>();
            for (int j = 0; j < start; j++) {
                if (messages.get(j).role().equals("system")) {
                    kept.add(messages.get(j));
                }
            }
            kept.addAll(messages.subList(start, messages.size()));
            if (TOKENS.applyAsInt(kept) <= target || i == messages.size() - 1) {
                return kept;
            }
        }
        return messages;
    }

    @Test
    void keepsTheSameMessagesAsDroppingOneAtATime() {
        java.util.SplittableRandom r = new java.util.SplittableRandom(3);
        String[] roles = {"user", "assistant", "tool", "tool", "system", "user"};
        for (int round = 0; round < 300; round++) {
            List<Msg> messages = new ArrayList<>();
            int n = 2 + r.nextInt(40);
            for (int i = 0; i < n; i++) {
                messages.add(new Msg(roles[r.nextInt(roles.length)], 1 + r.nextInt(60)));
            }
            int window = 20 + r.nextInt(600);
            int numPredict = r.nextInt(3) == 0 ? -1 : 1 + r.nextInt(100);
            if (TOKENS.applyAsInt(messages) < window) {
                continue;
            }
            List<Msg> got = ContextWindow.dropOldest(messages, Msg::role, TOKENS, window, numPredict, true);
            assertEquals(linear(messages, ContextWindow.target(window, numPredict, false)), got, "round " + round);
        }
    }

    @Test
    void aChatOfTwentyThousandMessagesIsCountedAFewDozenTimes() {
        List<Msg> messages = new ArrayList<>();
        messages.add(new Msg("system", 10));
        for (int i = 0; i < 20_000; i++) {
            messages.add(new Msg(i % 2 == 0 ? "user" : "assistant", 5));
        }
        AtomicInteger counts = new AtomicInteger();
        List<Msg> kept = ContextWindow.dropOldest(messages, Msg::role, l -> {
            counts.incrementAndGet();
            return TOKENS.applyAsInt(l);
        }, 2048, 128, true);
        assertTrue(counts.get() < 40, counts.get() + " counts");
        assertEquals("system", kept.getFirst().role());
        assertTrue(TOKENS.applyAsInt(kept) <= ContextWindow.target(2048, 128, false));
        assertTrue(TOKENS.applyAsInt(kept) > ContextWindow.target(2048, 128, false) - 5, "no more dropped than needed");
    }

    /** A cut prompt keeps its first num_keep tokens (Ollama's default 4; at least the BOS) and its last ones. */
    @Test
    void aCutPromptKeepsNumKeepTokensFromItsStart() {
        int[] prompt = java.util.stream.IntStream.range(0, 100).toArray();
        int keep = ContextWindow.target(64, 10, false); // 53 tokens: room for 10 to generate
        int[] byDefault = ContextWindow.fit(prompt, 64, 10, true);
        assertEquals(keep, byDefault.length);
        assertEquals(List.of(0, 1, 2, 3, 100 - keep + 4), List.of(byDefault[0], byDefault[1], byDefault[2],
                byDefault[3], byDefault[4]));
        assertEquals(99, byDefault[keep - 1]);
        int[] thirty = ContextWindow.fit(prompt, 64, 10, 30, true);
        assertEquals(29, thirty[29]);
        assertEquals(100 - keep + 30, thirty[30]);
        int[] none = ContextWindow.fit(prompt, 64, 10, 0, true);
        assertEquals(0, none[0], "the BOS stays");
        assertEquals(100 - keep + 1, none[1]);
        int[] all = ContextWindow.fit(prompt, 64, 10, -1, true);
        assertEquals(keep - 1, all[keep - 1], "-1: the start, as much as fits");
        // a request that shifts its context keeps all of the window but one token: generation makes room as it goes
        int[] shifting = ContextWindow.fit(prompt, 64, 10, 4, true, true);
        assertEquals(63, shifting.length);
        assertEquals(List.of(0, 1, 2, 3, 100 - 63 + 4), List.of(shifting[0], shifting[1], shifting[2], shifting[3],
                shifting[4]));
    }
}
