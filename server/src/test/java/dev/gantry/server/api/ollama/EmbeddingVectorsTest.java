package dev.gantry.server.api.ollama;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import org.junit.jupiter.api.Test;

class EmbeddingVectorsTest {
    @Test
    void normalisesToUnitLength() {
        assertArrayEquals(new float[] {0.6f, 0.8f}, EmbeddingVectors.normalize(new float[] {3, 4}), 1e-6f);
        assertArrayEquals(new float[] {0, 0}, EmbeddingVectors.normalize(new float[] {0, 0}));
    }

    @Test
    void dimensionsTruncateThenNormaliseAgain() {
        float[] v = EmbeddingVectors.normalize(new float[] {3, 4, 12});
        float[] two = EmbeddingVectors.truncate(v, 2);
        assertArrayEquals(new float[] {0.6f, 0.8f}, two, 1e-6f);
        assertSame(v, EmbeddingVectors.truncate(v, 0));
        assertSame(v, EmbeddingVectors.truncate(v, 3));
        assertSame(v, EmbeddingVectors.truncate(v, 99));
        assertEquals(1, EmbeddingVectors.truncate(v, 1)[0], 1e-6f);
    }
}
