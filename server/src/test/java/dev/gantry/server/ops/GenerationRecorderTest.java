package dev.gantry.server.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.gantry.runtime.Submission;
import dev.gantry.runtime.runner.FinishReason;
import dev.gantry.runtime.runner.GenerationMetrics;
import dev.gantry.runtime.runner.TokenRelay;
import io.micrometer.core.instrument.Timer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The recorder records each generation once, labelled with its replica, whichever of "submitted" and "ended" comes
 * first (a short generation can end before {@code submit} returns); it passes every call on to the real sink.
 */
class GenerationRecorderTest {
    private static final GenerationMetrics METRICS = new GenerationMetrics(5, 11, 2_000_000, 8_000_000, 50_000_000,
            60_000_000, 0);

    /** A sink that remembers what it was told. */
    private static final class Recording implements TokenRelay.Sink {
        final List<String> calls = new ArrayList<>();

        @Override
        public void onText(String text) {
            calls.add("text " + text);
        }

        @Override
        public void onDone(FinishReason reason, GenerationMetrics metrics) {
            calls.add("done " + reason.wire());
        }

        @Override
        public void onError(Throwable error) {
            calls.add("error " + error.getMessage());
        }
    }

    private static Timer timer(GantryMetrics metrics, String name, String replica) {
        return metrics.registry().get(name).tag("model", "m").tag("replica", replica).timer();
    }

    @Test
    void endedBeforeSubmittedIsRecordedOnceWithItsReplica() {
        long[] now = {0};
        GantryMetrics metrics = new GantryMetrics(List::of, () -> now[0]);
        GenerationRecorder r = metrics.begin("m", 0);
        Recording sink = new Recording();
        TokenRelay.Sink wrapped = r.wrap(sink, 1_000_000);
        wrapped.onText("hi");
        for (long gapMs : new long[] {2, 3, 40}) {
            now[0] += gapMs * 1_000_000;
            wrapped.onText(" there");
        }
        wrapped.onDone(FinishReason.LENGTH, METRICS);
        assertEquals(0, metrics.registry().find("gantry.time.to.first.token").timers().size(), "replica unknown yet");
        r.submitted(new Submission(reason -> {}, 1, true));
        assertEquals(List.of("text hi", "text  there", "text  there", "text  there", "done length"), sink.calls);

        Timer ttft = timer(metrics, "gantry.time.to.first.token", "1");
        assertEquals(1, ttft.count());
        assertEquals(1 + 2 + 8, ttft.totalTime(TimeUnit.MILLISECONDS), 1e-9, "arrival to submission, queue, prompt");
        Timer itl = timer(metrics, "gantry.inter.token.latency", "1");
        assertEquals(3, itl.count(), "one sample per gap between written pieces");
        assertEquals(45.0, itl.totalTime(TimeUnit.MILLISECONDS), 1e-9);
        assertEquals(40.0, itl.max(TimeUnit.MILLISECONDS), 1e-9, "a stall shows as itself, not spread over a mean");
        assertEquals(1.0, metrics.registry().get("gantry.prefix.cache.hits").tag("replica", "1").counter().count());
        assertEquals(1.0, metrics.registry().get("gantry.requests.finished").tag("reason", "length").counter().count());
        r.submitted(new Submission(reason -> {}, 1, true));
        assertEquals(1, ttft.count(), "recorded once");
    }

    /** Once the replica is known, each gap is a sample as it happens: none waits for the end of the answer. */
    @Test
    void gapsAfterTheSubmissionAreRecordedAsTheyHappen() {
        long[] now = {0};
        GantryMetrics metrics = new GantryMetrics(List::of, () -> now[0]);
        GenerationRecorder r = metrics.begin("m", 0);
        TokenRelay.Sink wrapped = r.wrap(new Recording(), 0);
        wrapped.onText("a");
        now[0] += 1_000_000;
        wrapped.onText("b");
        r.submitted(new Submission(reason -> {}, 2, false));
        Timer itl = timer(metrics, "gantry.inter.token.latency", "2");
        assertEquals(1, itl.count(), "the gap before the submission, once the replica is known");
        for (int i = 0; i < 5; i++) {
            now[0] += 7_000_000;
            wrapped.onText("c");
        }
        assertEquals(6, itl.count(), "before the answer ends");
        assertEquals(36.0, itl.totalTime(TimeUnit.MILLISECONDS), 1e-9);
    }

    @Test
    void anErrorIsCountedWithoutLatencies() {
        GantryMetrics metrics = new GantryMetrics(List::of);
        GenerationRecorder r = metrics.begin("m", 0);
        Recording sink = new Recording();
        TokenRelay.Sink wrapped = r.wrap(sink, 0);
        r.submitted(new Submission(reason -> {}, 0, false));
        wrapped.onError(new IllegalStateException("model m was unloaded"));
        assertEquals(List.of("error model m was unloaded"), sink.calls);
        assertEquals(1.0, metrics.registry().get("gantry.requests.finished").tag("reason", "error").counter().count());
        assertEquals(0.0, metrics.registry().get("gantry.prefix.cache.hits").counter().count());
        assertEquals(0, metrics.registry().find("gantry.e2e.request.latency").timers().size());
    }
}
