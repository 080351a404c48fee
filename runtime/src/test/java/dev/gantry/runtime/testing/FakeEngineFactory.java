package dev.gantry.runtime.testing;

import dev.gantry.runtime.engine.EngineFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An {@link EngineFactory} that "loads" any existing file as a {@link FakeEngine} built from one
 * {@link FakeEngine.Builder}. Counts loads, can fail the next loads and can take its time. Thread-safe.
 */
public final class FakeEngineFactory implements EngineFactory {
    /** One call of {@link #load}. */
    public record Load(Path file, LoadParams params, Thread thread) {}

    private final FakeEngine.Builder builder;
    private final AtomicInteger loads = new AtomicInteger();
    private final List<Load> calls = new CopyOnWriteArrayList<>();
    private final List<FakeEngine> engines = new CopyOnWriteArrayList<>();
    private final ConcurrentLinkedQueue<RuntimeException> failures = new ConcurrentLinkedQueue<>();
    private volatile Duration loadDelay = Duration.ZERO;
    private final java.util.Map<Split, Duration> decodeDelayBySplit = new java.util.concurrent.ConcurrentHashMap<>();
    private final java.util.Map<Split, RuntimeException> failureBySplit = new java.util.concurrent.ConcurrentHashMap<>();

    public FakeEngineFactory() {
        this(FakeEngine.builder());
    }

    public FakeEngineFactory(FakeEngine.Builder builder) {
        this.builder = Objects.requireNonNull(builder, "builder");
    }

    /** The next load throws {@code failure} (queue several for several failures). */
    public FakeEngineFactory failNextLoad(RuntimeException failure) {
        failures.add(failure);
        return this;
    }

    /** Engines loaded with this split mode take this long per decode (a split that is slower on some machine). */
    public FakeEngineFactory decodeDelay(Split split, Duration delay) {
        decodeDelayBySplit.put(split, delay);
        return this;
    }

    /** Every load with this split mode throws {@code failure} (a build without that mode). */
    public FakeEngineFactory failSplit(Split split, RuntimeException failure) {
        failureBySplit.put(split, failure);
        return this;
    }

    /** Every load takes this long (sleeping on the loading thread). */
    public FakeEngineFactory loadDelay(Duration delay) {
        this.loadDelay = delay;
        return this;
    }

    @Override
    public FakeEngine load(Path modelFile, LoadParams params) {
        loads.incrementAndGet();
        calls.add(new Load(modelFile, params, Thread.currentThread()));
        Duration delay = loadDelay;
        if (!delay.isZero()) {
            try {
                Thread.sleep(delay);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while loading " + modelFile, e);
            }
        }
        RuntimeException failure = failures.poll();
        if (failure != null) {
            throw failure;
        }
        if (params.split() != null && failureBySplit.containsKey(params.split())) {
            throw failureBySplit.get(params.split());
        }
        if (!Files.isRegularFile(modelFile)) {
            throw new IllegalArgumentException("model file not found: " + modelFile);
        }
        FakeEngine engine = builder.build();
        if (params.split() != null && decodeDelayBySplit.containsKey(params.split())) {
            engine.decodeDelay(decodeDelayBySplit.get(params.split()));
        }
        engines.add(engine);
        return engine;
    }

    /** {@link #load} calls so far, failed ones included. */
    public int loads() {
        return loads.get();
    }

    public List<Load> calls() {
        return List.copyOf(calls);
    }

    /** The engines loaded successfully, oldest first. */
    public List<FakeEngine> engines() {
        return List.copyOf(engines);
    }

    /** The latest engine loaded. */
    public FakeEngine lastEngine() {
        if (engines.isEmpty()) {
            throw new IllegalStateException("nothing was loaded");
        }
        return engines.getLast();
    }

    /** Contract violations of every engine loaded; tests assert it is empty. */
    public List<String> violations() {
        return engines.stream().flatMap(e -> e.violations().stream()).toList();
    }
}
