package dev.gantry.runtime.testing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gantry.runtime.engine.Engine;
import dev.gantry.runtime.engine.EngineSession.DecodeStatus;
import dev.gantry.runtime.engine.SamplingParams;
import dev.gantry.runtime.engine.SequenceSampler;
import dev.gantry.runtime.engine.SessionParams;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** The fixture itself: its vocabulary, its model and the contract checks the runner tests rely on. */
class FakeEngineTest {
    private static final SamplingParams GREEDY = SamplingParams.greedyDefaults();

    @Test
    void vocabularyIsBytesPlusThree() {
        FakeEngine e = FakeEngine.create();
        String text = "aé中😀";
        int[] tokens = e.tokenize(text, true, false);
        assertEquals(FakeEngine.BOS, tokens[0]);
        assertEquals(1 + text.getBytes(StandardCharsets.UTF_8).length, tokens.length);
        assertEquals('a' + 3, tokens[1]);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int t : tokens) {
            out.writeBytes(e.piece(t));
        }
        assertEquals(text, out.toString(StandardCharsets.UTF_8));
        assertArrayEquals(FakeEngine.encode(text), e.tokenize(text, false, true));
        assertTrue(e.isEndOfGeneration(FakeEngine.EOS));
        assertFalse(e.isEndOfGeneration(FakeEngine.BOS));
        assertEquals(0, e.piece(FakeEngine.EOS).length);
        assertEquals(FakeEngine.VOCAB_SIZE, e.info().vocabSize());
        assertThrows(IllegalArgumentException.class, () -> e.piece(FakeEngine.VOCAB_SIZE));
    }

    @Test
    void chatTemplateIsChatMl() {
        String s = FakeEngine.create().applyChatTemplate(List.of(new Engine.ChatMessage("system", "Be brief."),
                new Engine.ChatMessage("user", "Hi")), true);
        assertEquals("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                + "<|im_start|>assistant\n", s);
    }

    @Test
    void expectedOutputFollowsTheScript() {
        FakeEngine e = FakeEngine.builder().script("abc").eosAfter(7).build();
        assertEquals("abcabca", e.expectedText(FakeEngine.prompt("x?")));
        assertEquals("abc", e.expectedText(FakeEngine.prompt("x?"), 3));
        // a prompt that ends with the start of the script is continued
        assertEquals("cabca", e.expectedText(FakeEngine.prompt("xab")));
        FakeEngine never = FakeEngine.builder().neverEnds().build();
        assertEquals(FakeEngine.DEFAULT_SCRIPT + "Once",
                FakeEngine.decode(never.expectedTokens(FakeEngine.prompt("?"), FakeEngine.DEFAULT_SCRIPT.length() + 4, 0)));
        assertEquals(3, never.expectedTokens(FakeEngine.prompt("?"), -1, 5).length);
        assertThrows(IllegalArgumentException.class, () -> never.expectedText(FakeEngine.prompt("?")));
    }

    @Test
    void aSessionDecodesLikeTheExpectedOutput() {
        FakeEngine e = FakeEngine.builder().eosAfter(10).build();
        int[] prompt = FakeEngine.prompt("Hello?");
        try (FakeSession s = e.openSession(new SessionParams(64, 2, 16, 1, false))) {
            SequenceSampler sampler = s.newSampler(1, GREEDY, prompt);
            int idx = -1;
            for (int i = 0; i < prompt.length; i++) {
                idx = s.add(prompt[i], i, 1, i == prompt.length - 1);
            }
            int pos = prompt.length;
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            while (true) {
                assertEquals(DecodeStatus.OK, s.decode());
                int t = s.sample(sampler, idx);
                if (e.isEndOfGeneration(t)) {
                    break;
                }
                out.writeBytes(e.piece(t));
                s.clearBatch();
                idx = s.add(t, pos++, 1, true);
            }
            assertEquals(e.expectedText(prompt), out.toString(StandardCharsets.UTF_8));
            assertEquals(prompt.length + 10, s.usedCells());
            assertEquals(prompt.length + 10, s.cellsOf(1));
            assertEquals(11, s.stepCount());
            sampler.close();
            s.freeSequence(1);
            assertEquals(0, s.usedCells());
            assertEquals(0, s.openSamplers());
        }
        assertEquals(List.of(), e.violations());
    }

    @Test
    void aBatchThatDoesNotFitTheFreeCellsKeepsNothing() {
        FakeEngine e = FakeEngine.create();
        FakeSession s = e.openSession(new SessionParams(10, 2, 16, 1, false));
        for (int i = 0; i < 8; i++) {
            s.add(10, i, 0, false);
        }
        assertEquals(DecodeStatus.OK, s.decode());
        s.clearBatch();
        for (int i = 0; i < 3; i++) {
            s.add(10, i, 1, i == 2);
        }
        assertEquals(DecodeStatus.NO_KV_SLOT, s.decode());
        assertEquals(8, s.usedCells());
        assertEquals(0, s.cellsOf(1));
        assertEquals(1, s.noKvSlotCount());
        assertEquals(List.of(), e.violations());
    }

    @Test
    void aSplitCacheLimitsEachSequenceToItsStream() {
        FakeEngine e = FakeEngine.create();
        FakeSession s = e.openSession(new SessionParams(20, 2, 32, 1, false, false));
        assertEquals(10, s.streamCells());
        for (int i = 0; i < 11; i++) {
            s.add(10, i, 0, false);
        }
        assertEquals(DecodeStatus.NO_KV_SLOT, s.decode(), "11 cells do not fit a stream of 10 though 20 are free");
        s.clearBatch();
        for (int i = 0; i < 10; i++) {
            s.add(10, i, 0, false);
            s.add(10, i, 1, false);
        }
        assertEquals(DecodeStatus.OK, s.decode());
        assertEquals(20, s.usedCells());
        assertEquals(List.of(), e.violations());
    }

    @Test
    void ignoreEosContinuesTheScript() {
        FakeEngine e = FakeEngine.builder().script("ab").eosAfter(1).build();
        int[] prompt = FakeEngine.prompt("?");
        assertEquals("abab", FakeEngine.decode(e.expectedTokens(prompt, 4, 0, true)));
        FakeSession s = e.openSession(new SessionParams(64, 2, 16, 1, false));
        SequenceSampler plain = s.newSampler(0, GREEDY, prompt);
        SequenceSampler ignoring = s.newSampler(1, GREEDY.withIgnoreEos(true), prompt);
        s.add(FakeEngine.BOS, 0, 0, false);
        int i0 = s.add(prompt[1], 1, 0, true);
        s.add(FakeEngine.BOS, 0, 1, false);
        int i1 = s.add(prompt[1], 1, 1, true);
        s.decode();
        int a = s.sample(plain, i0);
        int b = s.sample(ignoring, i1);
        assertEquals(FakeEngine.encode("a")[0], a);
        assertEquals(a, b);
        s.clearBatch();
        i0 = s.add(a, 2, 0, true);
        i1 = s.add(b, 2, 1, true);
        s.decode();
        assertEquals(FakeEngine.EOS, s.sample(plain, i0));
        assertEquals(FakeEngine.encode("b")[0], s.sample(ignoring, i1));
        assertEquals(List.of(), e.violations());
    }

    @Test
    void malformedBatchesAreViolations() {
        FakeEngine e = FakeEngine.create();
        FakeSession s = e.openSession(new SessionParams(64, 2, 4, 1, false));
        s.add(10, 1, 0, true); // sequence 0 is empty: position 0 expected
        assertThrows(IllegalStateException.class, s::decode);
        s.clearBatch();
        s.add(10, 0, 0, false);
        s.add(10, 2, 0, true); // a gap
        assertThrows(IllegalStateException.class, s::decode);
        s.clearBatch();
        assertThrows(IllegalStateException.class, s::decode); // empty
        assertThrows(IllegalStateException.class, () -> s.add(10, 0, 2, true)); // no such sequence
        for (int i = 0; i < 4; i++) {
            s.add(10, i, 0, false);
        }
        assertThrows(IllegalStateException.class, () -> s.add(10, 4, 0, false)); // over capacity
        assertEquals(5, e.violations().size(), e.violations().toString());
    }

    @Test
    void samplerMisuseIsAViolation() {
        FakeEngine e = FakeEngine.create();
        FakeSession s = e.openSession(new SessionParams(64, 2, 8, 1, false));
        SequenceSampler a = s.newSampler(0, GREEDY, new int[] {1});
        SequenceSampler b = s.newSampler(1, GREEDY, new int[] {1});
        assertThrows(IllegalStateException.class, () -> s.newSampler(0, GREEDY, new int[] {1})); // still open
        int ia = s.add(FakeEngine.BOS, 0, 0, true);
        assertThrows(IllegalStateException.class, () -> s.sample(a, ia)); // before decode
        s.decode();
        assertThrows(IllegalStateException.class, () -> s.sample(b, ia)); // another sequence's output
        a.close();
        assertThrows(IllegalStateException.class, () -> s.sample(a, ia)); // closed
        // sequence 0 still holds a cell: reusing it without freeing is a violation
        assertThrows(IllegalStateException.class, () -> s.newSampler(0, GREEDY, new int[] {1}));
        s.freeSequence(0);
        s.newSampler(0, GREEDY, new int[] {1}).close();
        assertEquals(5, e.violations().size(), e.violations().toString());
    }

    @Test
    void callsFromAnotherThreadAreViolations() throws Exception {
        FakeEngine e = FakeEngine.create();
        FakeSession s = e.openSession(new SessionParams(64, 2, 8, 1, false));
        Throwable t = CompletableFuture.runAsync(s::clearBatch).handle((v, x) -> x).get();
        assertTrue(t.getCause() instanceof IllegalStateException, String.valueOf(t));
        assertEquals(1, e.violations().size());
        assertTrue(e.violations().getFirst().contains("thread"), e.violations().getFirst());
        // inspection is fine from anywhere
        assertEquals(0, CompletableFuture.supplyAsync(s::usedCells).get());
        assertEquals(1, e.violations().size());
    }

    @Test
    void injectedFailuresAndClose() {
        FakeEngine e = FakeEngine.create();
        FakeSession s = e.openSession(new SessionParams(64, 2, 8, 1, false));
        s.add(FakeEngine.BOS, 0, 0, true);
        e.failNextDecode();
        assertThrows(FakeEngine.InjectedFailure.class, s::decode);
        assertEquals(0, s.usedCells());
        assertEquals(DecodeStatus.OK, s.decode());
        e.failDecodeAt(e.decodeCalls() + 2);
        s.clearBatch();
        s.add(10, 1, 0, true);
        assertEquals(DecodeStatus.OK, s.decode());
        s.clearBatch();
        s.add(10, 2, 0, true);
        assertThrows(FakeEngine.InjectedFailure.class, s::decode);
        s.close();
        assertTrue(s.isClosed());
        assertThrows(IllegalStateException.class, s::clearBatch);
        e.close();
        assertTrue(e.isClosed());
        assertThrows(IllegalStateException.class, () -> e.openSession(new SessionParams(64, 2, 8, 1, false)));
    }

    @Test
    void aDecodeDelayHoldsEachDecode() {
        FakeEngine e = FakeEngine.create().decodeDelay(java.time.Duration.ofMillis(20));
        FakeSession s = e.openSession(new SessionParams(64, 1, 8, 1, false));
        s.add(FakeEngine.BOS, 0, 0, true);
        long start = System.nanoTime();
        assertEquals(DecodeStatus.OK, s.decode());
        assertTrue(System.nanoTime() - start >= java.time.Duration.ofMillis(20).toNanos());
        assertEquals(1, e.decodeCalls());
    }

    @Test
    void factoryCountsLoadsAndFailsOnRequest() throws Exception {
        java.nio.file.Path file = java.nio.file.Files.createTempFile("fake", ".gguf");
        try {
            FakeEngineFactory f = new FakeEngineFactory(FakeEngine.builder().eosAfter(3));
            f.failNextLoad(new IllegalStateException("out of memory"));
            assertThrows(IllegalStateException.class, () -> f.load(file, FakeEngineFactoryDefaults.PARAMS));
            FakeEngine e = f.load(file, FakeEngineFactoryDefaults.PARAMS);
            assertEquals(3, e.eosAfter());
            assertEquals(2, f.loads());
            assertEquals(List.of(e), f.engines());
            assertThrows(IllegalArgumentException.class,
                    () -> f.load(file.resolveSibling("missing.gguf"), FakeEngineFactoryDefaults.PARAMS));
        } finally {
            java.nio.file.Files.delete(file);
        }
    }

    private static final class FakeEngineFactoryDefaults {
        static final dev.gantry.runtime.engine.EngineFactory.LoadParams PARAMS =
                dev.gantry.runtime.engine.EngineFactory.LoadParams.defaults();
    }
}
