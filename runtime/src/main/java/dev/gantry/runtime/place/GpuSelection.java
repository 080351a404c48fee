package dev.gantry.runtime.place;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The {@code --gpus} option: which GPUs to use, and optionally how to group them into replicas.
 * {@code 0,1,2,3} selects four GPUs and leaves grouping to the policy; {@code 0,1:2,3} asks for two replicas
 * of two GPUs each ({@code :} separates groups, {@code ,} GPUs within one). Empty or {@code all} is every GPU.
 *
 * <p>Immutable and thread-safe.
 *
 * @param groups  the GPU ids, one list per group; empty for all GPUs
 * @param grouped whether the groups are explicit replicas (the spec had a {@code :})
 */
public record GpuSelection(List<List<Integer>> groups, boolean grouped) {

    /** Every GPU, grouped by the policy. */
    public static final GpuSelection ALL = new GpuSelection(List.of(), false);

    public GpuSelection {
        groups = groups.stream().map(List::copyOf).toList();
        Set<Integer> seen = new HashSet<>();
        for (List<Integer> g : groups) {
            if (g.isEmpty()) {
                throw new IllegalArgumentException("empty GPU group");
            }
            for (int id : g) {
                if (!seen.add(id)) {
                    throw new IllegalArgumentException("GPU " + id + " is listed twice");
                }
            }
        }
    }

    /** Whether no GPUs were named: use them all. */
    public boolean isAll() {
        return groups.isEmpty();
    }

    /** Every GPU named, in order. */
    public Set<Integer> gpus() {
        Set<Integer> all = new LinkedHashSet<>();
        groups.forEach(all::addAll);
        return all;
    }

    /**
     * Parses a {@code --gpus} value.
     *
     * @throws IllegalArgumentException saying which part is wrong
     */
    public static GpuSelection parse(String spec) {
        if (spec == null || spec.isBlank() || spec.trim().equalsIgnoreCase("all")) {
            return ALL;
        }
        String s = spec.trim();
        List<List<Integer>> groups = new ArrayList<>();
        for (String part : s.split(":", -1)) {
            if (part.isBlank()) {
                throw new IllegalArgumentException("--gpus \"" + spec + "\": empty group (a ':' with no GPUs beside it)");
            }
            List<Integer> group = new ArrayList<>();
            for (String id : part.split(",", -1)) {
                group.add(parseId(spec, id.trim()));
            }
            groups.add(group);
        }
        try {
            return new GpuSelection(groups, s.contains(":"));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--gpus \"" + spec + "\": " + e.getMessage());
        }
    }

    private static int parseId(String spec, String id) {
        if (id.isEmpty()) {
            throw new IllegalArgumentException("--gpus \"" + spec + "\": empty GPU id (two commas, or one at an end)");
        }
        for (int i = 0; i < id.length(); i++) {
            if (id.charAt(i) < '0' || id.charAt(i) > '9') {
                throw new IllegalArgumentException("--gpus \"" + spec + "\": \"" + id
                        + "\" is not a GPU index; expected e.g. 0,1,2,3 or 0,1:2,3");
            }
        }
        if (id.length() > 4) {
            throw new IllegalArgumentException("--gpus \"" + spec + "\": GPU index " + id + " is out of range");
        }
        return Integer.parseInt(id);
    }

    @Override
    public String toString() {
        if (isAll()) {
            return "all";
        }
        StringBuilder b = new StringBuilder();
        for (List<Integer> g : groups) {
            if (!b.isEmpty()) {
                b.append(grouped ? ":" : ",");
            }
            for (int i = 0; i < g.size(); i++) {
                b.append(i == 0 ? "" : ",").append(g.get(i));
            }
        }
        return b.toString();
    }
}
