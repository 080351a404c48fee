package dev.gantry.llama.gpu;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Which GPU can access which other's memory directly (CUDA peer-to-peer, {@code cuDeviceCanAccessPeer}), between GPUs
 * named by id. Immutable. Access need not be symmetric, so {@link #link} reads "from row to column".
 */
public final class PeerAccess {
    /** One entry of the matrix. */
    public enum Link {
        /** The same GPU. */
        SELF,
        /** Peer access possible. */
        OK,
        /** No peer access: copies go through the host. */
        NONE,
        /** Not known (no CUDA driver, or the query failed). */
        UNKNOWN
    }

    private static final PeerAccess EMPTY = new PeerAccess(List.of(), new Link[0][0]);

    private final List<Integer> ids;
    private final Link[][] links;

    private PeerAccess(List<Integer> ids, Link[][] links) {
        this.ids = ids;
        this.links = links;
    }

    /**
     * The matrix over {@code ids}: {@code links[i][j]} is from {@code ids[i]} to {@code ids[j]}; the diagonal is
     * {@link Link#SELF} whatever it says.
     */
    public static PeerAccess of(List<Integer> ids, Link[][] links) {
        List<Integer> copy = List.copyOf(ids);
        if (copy.stream().distinct().count() != copy.size()) {
            throw new IllegalArgumentException("duplicate GPU ids " + copy);
        }
        if (links.length != copy.size()) {
            throw new IllegalArgumentException(links.length + " rows for " + copy.size() + " GPUs");
        }
        Link[][] m = new Link[copy.size()][];
        for (int i = 0; i < m.length; i++) {
            if (links[i].length != copy.size()) {
                throw new IllegalArgumentException("row " + i + " has " + links[i].length + " entries, not "
                        + copy.size());
            }
            m[i] = links[i].clone();
            m[i][i] = Link.SELF;
        }
        return new PeerAccess(copy, m);
    }

    public static PeerAccess empty() {
        return EMPTY;
    }

    /** The GPU ids, in the matrix's order. */
    public List<Integer> ids() {
        return ids;
    }

    public int size() {
        return ids.size();
    }

    /** The link from GPU {@code from} to GPU {@code to}; {@link Link#UNKNOWN} for ids not in the matrix. */
    public Link link(int from, int to) {
        int i = ids.indexOf(from);
        int j = ids.indexOf(to);
        if (i < 0 || j < 0) {
            return from == to ? Link.SELF : Link.UNKNOWN;
        }
        return links[i][j];
    }

    /** The GPUs {@code id} can access directly ({@link Link#OK} from it), in the matrix's order. */
    public Set<Integer> peersOf(int id) {
        Set<Integer> out = new LinkedHashSet<>();
        for (int other : ids) {
            if (other != id && link(id, other) == Link.OK) {
                out.add(other);
            }
        }
        return Collections.unmodifiableSet(out);
    }

    /** True when every pair of distinct GPUs among {@code among} has peer access both ways. */
    public boolean allConnected(List<Integer> among) {
        for (int a : among) {
            for (int b : among) {
                if (a != b && link(a, b) != Link.OK) {
                    return false;
                }
            }
        }
        return true;
    }

    /** The matrix over {@code keep} (in that order), each of which must be one of {@link #ids}. */
    public PeerAccess restrict(List<Integer> keep) {
        Link[][] m = new Link[keep.size()][keep.size()];
        for (int i = 0; i < keep.size(); i++) {
            if (!ids.contains(keep.get(i))) {
                throw new IllegalArgumentException("GPU " + keep.get(i) + " is not in " + ids);
            }
            for (int j = 0; j < keep.size(); j++) {
                m[i][j] = link(keep.get(i), keep.get(j));
            }
        }
        return of(keep, m);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PeerAccess p && ids.equals(p.ids) && Arrays.deepEquals(links, p.links);
    }

    @Override
    public int hashCode() {
        return ids.hashCode() * 31 + Arrays.deepHashCode(links);
    }

    @Override
    public String toString() {
        return "PeerAccess" + ids + Arrays.deepToString(links);
    }
}
