package dev.gantry.server.ops;

import dev.gantry.runtime.LoadedModel;
import dev.gantry.runtime.ModelManager;
import dev.gantry.runtime.runner.RunnerStats;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * What this Gantry tells HAProxy's agent check: {@code up}, {@code ready} (or {@code drain} while shutting down)
 * and a weight from its own load. Load is the requests running and waiting over the sequences the loaded models can
 * run at once; the weight is {@code 100 / (1 + load)} percent: 100% idle, 50% with every sequence busy, 33% with a
 * queue as long again, never below 1% (0% would stop traffic as drain does). Thread-safe.
 */
public final class AgentReport implements Supplier<String> {
    private final ModelManager models;
    private final BooleanSupplier draining;

    public AgentReport(ModelManager models, BooleanSupplier draining) {
        this.models = models;
        this.draining = draining;
    }

    @Override
    public String get() {
        if (draining.getAsBoolean()) {
            return "drain";
        }
        return "up ready " + weight(models.loaded()) + "%";
    }

    static int weight(List<LoadedModel> loaded) {
        long busy = 0;
        long capacity = 0;
        for (LoadedModel m : loaded) {
            RunnerStats s = m.stats();
            busy += s.active() + s.waiting();
            capacity += Math.max(1, s.maxActive());
        }
        return weight(busy, capacity);
    }

    /** The weight for {@code busy} requests over {@code capacity} sequences. */
    public static int weight(long busy, long capacity) {
        double load = capacity <= 0 ? 0 : busy / (double) capacity;
        return (int) Math.max(1, Math.round(100 / (1 + load)));
    }
}
