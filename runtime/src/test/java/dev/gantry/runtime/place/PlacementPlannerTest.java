package dev.gantry.runtime.place;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Placements case by case: devices and a request in, replicas and a reason out. */
class PlacementPlannerTest {

    private static final long MIB = 1L << 20;
    private static final long GIB = 1L << 30;
    private static final int ALL = -1;

    /** A Llama-3-8B-sized model: 4.2 GiB, 32 layers, 128 KiB of F16 KV per token, 300 MiB compute buffer. */
    private static final ModelSize SMALL = ModelSize.ofWeights((long) (4.2 * GIB), 32, 131_072, 300 * MIB);
    /** A 40 GiB model with the same KV shape. */
    private static final ModelSize MEDIUM = ModelSize.ofWeights(40 * GIB, 32, 131_072, 300 * MIB);
    /** A 70 GiB, 80-layer model with 320 KiB of KV per token (4 KiB a layer). */
    private static final ModelSize LARGE = ModelSize.ofWeights(70 * GIB, 80, 80 * 4096, 300 * MIB);

    /** {@code n} cards of {@code gib} GiB, all free and all peers of each other. */
    static List<Device> cards(int n, long gib) {
        List<Device> d = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Set<Integer> peers = new HashSet<>();
            for (int j = 0; j < n; j++) {
                if (j != i) {
                    peers.add(j);
                }
            }
            d.add(new Device(i, "H100", gib * GIB, gib * GIB, peers));
        }
        return d;
    }

    /** Cards of the given sizes, peers only where {@code links} says ({@code {0, 2}}: 0 and 2 are peers). */
    static List<Device> cards(long[] gibs, int[]... links) {
        List<Device> d = new ArrayList<>();
        for (int i = 0; i < gibs.length; i++) {
            Set<Integer> peers = new HashSet<>();
            for (int[] l : links) {
                if (l[0] == i) {
                    peers.add(l[1]);
                } else if (l[1] == i) {
                    peers.add(l[0]);
                }
            }
            d.add(new Device(i, "GPU" + i, gibs[i] * GIB, gibs[i] * GIB, peers));
        }
        return d;
    }

    /**
     * One case.
     *
     * @param groups    the GPUs of each replica expected
     * @param gpuLayers the n_gpu_layers expected of each replica, {@link #ALL} for everything
     * @param reason    a phrase the placement's reason must contain
     */
    record Case(String name, List<Device> devices, ModelSize model, UnaryOperator<PlacementRequest> options,
                int sequences, List<List<Integer>> groups, SplitMode mode, int gpuLayers, int expectSequences,
                String reason) {
        @Override
        public String toString() {
            return name;
        }
    }

    private static Case c(String name, List<Device> devices, ModelSize model, UnaryOperator<PlacementRequest> options,
                          int sequences, List<List<Integer>> groups, SplitMode mode, int gpuLayers, int expectSequences,
                          String reason) {
        return new Case(name, devices, model, options, sequences, groups, mode, gpuLayers, expectSequences, reason);
    }

    private static final UnaryOperator<PlacementRequest> DEFAULTS = r -> r;

    private static UnaryOperator<PlacementRequest> ceiling(double f) {
        return r -> r.withMemoryFraction(f);
    }

    static Stream<Case> cases() {
        List<List<Integer>> cpu = List.of(List.of());
        return Stream.of(
                // replicas where the model fits one GPU
                c("one 80 GiB card, 4.2 GiB model -> one replica", cards(1, 80), SMALL, DEFAULTS, 8,
                        List.of(List.of(0)), SplitMode.NONE, ALL, 8, "fits one GPU"),
                c("two 80 GiB cards, 4.2 GiB model -> two replicas", cards(2, 80), SMALL, DEFAULTS, 8,
                        List.of(List.of(0), List.of(1)), SplitMode.NONE, ALL, 8, "2 replicas, one per GPU"),
                c("four 80 GiB cards, 4.2 GiB model -> four replicas", cards(4, 80), SMALL, DEFAULTS, 8,
                        List.of(List.of(0), List.of(1), List.of(2), List.of(3)), SplitMode.NONE, ALL, 8, "4 replicas"),
                c("eight 80 GiB cards, 4.2 GiB model -> eight replicas", cards(8, 80), SMALL, DEFAULTS, 8,
                        List.of(List.of(0), List.of(1), List.of(2), List.of(3), List.of(4), List.of(5), List.of(6),
                                List.of(7)), SplitMode.NONE, ALL, 8, "8 replicas"),
                c("80 and 16 GiB cards, 20 GiB model -> one replica, the small card idle", cards(new long[] {80, 16}),
                        ModelSize.ofWeights(20 * GIB, 32, 131_072, 300 * MIB), DEFAULTS, 4,
                        List.of(List.of(0)), SplitMode.NONE, ALL, 4, "GPU [1] stays idle"),

                // groups when it does not
                c("four 80 GiB cards at a 40% ceiling, 40 GiB model -> two pairs split by layer", cards(4, 80), MEDIUM,
                        ceiling(0.40), 4, List.of(List.of(0, 1), List.of(2, 3)), SplitMode.LAYER, ALL, 4,
                        "2 groups of 2 peer-connected GPUs, split by layer"),
                c("eight 80 GiB cards at a 40% ceiling, 40 GiB model -> four pairs", cards(8, 80), MEDIUM,
                        ceiling(0.40), 4, List.of(List.of(0, 1), List.of(2, 3), List.of(4, 5), List.of(6, 7)),
                        SplitMode.LAYER, ALL, 4, "4 groups of 2"),
                c("four 80 GiB cards at 40%, 70 GiB model -> one group of three, one card idle", cards(4, 80),
                        ModelSize.ofWeights(70 * GIB, 80, 327_680, 300 * MIB), ceiling(0.40), 1,
                        List.of(List.of(0, 1, 2)), SplitMode.LAYER, ALL, 1, "1 group of 3"),
                c("peers only 0-2 and 1-3 -> pairs {0,2} and {1,3}",
                        cards(new long[] {80, 80, 80, 80}, new int[] {0, 2}, new int[] {1, 3}), MEDIUM, ceiling(0.40),
                        4, List.of(List.of(0, 2), List.of(1, 3)), SplitMode.LAYER, ALL, 4, "peer-connected"),
                c("three cards, only 0-1 peers -> one pair, GPU 2 idle",
                        cards(new long[] {80, 80, 80}, new int[] {0, 1}), MEDIUM, ceiling(0.40), 4,
                        List.of(List.of(0, 1)), SplitMode.LAYER, ALL, 4, "GPU [2] stays idle"),
                c("peers 1-2 and 2-3 only: the pairing that leaves two idle is the only one",
                        cards(new long[] {80, 80, 80, 80}, new int[] {1, 2}, new int[] {2, 3}), MEDIUM, ceiling(0.40),
                        4, List.of(List.of(1, 2)), SplitMode.LAYER, ALL, 4, "1 group of 2 peer-connected"),
                c("no peer access at all -> pairs anyway, and the reason says so",
                        cards(new long[] {80, 80, 80, 80}), MEDIUM, ceiling(0.40), 4,
                        List.of(List.of(0, 1), List.of(2, 3)), SplitMode.LAYER, ALL, 4, "without peer access"),
                c("80 and 40 GiB cards, 80 GiB model -> one pair split 2:1", cards(new long[] {80, 40}, new int[] {0, 1}),
                        ModelSize.ofWeights(80 * GIB, 80, 4096, 300 * MIB), DEFAULTS, 1,
                        List.of(List.of(0, 1)), SplitMode.LAYER, ALL, 1, "split by layer"),

                // the split mode from measurements
                c("tensor split measured faster -> pairs split by tensor", cards(4, 80), MEDIUM,
                        r -> r.withMemoryFraction(0.4).withMeasured(Map.of(SplitMode.LAYER, 290.0, SplitMode.TENSOR, 318.0)),
                        4, List.of(List.of(0, 1), List.of(2, 3)), SplitMode.TENSOR, ALL, 4, "measured 318 tok/s against 290"),
                c("tensor split measured slower -> layer", cards(2, 80), MEDIUM,
                        r -> r.withMemoryFraction(0.4).withMeasured(Map.of(SplitMode.LAYER, 337.0, SplitMode.TENSOR, 288.0)),
                        4, List.of(List.of(0, 1)), SplitMode.LAYER, ALL, 4, "split by layer"),
                c("only tensor measured, nothing to compare -> layer", cards(2, 80), MEDIUM,
                        r -> r.withMemoryFraction(0.4).withMeasured(Map.of(SplitMode.TENSOR, 318.0)),
                        4, List.of(List.of(0, 1)), SplitMode.LAYER, ALL, 4, "split by layer"),

                // policies
                c("replicate, 4.2 GiB model on four cards -> four replicas", cards(4, 80), SMALL,
                        r -> r.withPolicy(Policy.REPLICATE), 8,
                        List.of(List.of(0), List.of(1), List.of(2), List.of(3)), SplitMode.NONE, ALL, 8, "replicate: "),
                c("replicate, model too big for one card -> auto pairs, and the reason says so", cards(4, 80), MEDIUM,
                        r -> r.withPolicy(Policy.REPLICATE).withMemoryFraction(0.4), 4,
                        List.of(List.of(0, 1), List.of(2, 3)), SplitMode.LAYER, ALL, 4, "placed as auto instead"),
                c("split=layer, a model that fits one card -> one replica over all four", cards(4, 80), SMALL,
                        r -> r.withPolicy(Policy.parse("split=layer")), 8,
                        List.of(List.of(0, 1, 2, 3)), SplitMode.LAYER, ALL, 8, "split=layer over 4 GPUs"),
                c("split=tensor on one card -> no split", cards(1, 80), SMALL,
                        r -> r.withPolicy(Policy.parse("split=tensor")), 8,
                        List.of(List.of(0)), SplitMode.NONE, ALL, 8, "nothing to split"),

                // --gpus
                c("--gpus 0,1:2,3 -> two replicas of two, though the model fits one", cards(4, 80), SMALL,
                        r -> r.withGpus(GpuSelection.parse("0,1:2,3")), 8,
                        List.of(List.of(0, 1), List.of(2, 3)), SplitMode.LAYER, ALL, 8, "explicit groups"),
                c("--gpus 3:1 -> two single-GPU replicas in that order", cards(4, 80), SMALL,
                        r -> r.withGpus(GpuSelection.parse("3:1")), 8,
                        List.of(List.of(3), List.of(1)), SplitMode.NONE, ALL, 8, "2 replicas"),
                c("--gpus 1,3 -> replicas on those two only", cards(4, 80), SMALL,
                        r -> r.withGpus(GpuSelection.parse("1,3")), 8,
                        List.of(List.of(1), List.of(3)), SplitMode.NONE, ALL, 8, "2 replicas"),
                c("--gpus 0,1:2,3 with split=tensor -> pairs split by tensor", cards(4, 80), SMALL,
                        r -> r.withGpus(GpuSelection.parse("0,1:2,3")).withPolicy(Policy.parse("split=tensor")), 8,
                        List.of(List.of(0, 1), List.of(2, 3)), SplitMode.TENSOR, ALL, 8, "split by tensor"),

                // Ollama's options
                c("main_gpu=2 -> one replica on GPU 2", cards(4, 80), SMALL, r -> r.withMainGpu(2), 8,
                        List.of(List.of(2)), SplitMode.NONE, ALL, 8, "main_gpu=2"),
                c("main_gpu=1, 40 GiB model at 40% -> GPU 1 first, split over all", cards(3, 80), MEDIUM,
                        r -> r.withMainGpu(1).withMemoryFraction(0.4), 4,
                        List.of(List.of(1, 0, 2)), SplitMode.LAYER, ALL, 4, "GPUs 1,0,2 split by layer"),
                c("num_gpu=10 -> ten layers on the largest card", cards(new long[] {24, 80, 48}), SMALL,
                        r -> r.withNumGpu(10), 8, List.of(List.of(1)), SplitMode.NONE, 10, 8, "10 of 32 layers"),
                c("num_gpu=999 -> everything, one replica", cards(4, 80), SMALL, r -> r.withNumGpu(999), 8,
                        List.of(List.of(0)), SplitMode.NONE, 33, 8, "all 32 layers and the output"),
                c("num_gpu=-1 is Ollama's unset -> auto", cards(2, 80), SMALL, r -> r.withNumGpu(-1), 8,
                        List.of(List.of(0), List.of(1)), SplitMode.NONE, ALL, 8, "one per GPU"),
                c("num_gpu=0 -> CPU", cards(4, 80), SMALL, r -> r.withNumGpu(0), 8,
                        cpu, SplitMode.NONE, 0, 8, "num_gpu=0"),
                c("num_gpu=80 on one 24 GiB card -> honoured, with a warning", cards(1, 24), LARGE,
                        r -> r.withNumGpu(80), 1, List.of(List.of(0)), SplitMode.NONE, 80, 1, "loading may fail"),

                // when nothing fits
                c("no GPUs -> CPU", List.of(), SMALL, DEFAULTS, 8, cpu, SplitMode.NONE, 0, 8, "no GPUs found"),
                c("200 GiB model with 1 MiB of KV a token, four 80 GiB cards -> 16 of 32 sequences",
                        cards(4, 80), ModelSize.ofWeights(200 * GIB, 80, MIB, 300 * MIB), DEFAULTS, 32,
                        List.of(List.of(0, 1, 2, 3)), SplitMode.LAYER, ALL, 16, "only 16 of the 32 sequences fit"),
                c("70 GiB model on two 24 GiB cards -> partial offload, 45 of 80 layers", cards(2, 24), LARGE,
                        DEFAULTS, 1, List.of(List.of(0, 1)), SplitMode.LAYER, 45, 1, "partial offload, 45 of 80 layers"),
                c("partial offload keeps the sequences asked for", cards(2, 24), LARGE, DEFAULTS, 4,
                        List.of(List.of(0, 1)), SplitMode.LAYER, 42, 4, "42 of 80 layers on GPUs 0,1 split by layer, the rest on the CPU, keeping 4 sequences"),
                c("70 GiB model on two 512 MiB cards -> CPU", List.of(new Device(0, "tiny", 512 * MIB, 512 * MIB, Set.of(1)),
                                new Device(1, "tiny", 512 * MIB, 512 * MIB, Set.of(0))), LARGE, DEFAULTS, 1, cpu, SplitMode.NONE, 0,
                        1, "not one layer fits"),
                c("a card with little free memory is not counted at its size",
                        List.of(new Device(0, "busy", 80 * GIB, 10 * GIB, Set.of()),
                                new Device(1, "free", 80 * GIB, 80 * GIB, Set.of())),
                        ModelSize.ofWeights(20 * GIB, 32, 131_072, 300 * MIB), DEFAULTS, 4,
                        List.of(List.of(1)), SplitMode.NONE, ALL, 4, "GPU [0] stays idle"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void places(Case c) {
        PlacementRequest req = c.options().apply(PlacementRequest.of(c.model(), 4096, c.sequences()));
        Placement p = PlacementPlanner.plan(c.devices(), req);
        assertEquals(c.groups(), p.replicas().stream().map(ReplicaPlan::gpus).toList(), p::toString);
        for (ReplicaPlan r : p.replicas()) {
            assertEquals(c.mode(), r.mode(), p::toString);
            assertEquals(c.gpuLayers() == ALL ? c.model().allGpuLayers() : c.gpuLayers(), r.gpuLayers(), p::toString);
            assertEquals(c.expectSequences(), r.sequences(), p::toString);
            assertEquals(r.gpus().size(), r.tensorSplit().length);
            if (!r.onCpu()) {
                float sum = 0;
                for (float f : r.tensorSplit()) {
                    sum += f;
                }
                assertEquals(1f, sum, 1e-5f);
            }
        }
        assertTrue(p.reason().contains(c.reason()), () -> "reason \"" + p.reason() + "\" lacks \"" + c.reason() + "\"");
        // the plan stays within each GPU's ceiling, unless the user forced num_gpu
        if (req.numGpu().isEmpty()) {
            for (ReplicaPlan r : p.replicas()) {
                for (int i = 0; i < r.gpus().size(); i++) {
                    Device d = find(c.devices(), r.gpus().get(i));
                    assertTrue(r.bytesPerGpu().get(i) <= d.usableBytes(req.memoryFraction()), p::toString);
                }
            }
        }
    }

    @Test
    void heterogeneousCardsSplitByUsableMemory() {
        Placement p = PlacementPlanner.plan(cards(new long[] {80, 40}, new int[] {0, 1}),
                PlacementRequest.of(ModelSize.ofWeights(80 * GIB, 80, 4096, 300 * MIB), 4096, 1));
        ReplicaPlan r = p.replicas().getFirst();
        assertArrayEquals(new float[] {2f / 3, 1f / 3}, r.tensorSplit(), 1e-6f);
        // the bigger card carries twice the weights and KV, each card one compute buffer
        long shared0 = r.bytesPerGpu().get(0) - 300 * MIB;
        long shared1 = r.bytesPerGpu().get(1) - 300 * MIB;
        assertEquals(2.0, shared0 / (double) shared1, 1e-6);
    }

    @Test
    void singleReplicaEstimateIsWeightsKvAndCompute() {
        Placement p = PlacementPlanner.plan(cards(1, 80), PlacementRequest.of(SMALL, 4096, 8));
        long kv = 131_072L * 4096 * 8;
        assertEquals(List.of(SMALL.weightBytes() + kv + 300 * MIB), p.replicas().getFirst().bytesPerGpu());
        assertArrayEquals(new float[] {1f}, p.replicas().getFirst().tensorSplit());
    }

    @Test
    void rowSplitKeepsTheKvCacheOnTheMainGpu() {
        Placement p = PlacementPlanner.plan(cards(2, 80),
                PlacementRequest.of(SMALL, 4096, 8).withPolicy(Policy.parse("split=row")));
        ReplicaPlan r = p.replicas().getFirst();
        assertEquals(SplitMode.ROW, r.mode());
        long kv = 131_072L * 4096 * 8;
        assertEquals(kv, r.bytesPerGpu().get(0) - r.bytesPerGpu().get(1));
    }

    @Test
    void gpusNotFoundAreNamed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PlacementPlanner.plan(cards(4, 80),
                PlacementRequest.of(SMALL, 4096, 8).withGpus(GpuSelection.parse("0,5"))));
        assertEquals("--gpus names GPU 5, but the GPUs found are [0, 1, 2, 3]", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> PlacementPlanner.plan(cards(2, 80),
                PlacementRequest.of(SMALL, 4096, 8).withMainGpu(3)));
        assertTrue(e.getMessage().startsWith("main_gpu names GPU 3"), e.getMessage());
    }

    @Test
    void sixteenCardsPlanQuickly() {
        // the group search is exhaustive; sixteen cards where only fifteen together fit must still answer at once
        long start = System.nanoTime();
        Placement p = PlacementPlanner.plan(cards(16, 80),
                PlacementRequest.of(ModelSize.ofWeights(1000 * GIB, 100, 4096, 300 * MIB), 4096, 1));
        assertEquals(List.of(List.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14)),
                p.replicas().stream().map(ReplicaPlan::gpus).toList());
        assertTrue(p.reason().contains("1 group of 15"), p.reason());
        // "at once": well under this on any machine; the bound only catches a search gone exponential, and is wide
        // enough for a loaded CI machine that is still compiling the planner
        assertTrue(System.nanoTime() - start < 10_000_000_000L);
    }

    static Stream<Arguments> preferred() {
        return Stream.of(
                Arguments.of("nothing measured", Map.of(), SplitMode.LAYER),
                Arguments.of("tensor faster", Map.of(SplitMode.LAYER, 1.0, SplitMode.TENSOR, 2.0), SplitMode.TENSOR),
                Arguments.of("row fastest", Map.of(SplitMode.LAYER, 1.0, SplitMode.TENSOR, 2.0, SplitMode.ROW, 3.0),
                        SplitMode.ROW),
                Arguments.of("a tie stays with layer", Map.of(SplitMode.LAYER, 2.0, SplitMode.TENSOR, 2.0), SplitMode.LAYER),
                Arguments.of("no layer measurement", Map.of(SplitMode.TENSOR, 9.0), SplitMode.LAYER));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("preferred")
    void splitModeFromMeasurements(String name, Map<SplitMode, Double> measured, SplitMode expected) {
        assertEquals(expected, PlacementPlanner.preferredSplit(measured));
    }

    private static Device find(List<Device> devices, int id) {
        return devices.stream().filter(d -> d.id() == id).findFirst().orElseThrow();
    }
}
