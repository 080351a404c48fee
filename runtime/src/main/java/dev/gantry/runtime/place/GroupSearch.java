package dev.gantry.runtime.place;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * Finds the most disjoint groups of {@code k} GPUs that each satisfy a test (the model fits), optionally only
 * groups whose GPUs are all peers of each other. A small exhaustive search: GPUs are taken in id order, the
 * lowest remaining one either joins a group or stays out, and a branch stops once it cannot beat the best
 * packing found. Hosts have at most 16 GPUs; a node budget bounds the odd topology that would still blow up,
 * keeping the best packing found so far (the first branches are the greedy, lowest-id ones).
 *
 * <p>Stateless and thread-safe.
 */
final class GroupSearch {

    private static final int NODE_BUDGET = 200_000;

    private final int k;
    private final boolean requirePeers;
    private final Predicate<List<Device>> fits;
    private List<List<Device>> best = List.of();
    private int nodes;

    private GroupSearch(int k, boolean requirePeers, Predicate<List<Device>> fits) {
        this.k = k;
        this.requirePeers = requirePeers;
        this.fits = fits;
    }

    /**
     * The largest set of disjoint {@code k}-GPU groups from {@code devices} (in id order) that pass {@code fits};
     * among equally many, the one whose groups have the lowest ids. Empty when no group passes.
     */
    static List<List<Device>> pack(List<Device> devices, int k, boolean requirePeers, Predicate<List<Device>> fits) {
        if (k < 1 || devices.size() < k) {
            return List.of();
        }
        GroupSearch s = new GroupSearch(k, requirePeers, fits);
        s.search(List.copyOf(devices), new ArrayList<>());
        return s.best;
    }

    private void search(List<Device> remaining, List<List<Device>> chosen) {
        if (chosen.size() > best.size()) {
            best = List.copyOf(chosen);
        }
        if (++nodes > NODE_BUDGET || chosen.size() + remaining.size() / k <= best.size()) {
            return;
        }
        Device first = remaining.getFirst();
        List<Device> rest = remaining.subList(1, remaining.size());
        List<Device> group = new ArrayList<>(k);
        group.add(first);
        withFirst(rest, 0, group, remaining, chosen);
        search(rest, chosen); // the lowest GPU stays out of every group
    }

    /** Completes {@code group} from {@code candidates[from..]}; recurses on each complete group that fits. */
    private void withFirst(List<Device> candidates, int from, List<Device> group, List<Device> remaining,
                           List<List<Device>> chosen) {
        if (group.size() == k) {
            if (fits.test(group)) {
                List<Device> left = new ArrayList<>(remaining);
                left.removeAll(group);
                chosen.add(List.copyOf(group));
                search(left, chosen);
                chosen.removeLast();
            }
            return;
        }
        for (int i = from; i < candidates.size() && nodes <= NODE_BUDGET; i++) {
            Device d = candidates.get(i);
            if (requirePeers && !group.stream().allMatch(d::isPeerOf)) {
                continue;
            }
            group.add(d);
            withFirst(candidates, i + 1, group, remaining, chosen);
            group.removeLast();
        }
    }
}
