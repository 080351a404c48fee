package dev.gantry.runtime.runner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gantry.runtime.engine.SamplingParams;
import dev.gantry.runtime.testing.FakeEngine;
import dev.gantry.runtime.testing.FakeSession;
import dev.gantry.runtime.testing.RecordingObserver;
import dev.gantry.runtime.testing.RecordingObserver.Outcome;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/** Fixtures shared by the runner tests: fake engines, runners and observers, closed and checked after each test. */
abstract class RunnerTestBase {
    static final Duration WAIT = Duration.ofSeconds(10);
    static final SamplingParams GREEDY = SamplingParams.greedyDefaults();
    static final AtomicInteger NAMES = new AtomicInteger();

    final List<Runner> runners = new ArrayList<>();
    final List<FakeEngine> engines = new ArrayList<>();
    final List<RecordingObserver> observers = new ArrayList<>();
    String testName;

    @BeforeEach
    void name(TestInfo info) {
        testName = info.getTestMethod().map(m -> m.getName()).orElse("test");
    }

    @AfterEach
    void closeAndCheckContracts() {
        for (Runner r : runners) {
            r.close();
        }
        for (FakeEngine e : engines) {
            e.resume();
            assertEquals(List.of(), e.violations(), "the runner broke the engine contract");
        }
        for (RecordingObserver o : observers) {
            assertEquals(List.of(), o.protocolErrors(), "the runner broke the observer protocol");
            assertTrue(o.threads().size() <= 1, "observer called from several threads: " + o.threads());
        }
    }

    // ------------------------------------------------------------------ helpers

    FakeEngine engine(FakeEngine.Builder b) {
        FakeEngine e = b.build();
        engines.add(e);
        return e;
    }

    static RunnerConfig config(int contextPerSequence, int kvCells, int maxSequences, int maxQueue,
                                       int promptBudget) {
        return new RunnerConfig(contextPerSequence, kvCells, maxSequences, maxQueue, promptBudget, 1, false);
    }

    Runner start(FakeEngine engine, RunnerConfig config) {
        Runner r = Runner.start(testName + "-" + NAMES.incrementAndGet(), engine, config);
        runners.add(r);
        return r;
    }

    RecordingObserver observer() {
        RecordingObserver o = new RecordingObserver();
        observers.add(o);
        return o;
    }

    RecordingObserver submit(Runner runner, int[] prompt, int maxTokens) {
        RecordingObserver o = observer();
        runner.submit(new GenerationRequest(prompt, GREEDY, maxTokens), o);
        return o;
    }

    /** A conversation's next turn: the last turn's prompt, its answer, then {@code follow}. */
    static int[] nextTurn(int[] turn, int[] answer, String follow) {
        int[] more = FakeEngine.encode(follow);
        int[] next = java.util.Arrays.copyOf(turn, turn.length + answer.length + more.length);
        System.arraycopy(answer, 0, next, turn.length, answer.length);
        System.arraycopy(more, 0, next, turn.length + answer.length, more.length);
        return next;
    }

    static int[] promptOfLength(int tokens) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; sb.length() < tokens - 2; i++) {
            sb.append((char) ('0' + i % 10));
        }
        sb.append('?');
        int[] p = FakeEngine.prompt(sb.toString());
        assertEquals(tokens, p.length);
        return p;
    }

    static void awaitGate(FakeEngine engine) {
        try {
            engine.awaitDecodeAtGate(WAIT);
        } catch (TimeoutException e) {
            throw new AssertionError(e);
        }
    }

    static boolean runnerThreadAlive(String name) {
        return Thread.getAllStackTraces().keySet().stream()
                .anyMatch(t -> t.getName().equals("runner-" + name) && t.isAlive());
    }

}
