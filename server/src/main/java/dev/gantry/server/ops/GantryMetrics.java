package dev.gantry.server.ops;

import dev.gantry.runtime.LoadedModel;
import dev.gantry.runtime.ModelManager;
import dev.gantry.runtime.Replica;
import dev.gantry.runtime.gpu.GpuSample;
import dev.gantry.runtime.gpu.GpuSnapshot;
import dev.gantry.runtime.runner.FinishReason;
import dev.gantry.runtime.runner.GenerationMetrics;
import dev.gantry.runtime.runner.Runner;
import dev.gantry.runtime.runner.RunnerStats;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;

/**
 * Gantry's Prometheus metrics, through Micrometer. Two kinds of figures, kept apart so the decode loop pays nothing:
 *
 * <ul>
 *   <li>read when scraped: each replica's runner counters and gauges ({@link RunnerStats}: volatile fields the
 *       runner already keeps) and each GPU's latest NVML reading ({@link GpuSnapshot}). Replicas come and go with
 *       models; {@link #scrape} registers the meters of new ones and removes those of unloaded ones.</li>
 *   <li>recorded per request, on the request's thread or its connection's event loop: latency histograms, finish
 *       reasons, prefix-affinity hits and refusals ({@link #begin}).</li>
 * </ul>
 *
 * <p>Every per-model meter carries {@code model} (the short name, {@code stories260k}) and {@code replica} (its
 * index, {@code "0"}). Thread-safe.
 */
public final class GantryMetrics {
    /** The content type of {@link #scrape}: Prometheus' text format. */
    public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    private static final Duration[] LATENCY_BUCKETS = seconds(0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25,
            0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640);
    private static final Duration[] ITL_BUCKETS = seconds(0.001, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04,
            0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5);

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Supplier<List<LoadedModel>> loaded;
    private volatile Supplier<GpuSnapshot> gpus = () -> new GpuSnapshot(Instant.EPOCH, Map.of(), "no GPU monitor");

    // guarded by this: the gauges of each replica (by model and index) and the live runners they read, and the GPUs
    // given gauges
    private final Map<Tags, ReplicaGauges> gauges = new HashMap<>();
    private final Map<Runner, ReplicaGauges> gaugesOf = new IdentityHashMap<>();
    /** Each replica's counters by model and index, kept across its runners (reloads) and after it unloads. */
    private final Map<Tags, ReplicaTotals> totals = new HashMap<>();
    private final Map<Runner, ReplicaTotals> totalsOf = new IdentityHashMap<>();

    /** A counter of a replica's runners: what each of them counted. */
    private record CounterDef(String name, String description, String unit, ToDoubleFunction<Runner> f) {}

    private static final List<CounterDef> COUNTERS = List.of(
            new CounterDef("gantry.prompt.tokens", "prompt tokens processed", "tokens", r -> r.stats().promptTokens()),
            new CounterDef("gantry.prompt.reused.tokens", "prompt tokens not decoded: a finished generation's parked "
                    + "cells held them", "tokens", r -> r.stats().reusedPromptTokens()),
            new CounterDef("gantry.generated.tokens", "tokens generated", "tokens", r -> r.stats().generatedTokens()),
            new CounterDef("gantry.decode.steps", "decode calls", null, r -> r.stats().steps()),
            new CounterDef("gantry.decode.step.sequences", "sequences carried by decode steps, summed: divided by "
                    + "gantry_decode_steps_total, sequences per step", null, r -> r.stats().sequenceSteps()),
            new CounterDef("gantry.requests.cancelled", "generations cancelled (client gone)", null,
                    r -> r.stats().cancelled()),
            new CounterDef("gantry.queue.rejections", "requests this replica's full queue refused", null,
                    r -> r.stats().rejected()),
            new CounterDef("gantry.preemptions", "sequences preempted when the KV cache ran out", null,
                    r -> r.stats().preemptions()));

    /**
     * The counts of one replica (a model's copy by index) over all the runners it has had: a reload (a new context
     * length, say) starts a new runner from zero, and a counter that went back with it, or vanished at an unload,
     * made {@code increase()} undercount. A runner's last counts stay when it goes.
     */
    private static final class ReplicaTotals {
        final Map<Runner, Boolean> live = new IdentityHashMap<>();
        final double[] retired = new double[COUNTERS.size()];

        synchronized double value(int i) {
            double v = retired[i];
            for (Runner r : live.keySet()) {
                v += COUNTERS.get(i).f().applyAsDouble(r);
            }
            return v;
        }

        synchronized void add(Runner r) {
            live.put(r, Boolean.TRUE);
        }

        synchronized void retire(Runner r) {
            if (live.remove(r) != null) {
                for (int i = 0; i < retired.length; i++) {
                    retired[i] += COUNTERS.get(i).f().applyAsDouble(r);
                }
            }
        }
    }
    private final Set<Integer> gpuGauges = new java.util.HashSet<>();

    public GantryMetrics(ModelManager models) {
        this(models::loaded, System::nanoTime);
        this.inMemory = models::inMemory;
        models.onUnload(this::unloaded);
    }

    /**
     * A model's runners are closed: their last counts go into the replicas' totals now, also those of a copy that
     * came and went between two scrapes (a keep_alive 0 request's), which no scrape saw.
     */
    synchronized void unloaded(LoadedModel m) {
        for (Replica r : m.replicas()) {
            if (!retiredRunners.add(r.runner())) {
                continue; // a scrape during the unload retired it already
            }
            ReplicaTotals t = totalsOf.remove(r.runner());
            if (t == null) {
                t = totals(Tags.of("model", m.name(), "replica", Integer.toString(r.index())));
                t.add(r.runner());
            }
            t.retire(r.runner());
        }
    }

    /** Runners whose counts went into their replicas' totals: each is retired once (weakly held). */
    private final java.util.Set<Runner> retiredRunners =
            java.util.Collections.newSetFromMap(new java.util.WeakHashMap<>());

    /**
     * Every copy of a model in memory: the loaded ones and those on their way out that still finish requests (a
     * reload's old copy), whose counts the counters take until they are gone. The loaded ones where not told.
     */
    private Supplier<List<LoadedModel>> inMemory;

    /** When each piece of an answer is written ({@link System#nanoTime}; a test's own clock). */
    final java.util.function.LongSupplier clock;

    /** @param loaded the models in memory now, read at each scrape */
    public GantryMetrics(Supplier<List<LoadedModel>> loaded) {
        this(loaded, System::nanoTime);
    }

    GantryMetrics(Supplier<List<LoadedModel>> loaded, java.util.function.LongSupplier clock) {
        this.loaded = loaded;
        this.inMemory = loaded;
        this.clock = clock;
        new JvmMemoryMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
    }

    /** Where the GPU gauges read from: the NVML monitor's latest snapshot. */
    public void gpus(Supplier<GpuSnapshot> snapshots) {
        this.gpus = snapshots;
    }

    /** The registry, for tests and for binding more meters. */
    public PrometheusMeterRegistry registry() {
        return registry;
    }

    /** Everything, in Prometheus' text format; brings the per-replica and per-GPU meters up to date first. */
    public String scrape() {
        sync();
        return registry.scrape();
    }

    /** A request refused with 503 because every replica's queue of {@code model} was full. */
    public void queueFull(String model) {
        Counter.builder("gantry.requests.refused").description("requests refused with 503: every replica's queue full")
                .tags("model", model).register(registry).increment();
    }

    /**
     * Starts recording one generation of {@code model}. The result wraps the request's sink: it records when the
     * generation ends, on the thread that writes the answer.
     *
     * @param startNanos when the request arrived ({@link System#nanoTime})
     */
    public GenerationRecorder begin(String model, long startNanos) {
        return new GenerationRecorder(this, model, startNanos);
    }

    /** Called by {@link GenerationRecorder} once the replica and the outcome are both known. */
    void record(String model, int replica, boolean prefixHit, FinishReason reason, GenerationMetrics m,
                long submittedNanos, long startNanos, long endNanos, boolean failed) {
        Tags tags = Tags.of("model", model, "replica", Integer.toString(replica));
        String outcome = failed ? "error" : reason.wire();
        Counter.builder("gantry.requests.finished").description("generations ended, by how")
                .tags(tags).tag("reason", outcome).register(registry).increment();
        Counter hits = Counter.builder("gantry.prefix.cache.hits")
                .description("requests the router sent to the replica that last served the same prompt prefix")
                .tags(tags).register(registry);
        if (prefixHit) {
            hits.increment();
        }
        if (failed || m == null) {
            return;
        }
        if (m.generatedTokens() > 0) {
            long ttft = Math.max(0, submittedNanos - startNanos) + m.queueNanos() + m.promptEvalNanos();
            timer("gantry.time.to.first.token", "from the request's arrival to its first generated token",
                    LATENCY_BUCKETS, tags).record(ttft, TimeUnit.NANOSECONDS);
        }
        if (reason != FinishReason.CANCELLED) {
            timer("gantry.e2e.request.latency", "from the request's arrival to its last token (loading included)",
                    LATENCY_BUCKETS, tags).record(endNanos - startNanos, TimeUnit.NANOSECONDS);
            timer("gantry.request.queue.time", "from submission to a sequence slot of the replica",
                    LATENCY_BUCKETS, tags).record(m.queueNanos(), TimeUnit.NANOSECONDS);
        }
    }

    /** The inter-token histogram of one replica of a model: one sample per gap, recorded as the answer is written. */
    Timer interTokenLatency(String model, int replica) {
        return timer("gantry.inter.token.latency", "time between two pieces of an answer as they are made ready for "
                + "the client (streamed or not), one sample per gap", ITL_BUCKETS,
                Tags.of("model", model, "replica", Integer.toString(replica)));
    }

    private Timer timer(String name, String description, Duration[] buckets, Tags tags) {
        return Timer.builder(name).description(description).serviceLevelObjectives(buckets).tags(tags)
                .register(registry);
    }

    /** Registers meters for new replicas and GPUs, removes those of replicas no longer loaded. */
    synchronized void sync() {
        // the gauges read every copy in memory, as the counters do: a copy no name loads any more (its model was
        // created again with other parameters, a reload's old copy) still runs its requests, under its name
        Map<Runner, Replica> live = new IdentityHashMap<>();
        Map<Runner, String> modelOf = new HashMap<>();
        for (LoadedModel m : inMemory.get()) {
            for (Replica r : m.replicas()) {
                if (!retiredRunners.contains(r.runner())) {
                    live.put(r.runner(), r);
                    modelOf.put(r.runner(), m.name());
                }
            }
        }
        for (var it = gaugesOf.entrySet().iterator(); it.hasNext(); ) {
            var e = it.next();
            if (!live.containsKey(e.getKey())) {
                ReplicaGauges g = e.getValue();
                g.leave(e.getKey(), registry);
                if (g.runners.isEmpty()) {
                    gauges.remove(g.tags);
                }
                it.remove();
            }
        }
        live.forEach((runner, replica) -> {
            if (!gaugesOf.containsKey(runner)) {
                Tags tags = Tags.of("model", modelOf.get(runner), "replica", Integer.toString(replica.index()));
                ReplicaGauges g = gauges.computeIfAbsent(tags, t -> registerReplica(t));
                g.join(runner, replica, registry);
                gaugesOf.put(runner, g);
            }
        });
        // the counters count every copy until it is gone (a reload's old copy still finishing its requests too)
        Map<Runner, Boolean> present = new IdentityHashMap<>();
        for (LoadedModel m : inMemory.get()) {
            for (Replica r : m.replicas()) {
                if (retiredRunners.contains(r.runner())) {
                    continue; // unloaded already (its model still listed while it goes)
                }
                present.put(r.runner(), Boolean.TRUE);
                totalsOf.computeIfAbsent(r.runner(), k -> {
                    ReplicaTotals t = totals(Tags.of("model", m.name(), "replica", Integer.toString(r.index())));
                    t.add(k);
                    return t;
                });
            }
        }
        for (var it = totalsOf.entrySet().iterator(); it.hasNext(); ) {
            var e = it.next();
            if (!present.containsKey(e.getKey())) {
                e.getValue().retire(e.getKey()); // its last counts stay in the replica's totals
                retiredRunners.add(e.getKey());
                it.remove();
            }
        }
        for (int gpu : gpus.get().samples().keySet()) {
            if (gpuGauges.add(gpu)) {
                registerGpu(gpu);
            }
        }
    }

    /**
     * The gauges of one replica (a model's copy by index) over the runners that serve it now: usually one, two
     * while two copies of one name are in memory (another context length, a reload whose old copy still finishes
     * its requests), whose figures add up (the fullest step is the larger one's) rather than hide one another.
     * The placement gauge is each runner's own (its GPUs and split), counted by the runners that share it.
     */
    private static final class ReplicaGauges {
        final Tags tags;
        final Set<Runner> runners = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        final List<Meter> meters = new ArrayList<>();
        final Map<Runner, Meter> placementOf = new IdentityHashMap<>();
        final Map<Meter.Id, Integer> placementUsers = new HashMap<>();

        ReplicaGauges(Tags tags) {
            this.tags = tags;
        }

        synchronized double sum(ToDoubleFunction<Runner> f) {
            double v = 0;
            for (Runner r : runners) {
                v += f.applyAsDouble(r);
            }
            return v;
        }

        synchronized double max(ToDoubleFunction<Runner> f) {
            double v = 0;
            for (Runner r : runners) {
                v = Math.max(v, f.applyAsDouble(r));
            }
            return v;
        }

        void join(Runner runner, Replica replica, PrometheusMeterRegistry registry) {
            synchronized (this) {
                runners.add(runner);
            }
            Meter placement = Gauge.builder("gantry.replica.placement", () -> 1)
                    .description("where the replica is: its GPUs (empty on the CPU) and how it is split")
                    .tags(tags).tag("gpus", replica.gpus().stream().map(String::valueOf)
                            .collect(java.util.stream.Collectors.joining(","))).tag("split", replica.split())
                    .register(registry);
            placementOf.put(runner, placement);
            placementUsers.merge(placement.getId(), 1, Integer::sum);
        }

        /** The runner is gone: its placement goes when no other runner shares it, everything when it was the last. */
        void leave(Runner runner, PrometheusMeterRegistry registry) {
            boolean last;
            synchronized (this) {
                runners.remove(runner);
                last = runners.isEmpty();
            }
            Meter placement = placementOf.remove(runner);
            if (placement != null && placementUsers.merge(placement.getId(), -1, Integer::sum) <= 0) {
                placementUsers.remove(placement.getId());
                registry.remove(placement);
            }
            if (last) {
                meters.forEach(registry::remove);
            }
        }
    }

    private ReplicaGauges registerReplica(Tags tags) {
        ReplicaGauges g = new ReplicaGauges(tags);
        g.meters.add(gauge("gantry.requests.running", "sequences decoding", g, tags, null,
                x -> x.sum(r -> r.stats().active())));
        g.meters.add(gauge("gantry.requests.waiting", "requests queued for a sequence slot", g, tags, null,
                x -> x.sum(r -> r.stats().waiting())));
        g.meters.add(gauge("gantry.kv.cache.usage", "share of the replica's KV cells in use, 0 to 1", g, tags,
                "ratio", x -> {
                    double cells = x.sum(r -> r.stats().kvCells());
                    return cells == 0 ? 0 : x.sum(r -> r.stats().kvCellsUsed()) / cells;
                }));
        g.meters.add(gauge("gantry.kv.cache.cells", "KV cells of the replica", g, tags, null,
                x -> x.sum(r -> r.stats().kvCells())));
        g.meters.add(gauge("gantry.sequences.max", "sequences the replica decodes together at most", g, tags, null,
                x -> x.sum(r -> r.config().maxSequences())));
        g.meters.add(gauge("gantry.queue.capacity", "requests the replica queues before refusing", g, tags, null,
                x -> x.sum(r -> r.config().maxQueue())));
        g.meters.add(gauge("gantry.decode.step.sequences.max", "the most sequences one decode step carried", g,
                tags, null, x -> x.max(r -> r.stats().maxSequencesInStep())));
        g.meters.add(gauge("gantry.kv.cache.parked.cells", "KV cells finished generations keep for requests that "
                + "start the same way", g, tags, null, x -> x.sum(r -> r.stats().kvCellsParked())));
        return g;
    }

    /** The counters of the replica {@code tags} names, registered at its first runner. */
    private ReplicaTotals totals(Tags tags) {
        return totals.computeIfAbsent(tags, k -> {
            ReplicaTotals fresh = new ReplicaTotals();
            for (int i = 0; i < COUNTERS.size(); i++) {
                CounterDef d = COUNTERS.get(i);
                int at = i;
                FunctionCounter.builder(d.name(), fresh, x -> x.value(at)).description(d.description()).tags(k)
                        .baseUnit(d.unit()).register(registry);
            }
            return fresh;
        });
    }

    private void registerGpu(int gpu) {
        Tags tags = Tags.of("gpu", Integer.toString(gpu));
        gpuGauge("gantry.gpu.utilization", "share of time a kernel ran, 0 to 100", tags, "percent", gpu,
                s -> s.utilizationPercent() < 0 ? Double.NaN : s.utilizationPercent());
        gpuGauge("gantry.gpu.memory.used", "device memory in use, every process", tags, "bytes", gpu,
                s -> s.memoryUsedBytes() < 0 ? Double.NaN : s.memoryUsedBytes());
        gpuGauge("gantry.gpu.memory.total", "device memory in all", tags, "bytes", gpu,
                s -> s.memoryTotalBytes() < 0 ? Double.NaN : s.memoryTotalBytes());
        gpuGauge("gantry.gpu.temperature", "core temperature", tags, "celsius", gpu,
                s -> s.temperatureCelsius() < 0 ? Double.NaN : s.temperatureCelsius());
        gpuGauge("gantry.gpu.power", "board power draw", tags, "watts", gpu, GpuSample::powerWatts);
        gpuGauge("gantry.gpu.sample.stale", "1 while the GPU's last reading failed (the figures are older)", tags,
                null, gpu, s -> s.stale() ? 1 : 0);
    }

    private void gpuGauge(String name, String description, Tags tags, String unit, int gpu,
                          ToDoubleFunction<GpuSample> f) {
        Gauge.builder(name, this, m -> m.gpus.get().sample(gpu).map(f::applyAsDouble).orElse(Double.NaN))
                .description(description).tags(tags).baseUnit(unit).strongReference(true).register(registry);
    }

    private Gauge gauge(String name, String description, ReplicaGauges g, Tags tags, String unit,
                        ToDoubleFunction<ReplicaGauges> f) {
        return Gauge.builder(name, g, f).description(description).tags(tags).baseUnit(unit).register(registry);
    }

    private static Duration[] seconds(double... values) {
        Duration[] out = new Duration[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = Duration.ofNanos(Math.round(values[i] * 1e9));
        }
        return out;
    }
}
