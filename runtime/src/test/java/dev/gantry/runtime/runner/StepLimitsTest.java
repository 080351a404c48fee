package dev.gantry.runtime.runner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gantry.runtime.engine.SamplingParams;
import dev.gantry.runtime.testing.RecordingObserver;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The runner's limits under the adaptive controller: steps that only embed do not move them. */
class StepLimitsTest {
    private static final long TARGET = 50_000_000L; // 50 ms
    private static final long SLOW = 10 * TARGET;

    private static RunnerConfig config() {
        return new RunnerConfig(512, 8 * 512, 8, 16, 512, 1, false, true, TARGET);
    }

    private static Sequence sequence(boolean embedding, int chunk, int generated) {
        Sequence s = new Sequence(new GenerationRequest(new int[] {1, 2, 3}, SamplingParams.greedyDefaults(), 4),
                new RecordingObserver(), System.nanoTime(), embedding);
        s.chunk = chunk;
        s.generated = generated;
        return s;
    }

    @Test
    void slowStepsOfEmbeddingsAloneLeaveTheBudget() {
        StepLimits limits = new StepLimits("t", config());
        List<Sequence> embeddings = List.of(sequence(true, 300, 0), sequence(true, 200, 0));
        for (int i = 0; i < 200; i++) {
            limits.observe(SLOW, StepLimits.load(embeddings), 10);
        }
        assertEquals(512, limits.promptBudget());
        assertEquals(8, limits.maxActive());
    }

    /** An embedding input's chunk is prompt work of the step, read before the input leaves with its vector. */
    @Test
    void aStepsLoadCountsEmbeddingChunksAsPromptTokens() {
        StepLimits.Load load = StepLimits.load(List.of(sequence(true, 300, 0), sequence(false, 1, 5),
                sequence(false, 20, 0)));
        assertEquals(new StepLimits.Load(1, 320, 3, false), load);
        assertTrue(StepLimits.load(List.of(sequence(true, 8, 0))).nothingGenerates());
    }

    @Test
    void slowStepsWithAGeneratingSequenceCutIt() {
        StepLimits limits = new StepLimits("t", config());
        List<Sequence> mixed = List.of(sequence(true, 300, 0), sequence(false, 1, 5));
        for (int i = 0; i < 200; i++) {
            limits.observe(SLOW, StepLimits.load(mixed), 10);
        }
        assertTrue(limits.promptBudget() < 512 || limits.maxActive() < 8,
                "the ITL target cuts what a generation waits on: " + limits.promptBudget() + ", " + limits.maxActive());
    }
}
