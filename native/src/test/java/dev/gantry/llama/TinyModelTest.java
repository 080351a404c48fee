package dev.gantry.llama;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The binding drives the real tiny model: tokenize, decode in batches, sample, edit the KV cache. */
class TinyModelTest {
    static LlamaModelHandle model;

    @BeforeAll
    static void load() {
        NativeTestSupport.llama();
        model = LlamaModelHandle.load(NativeTestSupport.tinyModel(), NativeTestSupport.cpu());
    }

    @AfterAll
    static void free() {
        model.close();
    }

    @Test
    void readsTheModelShape() {
        assertEquals(512, model.vocabSize());
        assertEquals(5, model.layerCount());
        assertEquals(64, model.embeddingLength());
        assertEquals(8, model.headCount());
        assertEquals(4, model.headCountKv());
        assertEquals(1, model.bos());
        assertEquals(2, model.eos());
        assertTrue(model.isEndOfGeneration(2));
        assertEquals("llama", model.metadata("general.architecture").orElseThrow());
    }

    @Test
    void tokenizesAndDetokenizes() {
        int[] tokens = model.tokenize("Once upon a time", true, false);
        assertEquals(1, tokens[0], "BOS first");
        ByteArrayOutputStream text = new ByteArrayOutputStream();
        for (int i = 1; i < tokens.length; i++) {
            text.writeBytes(model.piece(tokens[i]));
        }
        assertEquals(" Once upon a time", text.toString(StandardCharsets.UTF_8));
        assertEquals(0, model.tokenize("", false, false).length);
    }

    @Test
    void greedyDecodingWritesAStoryAndIsDeterministic() {
        String first = greedy("Once upon a time", 40);
        String second = greedy("Once upon a time", 40);
        assertEquals(first, second);
        assertTrue(first.split(" ").length > 10, first);
        assertTrue(first.matches("(?s).*\\b(there|was|a|the|little)\\b.*"), first);
    }

    @Test
    void twoSequencesInOneBatchMatchTheirSoloRuns() {
        String a = greedy("Once upon a time", 16);
        String b = greedy("Lily wanted to play", 16);
        String[] both = greedyPair("Once upon a time", "Lily wanted to play", 16);
        assertEquals(a, both[0]);
        assertEquals(b, both[1]);
    }

    @Test
    void freesSequenceCells() {
        try (LlamaContextHandle ctx = LlamaContextHandle.create(model, ContextParams.of(256, 2, 1));
             LlamaBatch batch = LlamaBatch.allocate(64)) {
            int[] tokens = model.tokenize("Once upon a time", true, false);
            for (int i = 0; i < tokens.length; i++) {
                batch.add(tokens[i], i, 1, i == tokens.length - 1);
            }
            assertEquals(0, ctx.decode(batch));
            assertEquals(tokens.length - 1, ctx.sequenceMaxPosition(1));
            assertEquals(-1, ctx.sequenceMaxPosition(0));
            assertTrue(ctx.removeSequence(1, -1, -1));
            assertEquals(-1, ctx.sequenceMaxPosition(1));
        }
    }

    @Test
    void builtinChatTemplateRenders() {
        String text = LlamaModelHandle.applyChatTemplate("chatml",
                List.of(new LlamaModelHandle.ChatMessage("system", "Be brief."),
                        new LlamaModelHandle.ChatMessage("user", "Hello")), true);
        assertEquals("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n", text);
        assertTrue(LlamaCpp.get().builtinChatTemplates().contains("chatml"));
        assertThrows(LlamaException.class, () -> LlamaModelHandle.applyChatTemplate("{{ nonsense }}",
                List.of(new LlamaModelHandle.ChatMessage("user", "x")), true));
    }

    @Test
    void handlesAreFreedOnceAndRefuseUseAfterClose() {
        LlamaModelHandle m = LlamaModelHandle.load(NativeTestSupport.tinyModel(), NativeTestSupport.cpu());
        LlamaContextHandle ctx = LlamaContextHandle.create(m, ContextParams.of(64, 1, 1));
        LlamaSampler s = LlamaSampler.chain().greedy().build();
        s.close();
        s.close();
        ctx.close();
        ctx.close();
        m.close();
        m.close();
        assertThrows(IllegalStateException.class, () -> m.tokenize("x", false, false));
        assertThrows(IllegalStateException.class, () -> ctx.contextSize());
        assertThrows(IllegalStateException.class, () -> s.reset());
    }

    @Test
    void aMissingOrCorruptModelFailsWithAClearError(@TempDir Path dir) throws Exception {
        LlamaException missing = assertThrows(LlamaException.class,
                () -> LlamaModelHandle.load(dir.resolve("none.gguf"), NativeTestSupport.cpu()));
        assertTrue(missing.getMessage().contains("not found"), missing.getMessage());
        Path corrupt = dir.resolve("corrupt.gguf");
        byte[] bytes = Files.readAllBytes(NativeTestSupport.tinyModel());
        Files.write(corrupt, Arrays.copyOf(bytes, bytes.length / 3));
        LlamaException e = assertThrows(LlamaException.class, () -> LlamaModelHandle.load(corrupt, NativeTestSupport.cpu()));
        assertTrue(e.getMessage().contains("corrupt.gguf"), e.getMessage());
    }

    @Test
    void invalidGrammarIsRejected() {
        assertThrows(IllegalArgumentException.class,
                () -> LlamaSampler.chain().grammar(model, "root ::= (", "root").greedy().build());
        try (LlamaSampler ok = LlamaSampler.chain().grammar(model, "root ::= \"yes\" | \"no\"", "root").greedy().build()) {
            assertTrue(ok.hasGrammar());
            assertEquals(2, ok.length());
        }
    }

    /** A grammar alone, asked about single tokens and applied to a whole row, agrees with itself and its text. */
    @Test
    void aGrammarAllowsAndMasksExactlyTheTokensThatFit() {
        try (LlamaSampler g = LlamaSampler.chain().grammar(model, "root ::= \"yes\" | \"no\"", "root").build()) {
            int vocab = model.vocabSize();
            float[] row = new float[vocab];
            Arrays.fill(row, 1f);
            row[7] = Float.NEGATIVE_INFINITY; // already out: stays out, whatever the grammar says
            g.applyTo(row);
            int allowed = 0;
            for (int t = 0; t < vocab; t++) {
                String piece = new String(model.piece(t), java.nio.charset.StandardCharsets.UTF_8);
                boolean fits = !piece.isEmpty() && ("yes".startsWith(piece) || "no".startsWith(piece));
                if (t != 7) {
                    assertEquals(fits, row[t] == 1f, "token " + t + " '" + piece + "' after the mask");
                    assertEquals(fits, g.allows(t), "token " + t + " '" + piece + "' asked alone");
                }
                allowed += row[t] == 1f ? 1 : 0;
            }
            assertTrue(allowed > 0);
            g.accept(tokenOf("y")); // a token the grammar does not allow would abort the process here
            assertTrue(g.allows(tokenOf("e")));
            assertFalse(g.allows(tokenOf("n")));
        }
    }

    /** The token whose piece is exactly {@code text}. */
    static int tokenOf(String text) {
        for (int t = 0; t < model.vocabSize(); t++) {
            if (text.equals(new String(model.piece(t), java.nio.charset.StandardCharsets.UTF_8))) {
                return t;
            }
        }
        throw new AssertionError("no token is '" + text + "'");
    }

    static String greedy(String prompt, int n) {
        try (LlamaContextHandle ctx = LlamaContextHandle.create(model, ContextParams.of(256, 1, 1));
             LlamaBatch batch = LlamaBatch.allocate(64);
             LlamaSampler sampler = LlamaSampler.chain().greedy().build()) {
            int[] tokens = model.tokenize(prompt, true, false);
            for (int i = 0; i < tokens.length; i++) {
                batch.add(tokens[i], i, 0, i == tokens.length - 1);
            }
            int pos = tokens.length;
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            for (int step = 0; step < n; step++) {
                assertEquals(0, ctx.decode(batch));
                int t = sampler.sample(ctx, batch.size() - 1);
                if (model.isEndOfGeneration(t)) {
                    break;
                }
                out.writeBytes(model.piece(t));
                batch.clear();
                batch.add(t, pos++, 0, true);
            }
            return out.toString(StandardCharsets.UTF_8);
        }
    }

    static String[] greedyPair(String p0, String p1, int n) {
        try (LlamaContextHandle ctx = LlamaContextHandle.create(model, ContextParams.of(512, 2, 1));
             LlamaBatch batch = LlamaBatch.allocate(64);
             LlamaSampler s0 = LlamaSampler.chain().greedy().build();
             LlamaSampler s1 = LlamaSampler.chain().greedy().build()) {
            int[] t0 = model.tokenize(p0, true, false);
            int[] t1 = model.tokenize(p1, true, false);
            int i0 = 0;
            int i1 = 0;
            for (int i = 0; i < t0.length; i++) {
                i0 = batch.add(t0[i], i, 0, i == t0.length - 1);
            }
            for (int i = 0; i < t1.length; i++) {
                i1 = batch.add(t1[i], i, 1, i == t1.length - 1);
            }
            int pos0 = t0.length;
            int pos1 = t1.length;
            ByteArrayOutputStream o0 = new ByteArrayOutputStream();
            ByteArrayOutputStream o1 = new ByteArrayOutputStream();
            boolean done0 = false;
            boolean done1 = false;
            for (int step = 0; step < n && !(done0 && done1); step++) {
                assertEquals(0, ctx.decode(batch));
                int a = done0 ? -1 : s0.sample(ctx, i0);
                int b = done1 ? -1 : s1.sample(ctx, i1);
                batch.clear();
                if (!done0) {
                    if (model.isEndOfGeneration(a)) {
                        done0 = true;
                    } else {
                        o0.writeBytes(model.piece(a));
                        i0 = batch.add(a, pos0++, 0, true);
                    }
                }
                if (!done1) {
                    if (model.isEndOfGeneration(b)) {
                        done1 = true;
                    } else {
                        o1.writeBytes(model.piece(b));
                        i1 = batch.add(b, pos1++, 1, true);
                    }
                }
            }
            assertFalse(o0.size() == 0);
            return new String[] {o0.toString(StandardCharsets.UTF_8), o1.toString(StandardCharsets.UTF_8)};
        }
    }

    @Test
    void sameTokensForTheSameText() {
        assertArrayEquals(model.tokenize("The cat sat.", false, false), model.tokenize("The cat sat.", false, false));
    }
}
