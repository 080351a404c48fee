package dev.gantry.runtime.place;

import static dev.gantry.runtime.place.Sizing.gib;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalInt;
import java.util.function.IntFunction;

/**
 * Decides where a model runs: how many replicas, on which GPUs, split how. A pure function of the devices and
 * the request; it touches no GPU and keeps no state.
 *
 * <p>The rules, in order:
 * <ol>
 *   <li>Ollama's {@code num_gpu} or {@code main_gpu} asks for one replica: on the main GPU (or the GPU with the
 *       most usable memory) when it fits, else over all GPUs with that one first. {@code num_gpu} is honoured
 *       as given, with a warning in the reason when it asks for more than fits; {@code num_gpu=0} is the CPU.</li>
 *   <li>Explicit groups ({@code --gpus 0,1:2,3}) are one replica each, as given.</li>
 *   <li>{@code auto}: one replica per GPU the model fits alone; else the smallest size of group of mutually
 *       peer-connected GPUs that fits, with as many disjoint groups as the GPUs allow; else the same without
 *       peer access (activations then cross through host memory).</li>
 *   <li>{@code replicate}: one replica per GPU the model fits alone; {@code auto} when it fits none.</li>
 *   <li>{@code split=MODE}: one replica over all selected GPUs.</li>
 * </ol>
 * Groups are split by layer unless a measured hint shows row or tensor split decoding faster for this model.
 * When nothing fits with the sequences asked for, the planner halves them down to one; then it offloads as many
 * layers as fit (keeping the sequences: the rest of the model and its cache stay in host memory); then it puts
 * the model on the CPU. Each step is written in the reason, never silently.
 *
 * <p>Memory: a GPU may take the ceiling's fraction of its total memory or what is free, whichever is less. A
 * replica needs its weights plus {@code sequences x context} KV cells, spread over its GPUs in proportion to
 * that usable memory (the tensor split), plus one compute buffer on each GPU.
 *
 * <p>Stateless and thread-safe.
 */
public final class PlacementPlanner {

    private PlacementPlanner() {
    }

    /**
     * Places a model.
     *
     * @param devices the GPUs found (any order; empty on a host without GPUs)
     * @throws IllegalArgumentException when {@code --gpus} or {@code main_gpu} names a GPU not in {@code devices}
     */
    public static Placement plan(List<Device> devices, PlacementRequest req) {
        List<Device> sorted = devices.stream().sorted(Comparator.comparingInt(Device::id)).toList();
        for (int id : req.gpus().gpus()) {
            find(sorted, id, "--gpus");
        }
        List<Device> gpus = req.gpus().isAll() ? sorted
                : sorted.stream().filter(d -> req.gpus().gpus().contains(d.id())).toList();
        if (req.numGpu().isPresent() || req.mainGpu().isPresent()) {
            return single(gpus, req);
        }
        if (gpus.isEmpty()) {
            return cpu(req, "no GPUs found: the model runs on the CPU");
        }
        if (req.gpus().grouped()) {
            return explicit(sorted, req);
        }
        return switch (req.policy()) {
            case Policy.Auto a -> auto(gpus, req, "");
            case Policy.Replicate r -> replicate(gpus, req);
            case Policy.Split s -> split(gpus, req, s.mode());
        };
    }

    /**
     * The split mode for a group: layer, unless a measured hint shows another mode decoding faster than layer
     * split did (a hint without a layer measurement cannot show that).
     */
    static SplitMode preferredSplit(Map<SplitMode, Double> measured) {
        Double layer = measured.get(SplitMode.LAYER);
        SplitMode best = SplitMode.LAYER;
        if (layer == null) {
            return best;
        }
        double bestSpeed = layer;
        for (SplitMode m : List.of(SplitMode.TENSOR, SplitMode.ROW)) {
            Double v = measured.get(m);
            if (v != null && v > bestSpeed) {
                best = m;
                bestSpeed = v;
            }
        }
        return best;
    }

    private static Placement auto(List<Device> gpus, PlacementRequest req, String prefix) {
        Placement p = halving(req, s -> autoAt(gpus, req, s), prefix);
        if (p != null) {
            return p;
        }
        Placement partial = partial(gpus, req, SplitMode.LAYER, prefix);
        return partial != null ? partial : cpu(req, prefix + tooBig(gpus, req) + ": not one layer fits, "
                + "so the model runs on the CPU");
    }

    /** Auto at {@code s} sequences: single-GPU replicas, else groups; null when nothing fits. */
    private static Placement autoAt(List<Device> gpus, PlacementRequest req, int s) {
        Placement singles = singles(gpus, req, s);
        if (singles != null) {
            return singles;
        }
        SplitMode mode = groupMode(req);
        long cells = (long) s * req.contextPerSequence();
        for (boolean peers : new boolean[] {true, false}) {
            for (int k = 2; k <= gpus.size(); k++) {
                if (!largestCouldHold(gpus, k, req, cells)) {
                    continue; // no k GPUs together have the memory: skip the search
                }
                List<List<Device>> groups = GroupSearch.pack(gpus, k, peers,
                        g -> Sizing.fitsFully(g, req.model(), mode, cells, req.memoryFraction()));
                if (!groups.isEmpty()) {
                    String why = "the model does not fit one GPU; " + groups.size() + " group" + plural(groups.size())
                            + " of " + k + (peers ? " peer-connected GPUs" : " GPUs without peer access between them"
                            + " (activations cross through host memory)") + ", split by " + mode.label()
                            + modeNote(req, mode) + idle(gpus, groups);
                    List<ReplicaPlan> replicas = new ArrayList<>();
                    for (List<Device> g : groups) {
                        replicas.add(full(g, req, mode, s, "split by " + mode.label() + " over " + k + " GPUs"));
                    }
                    return new Placement(replicas, why);
                }
            }
        }
        return null;
    }

    /** Whether the {@code k} GPUs with the most usable memory together could hold the model at all. */
    private static boolean largestCouldHold(List<Device> gpus, int k, PlacementRequest req, long cells) {
        long usable = gpus.stream().mapToLong(d -> d.usableBytes(req.memoryFraction()))
                .boxed().sorted(Comparator.reverseOrder()).limit(k).mapToLong(Long::longValue).sum();
        ModelSize m = req.model();
        double need = m.weightBytes() + (double) m.kvBytesPerToken() * cells + (double) k * m.computeBytes();
        return need <= usable;
    }

    /** One replica on each GPU the model fits alone at {@code s} sequences; null when it fits none. */
    private static Placement singles(List<Device> gpus, PlacementRequest req, int s) {
        long cells = (long) s * req.contextPerSequence();
        List<List<Device>> fitting = new ArrayList<>();
        for (Device d : gpus) {
            if (Sizing.fitsFully(List.of(d), req.model(), SplitMode.NONE, cells, req.memoryFraction())) {
                fitting.add(List.of(d));
            }
        }
        if (fitting.isEmpty()) {
            return null;
        }
        List<ReplicaPlan> replicas = new ArrayList<>();
        for (List<Device> g : fitting) {
            replicas.add(full(g, req, SplitMode.NONE, s, "fits GPU " + g.getFirst().id() + " alone"));
        }
        long need = replicas.getFirst().totalBytes();
        return new Placement(replicas, "the model fits one GPU (" + gib(need) + "): " + replicas.size()
                + " replica" + plural(replicas.size()) + ", one per GPU" + idle(gpus, fitting));
    }

    private static Placement replicate(List<Device> gpus, PlacementRequest req) {
        Placement p = halving(req, s -> singles(gpus, req, s), "replicate: ");
        if (p != null) {
            return p;
        }
        long largest = gpus.stream().mapToLong(d -> d.usableBytes(req.memoryFraction())).max().orElse(0);
        return auto(gpus, req, "replicate: the model does not fit one GPU even with one sequence (largest usable "
                + gib(largest) + "), placed as auto instead; ");
    }

    private static Placement split(List<Device> gpus, PlacementRequest req, SplitMode requested) {
        SplitMode mode = gpus.size() == 1 ? SplitMode.NONE : requested;
        String what = gpus.size() == 1 ? "split=" + requested.label() + " on one GPU: nothing to split"
                : "split=" + requested.label() + " over " + gpus.size() + " GPUs";
        Placement p = halving(req, s -> {
            long cells = (long) s * req.contextPerSequence();
            if (!Sizing.fitsFully(gpus, req.model(), mode, cells, req.memoryFraction())) {
                return null;
            }
            ReplicaPlan r = full(gpus, req, mode, s, what);
            return new Placement(List.of(r), what);
        }, "");
        if (p != null) {
            return p;
        }
        Placement partial = partial(gpus, req, mode, what + "; ");
        return partial != null ? partial : cpu(req, what + "; " + tooBig(gpus, req) + ": the model runs on the CPU");
    }

    private static Placement explicit(List<Device> all, PlacementRequest req) {
        SplitMode splitMode = req.policy() instanceof Policy.Split s ? s.mode() : groupMode(req);
        List<ReplicaPlan> replicas = new ArrayList<>();
        List<String> notes = new ArrayList<>();
        for (List<Integer> ids : req.gpus().groups()) {
            List<Device> g = ids.stream().map(id -> find(all, id, "--gpus")).toList();
            SplitMode mode = g.size() == 1 ? SplitMode.NONE : splitMode;
            String what = "group " + ids + (g.size() == 1 ? "" : " split by " + mode.label());
            Placement p = halving(req, s -> Sizing.fitsFully(g, req.model(), mode,
                    (long) s * req.contextPerSequence(), req.memoryFraction())
                    ? new Placement(List.of(full(g, req, mode, s, what)), what) : null, "");
            if (p == null) {
                p = partial(g, req, mode, what + ": ");
            }
            if (p == null) {
                notes.add(what + " cannot hold one layer and is left out");
                continue;
            }
            replicas.add(p.replicas().getFirst());
        }
        List<String> parts = new ArrayList<>(replicas.stream().map(ReplicaPlan::reason).toList());
        parts.addAll(notes);
        String why = "explicit groups from --gpus " + req.gpus() + ": " + replicas.size() + " replica"
                + plural(replicas.size()) + "; " + String.join("; ", parts);
        return replicas.isEmpty() ? cpu(req, why + "; the model runs on the CPU") : new Placement(replicas, why);
    }

    /** Ollama's {@code num_gpu} / {@code main_gpu}: one replica. */
    private static Placement single(List<Device> gpus, PlacementRequest req) {
        OptionalInt numGpu = req.numGpu();
        String opts = (numGpu.isPresent() ? "num_gpu=" + numGpu.getAsInt() : "")
                + (numGpu.isPresent() && req.mainGpu().isPresent() ? ", " : "")
                + (req.mainGpu().isPresent() ? "main_gpu=" + req.mainGpu().getAsInt() : "");
        if (numGpu.isPresent() && numGpu.getAsInt() == 0) {
            return cpu(req, opts + ": every layer stays on the CPU");
        }
        if (gpus.isEmpty()) {
            return cpu(req, opts + " but no GPUs found: the model runs on the CPU");
        }
        Device main = req.mainGpu().isPresent() ? find(gpus, req.mainGpu().getAsInt(), "main_gpu")
                : gpus.stream().max(Comparator.comparingLong((Device d) -> d.usableBytes(req.memoryFraction()))
                        .thenComparing(Comparator.comparingInt(Device::id).reversed())).orElseThrow();
        List<Device> spread = new ArrayList<>(List.of(main));
        gpus.stream().filter(d -> d != main).forEach(spread::add);
        List<List<Device>> candidates = spread.size() == 1 ? List.of(List.of(main)) : List.of(List.of(main), spread);
        SplitMode groupMode = req.policy() instanceof Policy.Split s ? s.mode() : groupMode(req);
        ModelSize m = req.model();

        if (numGpu.isPresent()) {
            int layers = Math.min(numGpu.getAsInt(), m.allGpuLayers());
            long cells = (long) req.sequences() * req.contextPerSequence();
            for (List<Device> g : candidates) {
                SplitMode mode = g.size() == 1 ? SplitMode.NONE : groupMode;
                long[] b = Sizing.bytes(g, m, mode, layers, cells, req.memoryFraction());
                if (Sizing.fits(g, b, req.memoryFraction())) {
                    String what = opts + ": " + layerText(layers, m) + " on " + gpuText(g, mode);
                    return new Placement(List.of(replica(g, req, mode, layers, req.sequences(), what)), what);
                }
            }
            List<Device> g = candidates.getLast();
            SplitMode mode = g.size() == 1 ? SplitMode.NONE : groupMode;
            long need = Sizing.total(Sizing.bytes(g, m, mode, layers, cells, req.memoryFraction()));
            String what = opts + ": " + layerText(layers, m) + " on " + gpuText(g, mode) + " as asked, though they need "
                    + gib(need) + " and " + gib(Sizing.usable(g, req.memoryFraction())) + " is usable: loading may fail";
            return new Placement(List.of(replica(g, req, mode, layers, req.sequences(), what)), what);
        }
        Placement p = halving(req, s -> {
            for (List<Device> g : candidates) {
                SplitMode mode = g.size() == 1 ? SplitMode.NONE : groupMode;
                if (Sizing.fitsFully(g, m, mode, (long) s * req.contextPerSequence(), req.memoryFraction())) {
                    String what = opts + ": one replica on " + gpuText(g, mode);
                    return new Placement(List.of(full(g, req, mode, s, what)), what);
                }
            }
            return null;
        }, "");
        if (p != null) {
            return p;
        }
        List<Device> g = candidates.getLast();
        Placement partial = partial(g, req, g.size() == 1 ? SplitMode.NONE : groupMode, opts + ": ");
        return partial != null ? partial : cpu(req, opts + ": " + tooBig(g, req) + ": the model runs on the CPU");
    }

    /**
     * Tries {@code attempt} with the sequences asked for, then half as many, down to one; the reason says when
     * fewer sequences were needed.
     */
    private static Placement halving(PlacementRequest req, IntFunction<Placement> attempt, String prefix) {
        for (int s = req.sequences(); s >= 1; s /= 2) {
            Placement p = attempt.apply(s);
            if (p != null) {
                String fewer = s < req.sequences() ? "; only " + s + " of the " + req.sequences() + " sequences fit ("
                        + req.contextPerSequence() + " tokens each), so each replica decodes " + s : "";
                return new Placement(p.replicas(), prefix + p.reason() + fewer);
            }
        }
        return null;
    }

    /** As many layers as fit on {@code g}, the rest on the CPU, with every sequence; null if not one layer fits. */
    private static Placement partial(List<Device> g, PlacementRequest req, SplitMode mode, String prefix) {
        long cells = (long) req.sequences() * req.contextPerSequence();
        int layers = Sizing.layersThatFit(g, req.model(), mode, cells, req.memoryFraction());
        if (layers == 0) {
            return null;
        }
        String what = prefix + tooBig(g, req) + ": partial offload, " + layers + " of " + req.model().layers()
                + " layers on " + gpuText(g, mode) + ", the rest on the CPU, keeping " + req.sequences()
                + " sequence" + plural(req.sequences());
        return new Placement(List.of(replica(g, req, mode, layers, req.sequences(), what)), what);
    }

    private static ReplicaPlan full(List<Device> g, PlacementRequest req, SplitMode mode, int sequences, String why) {
        return replica(g, req, mode, req.model().allGpuLayers(), sequences, why);
    }

    private static ReplicaPlan replica(List<Device> g, PlacementRequest req, SplitMode mode, int gpuLayers, int sequences,
                                   String why) {
        long[] b = Sizing.bytes(g, req.model(), mode, gpuLayers, (long) sequences * req.contextPerSequence(),
                req.memoryFraction());
        List<Long> bytes = new ArrayList<>();
        for (long x : b) {
            bytes.add(x);
        }
        return new ReplicaPlan(g.stream().map(Device::id).toList(), mode, Sizing.tensorSplit(g, req.memoryFraction()),
                gpuLayers, bytes, sequences, why);
    }

    private static Placement cpu(PlacementRequest req, String why) {
        return new Placement(List.of(ReplicaPlan.cpu(req.sequences(), why)), why);
    }

    private static SplitMode groupMode(PlacementRequest req) {
        return preferredSplit(req.measuredTokensPerSecond());
    }

    private static String modeNote(PlacementRequest req, SplitMode mode) {
        if (mode == SplitMode.LAYER) {
            return "";
        }
        return String.format(Locale.ROOT, " (measured %.0f tok/s against %.0f by layer)",
                req.measuredTokensPerSecond().get(mode), req.measuredTokensPerSecond().get(SplitMode.LAYER));
    }

    private static String tooBig(List<Device> g, PlacementRequest req) {
        long need = Sizing.total(Sizing.bytes(g, req.model(), g.size() == 1 ? SplitMode.NONE : SplitMode.LAYER,
                req.model().allGpuLayers(), req.contextPerSequence(), req.memoryFraction()));
        return "the model needs " + gib(need) + " with one sequence but " + gpuText(g, SplitMode.NONE) + " allow "
                + gib(Sizing.usable(g, req.memoryFraction()));
    }

    private static String idle(List<Device> gpus, List<List<Device>> used) {
        List<Integer> idle = gpus.stream().filter(d -> used.stream().noneMatch(g -> g.contains(d)))
                .map(Device::id).toList();
        return idle.isEmpty() ? "" : "; GPU" + plural(idle.size()) + " " + idle + " stay" + (idle.size() == 1 ? "s" : "")
                + " idle (too small, or no peer to pair with)";
    }

    private static String layerText(int gpuLayers, ModelSize m) {
        return gpuLayers >= m.allGpuLayers() ? "all " + m.layers() + " layers and the output"
                : Math.min(gpuLayers, m.layers()) + " of " + m.layers() + " layers";
    }

    private static String gpuText(List<Device> g, SplitMode mode) {
        String ids = g.stream().map(d -> Integer.toString(d.id())).reduce((a, b) -> a + "," + b).orElse("");
        return (g.size() == 1 ? "GPU " : "GPUs ") + ids + (g.size() > 1 && mode != SplitMode.NONE
                ? " split by " + mode.label() : "");
    }

    private static Device find(List<Device> devices, int id, String option) {
        return devices.stream().filter(d -> d.id() == id).findFirst().orElseThrow(() -> new IllegalArgumentException(
                option + " names GPU " + id + ", but the GPUs found are " + devices.stream().map(Device::id).toList()));
    }

    private static String plural(int n) {
        return n == 1 ? "" : "s";
    }
}
