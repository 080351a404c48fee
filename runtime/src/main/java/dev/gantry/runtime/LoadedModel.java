package dev.gantry.runtime;

import dev.gantry.models.LocalModel;
import dev.gantry.runtime.engine.Engine;
import dev.gantry.runtime.runner.GenerationHandle;
import dev.gantry.runtime.runner.GenerationObserver;
import dev.gantry.runtime.runner.GenerationRequest;
import dev.gantry.runtime.runner.Runner;
import dev.gantry.runtime.runner.RunnerStats;
import java.time.Instant;
import java.util.List;

/**
 * A model in memory: its engine and the runner that batches its requests. Thread-safe. Created and unloaded by
 * {@link ModelManager}; a generation submitted after unloading fails with {@link IllegalStateException}.
 */
public final class LoadedModel {
    private final LocalModel model;
    private final Engine engine;
    private final Runner runner;
    private final long loadNanos;
    private final Instant loadedAt;
    private volatile long lastUsedNanos;
    private volatile long keepAliveNanos;

    LoadedModel(LocalModel model, Engine engine, Runner runner, long loadNanos, long keepAliveNanos) {
        this.model = model;
        this.engine = engine;
        this.runner = runner;
        this.loadNanos = loadNanos;
        this.loadedAt = Instant.now();
        this.keepAliveNanos = keepAliveNanos;
        this.lastUsedNanos = System.nanoTime();
    }

    public LocalModel model() {
        return model;
    }

    public String name() {
        return model.name().shortName();
    }

    /** Tokens one sequence may hold (prompt and generated). */
    public int contextLength() {
        return runner.config().contextPerSequence();
    }

    public int[] tokenize(String text, boolean addSpecial, boolean parseSpecial) {
        return engine.tokenize(text, addSpecial, parseSpecial);
    }

    public byte[] piece(int token) {
        return engine.piece(token);
    }

    public boolean hasChatTemplate() {
        return engine.hasChatTemplate();
    }

    public String applyChatTemplate(List<Engine.ChatMessage> messages, boolean addAssistant) {
        return engine.applyChatTemplate(messages, addAssistant);
    }

    /** See {@link Runner#submit}. */
    public GenerationHandle generate(GenerationRequest request, GenerationObserver observer) {
        touch();
        return runner.submit(request, observer);
    }

    public RunnerStats stats() {
        return runner.stats();
    }

    public dev.gantry.runtime.engine.EngineInfo engineInfo() {
        return engine.info();
    }

    public long loadNanos() {
        return loadNanos;
    }

    public Instant loadedAt() {
        return loadedAt;
    }

    /** Marks the model used now; the keep-alive clock starts again when it goes idle. */
    public void touch() {
        lastUsedNanos = System.nanoTime();
    }

    void keepAlive(long nanos) {
        keepAliveNanos = nanos;
        touch();
    }

    /** When an idle model unloads; {@link Instant#MAX} for never. */
    public Instant expiresAt() {
        long keep = keepAliveNanos;
        if (keep < 0) {
            return Instant.MAX;
        }
        long idleFor = System.nanoTime() - lastUsedNanos;
        return Instant.now().plusNanos(Math.max(0, keep - idleFor));
    }

    boolean expired(long now) {
        RunnerStats s = runner.stats();
        if (s.active() > 0 || s.waiting() > 0) {
            lastUsedNanos = now;
            return false;
        }
        long keep = keepAliveNanos;
        return keep >= 0 && now - lastUsedNanos >= keep;
    }

    void unload() {
        runner.close();
        engine.close();
    }
}
