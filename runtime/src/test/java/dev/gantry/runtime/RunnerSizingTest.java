package dev.gantry.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gantry.runtime.RuntimeConfig.BackendSampling;
import dev.gantry.runtime.engine.EngineInfo;
import dev.gantry.runtime.runner.RunnerConfig;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The runner plan for a model and the process defaults, case by case. */
class RunnerSizingTest {

    /**
     * One planning case: the model, the configuration, the cores, and the plan expected.
     *
     * @param train the model's training context (0: unknown)
     */
    record Case(String name, int train, boolean gpu, boolean backendSamplingSupported, boolean unified,
                int numParallel, int contextLength, int kvCells, int threads, BackendSampling sampling,
                int processors, int expectPerSequence, int expectCells, int expectParallel, int expectThreads,
                boolean expectBackendSampling) {
        @Override
        public String toString() {
            return name;
        }
    }

    /** A CPU model on 8 cores (7 threads), automatic sampling. */
    private static Case cpu(String name, boolean unified, int train, int numParallel, int contextLength,
                            int kvCells, int perSequence, int cells, int parallel) {
        return new Case(name, train, false, false, unified, numParallel, contextLength, kvCells, 0,
                BackendSampling.AUTO, 8, perSequence, cells, parallel, 7, false);
    }

    /** Threads and sampling cases, on a model trained on 2048 with a split cache (64 streams of 2048). */
    private static Case device(String name, boolean gpu, boolean supported, int threads, BackendSampling sampling,
                               int processors, int expectThreads, boolean expectBackendSampling) {
        return new Case(name, 2048, gpu, supported, false, 0, 4096, 0, threads, sampling, processors,
                2048, 131_072, 64, expectThreads, expectBackendSampling);
    }

    static Stream<Arguments> cases() {
        return Stream.of(
                // a unified cache: cells for eight full sequences, sequences of about 256 cells on average
                cpu("unified: model trained on 2048", true, 2048, 0, 4096, 0, 2048, 16_384, 64),
                cpu("unified: unknown training context uses the configured one", true, 0, 0, 4096, 0, 4096, 32_768, 64),
                cpu("unified: tiny model trained on 128", true, 128, 0, 4096, 0, 128, 1024, 4),
                cpu("unified: configured context shorter than training", true, 8192, 0, 1024, 0, 1024, 8192, 32),
                cpu("unified: the context is at least 8", true, 4, 0, 4096, 0, 8, 64, 1),
                cpu("unified: a long context is one sequence's worth", true, 131_072, 0, 131_072, 0, 131_072, 131_072, 64),
                cpu("unified: auto cells are capped", true, 32_768, 0, 32_768, 0, 32_768, 131_072, 64),
                cpu("unified: explicit cells grow to one sequence", true, 2048, 0, 4096, 1000, 2048, 2048, 8),
                cpu("unified: explicit cells are kept", true, 2048, 0, 4096, 100_000, 2048, 100_000, 64),
                cpu("unified: explicit cells size the parallelism", true, 2048, 0, 4096, 4096, 2048, 4096, 16),
                cpu("unified: small explicit cells", true, 512, 0, 512, 512, 512, 512, 2),
                cpu("unified: explicit parallelism", true, 2048, 3, 4096, 0, 2048, 16_384, 3),
                cpu("unified: parallelism is capped at llama.cpp's 256", true, 2048, 300, 4096, 0, 2048, 16_384, 256),
                // a split cache: one full-context stream per sequence, as Ollama sizes num_ctx x num_parallel
                cpu("split: model trained on 2048", false, 2048, 0, 4096, 0, 2048, 131_072, 64),
                cpu("split: unknown training context", false, 0, 0, 4096, 0, 4096, 131_072, 32),
                cpu("split: tiny model", false, 128, 0, 4096, 0, 128, 8192, 64),
                cpu("split: the context is at least 8", false, 4, 0, 4096, 0, 8, 512, 64),
                cpu("split: a context as large as the cap is one sequence", false, 131_072, 0, 131_072, 0,
                        131_072, 131_072, 1),
                cpu("split: explicit cells below one sequence still hold one", false, 2048, 0, 4096, 1000,
                        2048, 2048, 1),
                cpu("split: explicit cells are rounded down to whole streams", false, 2048, 0, 4096, 100_000,
                        2048, 98_304, 48),
                cpu("split: explicit parallelism", false, 2048, 3, 4096, 0, 2048, 6144, 3),
                cpu("split: parallelism is capped at 256", false, 2048, 300, 4096, 0, 2048, 524_288, 256),
                // threads
                device("explicit threads", false, false, 3, BackendSampling.AUTO, 8, 3, false),
                device("cpu threads leave a core free", false, false, 0, BackendSampling.AUTO, 2, 1, false),
                device("one core", false, false, 0, BackendSampling.AUTO, 1, 1, false),
                device("cpu threads are capped at 8", false, false, 0, BackendSampling.AUTO, 64, 8, false),
                device("gpu threads are capped at 4", true, true, 0, BackendSampling.AUTO, 64, 4, true),
                device("gpu on two cores", true, true, 0, BackendSampling.AUTO, 2, 1, true),
                // backend sampling
                device("auto samples on a gpu that supports it", true, true, 2, BackendSampling.AUTO, 8, 2, true),
                device("auto samples on the host when the gpu cannot", true, false, 2, BackendSampling.AUTO, 8, 2, false),
                device("auto samples on the host on a cpu", false, true, 2, BackendSampling.AUTO, 8, 2, false),
                device("on forces it, even on a cpu", false, false, 2, BackendSampling.ON, 8, 2, true),
                device("off forbids it", true, true, 2, BackendSampling.OFF, 8, 2, false)
        ).map(Arguments::of);
    }

    /** num_batch 2147483647 once overflowed the batch's capacity (sequences + budget) into a negative size. */
    @Test
    void aHugePromptBudgetIsCappedAtTheCache() {
        EngineInfo model = new EngineInfo(512, 2048, 1 << 20, 300_000, "cpu", List.of("CPU"), 0, false);
        for (boolean unified : new boolean[] {false, true}) {
            RuntimeConfig config = new RuntimeConfig(4, 2048, 0, 8, Integer.MAX_VALUE, 1, BackendSampling.OFF,
                    Duration.ofMinutes(5), -1, unified);
            RunnerConfig plan = RunnerSizing.plan(model, config, 2);
            assertEquals(plan.kvCells(), plan.promptBudget());
            assertTrue(plan.batchCapacity() > 0 && plan.batchCapacity() == plan.maxSequences() + plan.kvCells());
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void plans(Case c) {
        EngineInfo model = new EngineInfo(512, c.train(), 1 << 20, 300_000, c.gpu() ? "gpu" : "cpu",
                List.of(c.gpu() ? "GPU0" : "CPU"), c.gpu() ? 1 << 20 : 0, c.backendSamplingSupported());
        RuntimeConfig config = new RuntimeConfig(c.numParallel(), c.contextLength(), c.kvCells(), 77, 333,
                c.threads(), c.sampling(), Duration.ofMinutes(5), -1, c.unified());
        RunnerConfig plan = RunnerSizing.plan(model, config, c.processors());
        assertEquals(c.expectPerSequence(), plan.contextPerSequence(), "context per sequence");
        assertEquals(c.expectCells(), plan.kvCells(), "kv cells");
        assertEquals(c.expectParallel(), plan.maxSequences(), "sequences");
        assertEquals(c.expectThreads(), plan.threads(), "threads");
        assertEquals(c.expectBackendSampling(), plan.backendSampling(), "backend sampling");
        assertEquals(c.unified(), plan.kvUnified(), "the cache layout is passed through");
        assertEquals(77, plan.maxQueue(), "the queue limit is passed through");
        assertEquals(Math.min(333, plan.kvCells()), plan.promptBudget(), "the prompt budget, at most the cache");
        assertTrue(plan.kvCells() >= plan.contextPerSequence(), "one full sequence always fits");
        if (!plan.kvUnified()) {
            assertEquals((long) plan.contextPerSequence() * plan.maxSequences(), plan.kvCells(),
                    "a split cache holds a full stream per sequence");
        }
        assertEquals(plan.maxSequences() + plan.promptBudget(), plan.batchCapacity());
    }
}
