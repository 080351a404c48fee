package dev.gantry.llama.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gantry.llama.gpu.PeerAccess.Link;
import java.util.List;
import org.junit.jupiter.api.Test;

class PeerAccessTest {
    private final PeerAccess three = PeerAccess.of(List.of(0, 1, 2), new Link[][] {
            {Link.NONE, Link.OK, Link.NONE},
            {Link.OK, Link.SELF, Link.UNKNOWN},
            {Link.OK, Link.OK, Link.OK}});

    @Test
    void theDiagonalIsAlwaysSelf() {
        assertEquals(Link.SELF, three.link(0, 0));
        assertEquals(Link.SELF, three.link(2, 2));
    }

    @Test
    void readsFromRowToColumn() {
        assertEquals(Link.NONE, three.link(0, 2));
        assertEquals(Link.OK, three.link(2, 0));
        assertEquals(Link.UNKNOWN, three.link(1, 2));
        assertEquals(Link.UNKNOWN, three.link(0, 7));
    }

    @Test
    void restrictKeepsTheGivenOrder() {
        PeerAccess sub = three.restrict(List.of(2, 0));
        assertEquals(List.of(2, 0), sub.ids());
        assertEquals(Link.OK, sub.link(2, 0));
        assertEquals(Link.NONE, sub.link(0, 2));
        assertThrows(IllegalArgumentException.class, () -> three.restrict(List.of(5)));
    }

    @Test
    void allConnectedNeedsBothDirections() {
        assertTrue(three.allConnected(List.of(0, 1)));
        assertFalse(three.allConnected(List.of(0, 2)));
        assertTrue(three.allConnected(List.of(1)));
    }

    @Test
    void peersOfListsDirectTargets() {
        assertEquals(java.util.Set.of(1), three.peersOf(0));
        assertEquals(java.util.Set.of(0, 1), three.peersOf(2));
        assertEquals(java.util.Set.of(), three.peersOf(9));
    }

    @Test
    void rejectsAMatrixOfTheWrongShape() {
        assertThrows(IllegalArgumentException.class, () -> PeerAccess.of(List.of(0, 1), new Link[1][1]));
        assertThrows(IllegalArgumentException.class, () -> PeerAccess.of(List.of(0, 0), new Link[2][2]));
    }
}
