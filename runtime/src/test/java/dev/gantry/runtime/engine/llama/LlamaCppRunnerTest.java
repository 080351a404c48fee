package dev.gantry.runtime.engine.llama;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gantry.llama.ContextParams;
import dev.gantry.llama.LlamaBatch;
import dev.gantry.llama.LlamaContextHandle;
import dev.gantry.llama.LlamaSampler;
import dev.gantry.runtime.engine.EngineSession;
import dev.gantry.runtime.engine.SamplingParams;
import dev.gantry.runtime.engine.SequenceSampler;
import dev.gantry.runtime.engine.SessionParams;
import dev.gantry.runtime.runner.FinishReason;
import dev.gantry.runtime.runner.GenerationRequest;
import dev.gantry.runtime.runner.Runner;
import dev.gantry.runtime.runner.RunnerConfig;
import dev.gantry.runtime.runner.RunnerStats;
import dev.gantry.runtime.sampling.ParallelSampling;
import dev.gantry.runtime.testing.RecordingObserver;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A runner over the real llama.cpp engine and the tiny stories model, on the CPU with one thread: batching, chunking
 * and the sampling paths must not change what the model generates.
 */
class LlamaCppRunnerTest extends TinyEngineTestBase {
    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final SamplingParams GREEDY = SamplingParams.greedyDefaults();
    private static final List<String> PROMPTS = List.of("Once upon a time", "Lily wanted to play", "The cat sat",
            "Tom had a big red ball", "One day, a little bird", "The sun was", "Sam and his mom went to the park",
            "There was a dog");

    private Runner runner(boolean backendSampling, int promptBudget) {
        return start("llama",
                new RunnerConfig(256, 8 * 256, 8, 16, promptBudget, 1, backendSampling));
    }

    private static int[] prompt(String text) {
        return engine.tokenize(text, true, false);
    }

    private static RecordingObserver submit(Runner runner, int[] prompt, SamplingParams params, int maxTokens) {
        RecordingObserver o = new RecordingObserver();
        runner.submit(new GenerationRequest(prompt, params, maxTokens), o);
        return o;
    }

    private static int[] finish(RecordingObserver o) {
        FinishReason reason = o.awaitFinish(WAIT).reason();
        assertTrue(reason == FinishReason.STOP || reason == FinishReason.LENGTH, reason.toString());
        assertEquals(List.of(), o.protocolErrors());
        return o.tokens();
    }

    private static int[] generate(Runner runner, int[] prompt, SamplingParams params, int maxTokens) {
        return finish(submit(runner, prompt, params, maxTokens));
    }

    private static String text(int[] tokens) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int t : tokens) {
            out.writeBytes(engine.piece(t));
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    /** Greedy decoding straight through the binding, one sequence, no runner. */
    private static int[] directGreedy(int[] prompt, int n) {
        try (LlamaContextHandle ctx = LlamaContextHandle.create(model, ContextParams.of(256, 1, 1));
             LlamaBatch batch = LlamaBatch.allocate(256);
             LlamaSampler sampler = LlamaSampler.chain().greedy().build()) {
            for (int i = 0; i < prompt.length; i++) {
                batch.add(prompt[i], i, 0, i == prompt.length - 1);
            }
            int pos = prompt.length;
            int[] out = new int[n];
            int count = 0;
            while (count < n) {
                assertEquals(0, ctx.decode(batch));
                int t = sampler.sample(ctx, batch.size() - 1);
                if (model.isEndOfGeneration(t)) {
                    break;
                }
                out[count++] = t;
                batch.clear();
                batch.add(t, pos++, 0, true);
            }
            return Arrays.copyOf(out, count);
        }
    }

    @Test
    void greedyGenerationMatchesADirectGreedyDecode() {
        int[] p = prompt("Once upon a time");
        int[] expected = directGreedy(p, 48);
        assertTrue(expected.length > 10, "the model writes a story: " + text(expected));
        Runner runner = runner(false, 64);
        int[] got = generate(runner, p, GREEDY, 48);
        assertArrayEquals(expected, got, "runner: " + text(got) + "\ndirect: " + text(expected));
        assertTrue(text(got).matches("(?s).*\\b(the|was|a|she|he|little)\\b.*"), text(got));
        RunnerStats s = runner.stats();
        assertEquals(0, s.kvCellsUsed());
        assertEquals(p.length, s.promptTokens());
    }

    @Test
    void batchingDoesNotChangeGreedyOutput() {
        List<int[]> prompts = PROMPTS.stream().map(LlamaCppRunnerTest::prompt).toList();
        List<int[]> solo = prompts.stream().map(p -> directGreedy(p, 32)).toList();
        Runner runner = runner(false, 64);
        List<RecordingObserver> obs = new ArrayList<>();
        for (int[] p : prompts) {
            obs.add(submit(runner, p, GREEDY, 32));
        }
        for (int i = 0; i < prompts.size(); i++) {
            int[] got = finish(obs.get(i));
            assertArrayEquals(solo.get(i), got, PROMPTS.get(i) + ": batched " + text(got) + "\nsolo " + text(solo.get(i)));
        }
        RunnerStats s = runner.stats();
        assertTrue(s.batchedSteps() > 0 && s.maxSequencesInStep() >= 2, s.toString());
        assertEquals(8, s.completed());
    }

    /**
     * Generations of different lengths leave gaps between the ids of each step; the runner fills them with
     * placeholder tokens that llama.cpp decodes and the runner cuts out again (at a parked slot's end, at 0 for a
     * free id), so a step stays one forward pass, and a gap that lasts gets a sequence moved down into it (llama.cpp
     * copies its stream). What every sequence generates is what it generates alone, and no cell stays behind.
     */
    @Test
    void placeholdersInIdGapsDoNotChangeGreedyOutput() {
        List<int[]> prompts = PROMPTS.stream().map(LlamaCppRunnerTest::prompt).toList();
        int[] lengths = {40, 3, 40, 8, 40, 5, 40, 12};
        Runner runner = start("llama-streams", new RunnerConfig(256, 8 * 256, 8, 16, 64, 1, false, false));
        List<RecordingObserver> obs = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            obs.add(submit(runner, prompts.get(i), GREEDY, lengths[i]));
        }
        obs.getFirst().awaitTokens(20, WAIT);
        int[] late = prompt("A girl named Mia");
        RecordingObserver lateObserver = submit(runner, late, GREEDY, 10); // takes a freed id mid-run
        for (int i = 0; i < prompts.size(); i++) {
            int[] got = finish(obs.get(i));
            int[] solo = directGreedy(prompts.get(i), lengths[i]);
            assertArrayEquals(solo, got, PROMPTS.get(i) + ": " + text(got) + "\nsolo " + text(solo));
        }
        assertArrayEquals(directGreedy(late, 10), finish(lateObserver));
        RunnerStats s = runner.stats();
        assertTrue(s.gapFillers() > 0, "no gap was filled: " + s);
        assertTrue(s.idMoves() > 0, "no sequence moved down into a gap that lasted: " + s);
        assertTrue(s.forwardPasses() >= s.steps(), s.toString());
        assertEquals(0, s.kvCellsUsed());
    }

    /**
     * Prompts that arrive while others generate are decoded ahead: after each step's decode and before its outputs
     * are sampled, a decode of their tokens but the last, without outputs (llama.cpp leaves the step's logits rows
     * where they are); the last goes into the next step beside the generating tokens. Every sequence generates what
     * it generates alone, and no cell stays behind. (On by default on a GPU only; forced on here.)
     */
    @Test
    void promptsDecodedAheadGiveTheSameGreedyOutput() {
        String before = LlamaCppSession.promptAhead;
        LlamaCppSession.promptAhead = "on";
        // rows split over the pool's workers, handed out before each wait: a prompt that comes in during the wait
        // goes ahead, and the parts prepared for the step are let go unused
        ParallelSampling.forceParts(2);
        try {
            Runner runner = start("llama-ahead", new RunnerConfig(256, 8 * 256, 8, 16, 6, 1, false, false));
            int[] first = prompt(PROMPTS.get(0));
            int[] second = prompt(PROMPTS.get(1));
            RecordingObserver a = submit(runner, first, GREEDY, 64);
            RecordingObserver b = submit(runner, second, GREEDY, 64);
            a.awaitTokens(4, WAIT);
            // long prompts, with a budget of 6 tokens a step: several steps each, while a and b generate
            List<int[]> late = List.of(prompt("Sam and his mom went to the park. They saw a big tree and a little dog"),
                    prompt("One day, a little bird flew over the hill and saw a girl named Lily with a red ball"));
            List<RecordingObserver> lateObservers = new ArrayList<>();
            for (int[] p : late) {
                lateObservers.add(submit(runner, p, GREEDY, 16));
            }
            assertArrayEquals(directGreedy(first, 64), finish(a));
            assertArrayEquals(directGreedy(second, 64), finish(b));
            for (int i = 0; i < late.size(); i++) {
                int[] got = finish(lateObservers.get(i));
                int[] solo = directGreedy(late.get(i), 16);
                assertArrayEquals(solo, got, "late " + i + ": " + text(got) + "\nsolo " + text(solo));
            }
            RunnerStats s = runner.stats();
            assertTrue(s.aheadTokens() > 0, "nothing was decoded ahead: " + s);
            assertEquals(first.length + second.length + late.get(0).length + late.get(1).length, s.promptTokens(),
                    s.toString());
            assertEquals(0, s.kvCellsUsed());
        } finally {
            LlamaCppSession.promptAhead = before;
            ParallelSampling.forceParts(ParallelSampling.AUTO);
        }
    }

    /** A second prompt that starts like the first continues from the first's cells and writes what a fresh decode would. */
    @Test
    void aPromptThatStartsLikeAFinishedOneReusesItsCellsWithTheSameOutput() {
        String shared = "Sam and his mom went to the park. They saw a big tree and a little dog with a red ball.";
        int[] first = prompt(shared + " The dog");
        int[] second = prompt(shared + " The tree was");
        int[] expected = directGreedy(second, 24);
        Runner runner = runner(false, 64);
        generate(runner, first, GREEDY, 16);
        assertArrayEquals(expected, generate(runner, second, GREEDY, 24));
        int common = Arrays.mismatch(first, second);
        assertTrue(common >= 16, "the prompts share " + common + " tokens");
        RunnerStats s = runner.stats();
        assertEquals(common, s.reusedPromptTokens(), s.toString());
        assertEquals(first.length + second.length - common, s.promptTokens());
    }

    @Test
    void chunkedPromptsGiveTheSameGreedyOutput() {
        int[] p = prompt("Sam and his mom went to the park. They saw a big tree and a little dog");
        int[] expected = directGreedy(p, 24);
        assertArrayEquals(expected, generate(runner(false, 3), p, GREEDY, 24));
    }

    @Test
    void backendSamplingIsOnTheDeviceAndGivesTheSameGreedyTokens() {
        // the session really puts a plain greedy chain on the backend (llama.cpp supports it on the CPU too)
        try (EngineSession session = engine.openSession(new SessionParams(256, 2, 64, 1, true))) {
            int[] p = prompt("Once upon a time");
            try (SequenceSampler s = session.newSampler(0, GREEDY, p)) {
                assertTrue(s.onDevice(), "greedy sampling on the backend");
            }
            SamplingParams penalized = new SamplingParams(0f, 40, 0.9f, 0f, 1f, -1, 1.3f, 64, 0f, 0f);
            try (SequenceSampler s = session.newSampler(1, penalized, p)) {
                assertFalse(s.onDevice(), "repetition penalties are sampled on the host");
            }
        }
        Runner host = runner(false, 64);
        Runner device = runner(true, 64);
        for (String text : PROMPTS.subList(0, 4)) {
            int[] p = prompt(text);
            int[] onHost = generate(host, p, GREEDY, 32);
            int[] onDevice = generate(device, p, GREEDY, 32);
            assertArrayEquals(onHost, onDevice, text + ": host " + text(onHost) + "\ndevice " + text(onDevice));
        }
    }

    @Test
    void deviceAndHostSampledSequencesShareABatch() {
        SamplingParams penalized = new SamplingParams(0f, 40, 0.9f, 0f, 1f, -1, 1.3f, 64, 0f, 0f);
        int[] a = prompt("Once upon a time");
        int[] b = prompt("Lily wanted to play");
        Runner device = runner(true, 64);
        int[] aSolo = generate(device, a, GREEDY, 32);
        int[] bSolo = generate(device, b, penalized, 32);
        RecordingObserver ao = submit(device, a, GREEDY, 32);
        RecordingObserver bo = submit(device, b, penalized, 32);
        assertArrayEquals(aSolo, finish(ao), "greedy on the device beside a host-sampled sequence");
        assertArrayEquals(bSolo, finish(bo), "penalized on the host beside a device-sampled sequence");
    }

    /**
     * Rows split over threads (as on a host with idle cores) draw what whole rows draw: one sequence seeded with a
     * repeat penalty, and several greedy ones in a step.
     */
    @Test
    void splitRowsDrawWhatWholeRowsDraw() {
        SamplingParams seeded = new SamplingParams(0.8f, 40, 0.9f, 0f, 1f, 42, 1.2f, 64, 0f, 0f);
        try {
            int[][][] got = new int[3][][];
            for (int mode = 0; mode < 3; mode++) {
                // through forEach, prepared whole rows, prepared in three parts
                dev.gantry.runtime.sampling.ParallelSampling.forceParts(mode);
                Runner runner = runner(false, 64);
                int[] alone = generate(runner, prompt(PROMPTS.get(0)), seeded, 24);
                List<RecordingObserver> together = new ArrayList<>();
                for (int i = 0; i < 3; i++) {
                    // greedy: which step admits each of them may change the batch, not the argmax
                    together.add(submit(runner, prompt(PROMPTS.get(i + 1)), GREEDY, 24));
                }
                got[mode] = new int[][] {alone, finish(together.get(0)), finish(together.get(1)),
                        finish(together.get(2))};
            }
            for (int i = 0; i < got[0].length; i++) {
                assertArrayEquals(got[0][i], got[1][i], "generation " + i + ", a row a task");
                assertArrayEquals(got[0][i], got[2][i], "generation " + i + ", three parts a row");
            }
        } finally {
            dev.gantry.runtime.sampling.ParallelSampling.forceParts(dev.gantry.runtime.sampling.ParallelSampling.AUTO);
        }
    }

    /**
     * Parts handed out for a step that never samples (the session closes first, as when a runner fails between its
     * decode and its sampling) let go of their workers: the pool still runs new work afterwards.
     */
    @Test
    void closingASessionReleasesItsWaitingParts() throws Exception {
        try {
            dev.gantry.runtime.sampling.ParallelSampling.forceParts(4);
            EngineSession session = engine.openSession(new SessionParams(256, 1, 64, 1, false));
            SequenceSampler sampler = session.newSampler(0, GREEDY, new int[] {1});
            session.prepareSampling(new SequenceSampler[] {sampler}, new int[] {0}, 1);
            session.close();
            java.util.concurrent.CompletableFuture<Void> later = java.util.concurrent.CompletableFuture.runAsync(
                    () -> dev.gantry.runtime.sampling.ParallelSampling.forEach(64, i -> { }));
            later.get(10, java.util.concurrent.TimeUnit.SECONDS);
        } finally {
            dev.gantry.runtime.sampling.ParallelSampling.forceParts(dev.gantry.runtime.sampling.ParallelSampling.AUTO);
        }
    }

    @Test
    void seededSamplingIsReproducible() {
        SamplingParams seeded = new SamplingParams(0.8f, 40, 0.9f, 0f, 1f, 42, 1f, 64, 0f, 0f);
        int[] p = prompt("Once upon a time");
        // one KV stream per sequence: two sequences in one batch then compute over the same cell layout (in one
        // shared buffer their cells interleave wherever free cells are, and a different summation order can move a
        // logit by an ulp)
        Runner runner = start("llama", new RunnerConfig(256, 8 * 256, 8, 16, 64, 1, false, false));
        int[] first = generate(runner, p, seeded, 40);
        int[] second = generate(runner, p, seeded, 40);
        assertTrue(first.length > 0);
        assertArrayEquals(first, second, text(first) + "\n" + text(second));
        // two sequences with the same seed in one batch draw the same tokens as each other (not necessarily as
        // the run alone: a batch of two computes its logits with other kernels, close but not bit-identical, and
        // a draw that lands between two nearly equal cumulative probabilities may then go the other way)
        // They must also join the batch in one step: an idle runner may start x alone before y arrives, and then
        // their steps differ in shape (one token against two) and so in kernels. A long request keeps the runner
        // busy in a step while both are queued.
        RecordingObserver busy = submit(runner, prompt("Lily wanted to play"), GREEDY, 160);
        busy.awaitTokens(2, WAIT);
        RecordingObserver x = submit(runner, p, seeded, 40);
        RecordingObserver y = submit(runner, p, seeded, 40);
        int[] fromX = finish(x);
        assertArrayEquals(fromX, finish(y));
        finish(busy);
        assertArrayEquals(Arrays.copyOf(first, 8), Arrays.copyOf(fromX, 8), "the same seed starts the same way");
    }

    @Test
    void aRepeatPenaltyChangesGreedyOutput() {
        SamplingParams penalized = new SamplingParams(0f, 40, 0.9f, 0f, 1f, -1, 1.3f, 64, 0f, 0f);
        int[] p = prompt("Once upon a time");
        Runner runner = runner(false, 64);
        int[] plain = generate(runner, p, GREEDY, 64);
        int[] withPenalty = generate(runner, p, penalized, 64);
        assertTrue(withPenalty.length > 0);
        assertFalse(Arrays.equals(plain, withPenalty),
                "a 1.3 repeat penalty should change a 64-token story: " + text(plain));
        assertArrayEquals(withPenalty, generate(runner, p, penalized, 64), "and it is deterministic");
    }
}
