package dev.gantry.server.api.ollama;

/** The vector arithmetic of {@code /api/embed}: L2 normalisation and {@code dimensions}. Pure. */
public final class EmbeddingVectors {
    private EmbeddingVectors() {}

    /** A copy scaled to unit length (a zero vector stays zero), as Ollama returns from {@code /api/embed}. */
    public static float[] normalize(float[] v) {
        double sum = 0;
        for (float x : v) {
            sum += (double) x * x;
        }
        float[] out = v.clone();
        if (sum == 0) {
            return out;
        }
        double norm = Math.sqrt(sum);
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) (out[i] / norm);
        }
        return out;
    }

    /**
     * The vector for a request's {@code dimensions}: the first {@code dimensions} values, normalised again; the whole
     * vector when {@code dimensions} is 0 or not smaller than the vector.
     */
    public static float[] truncate(float[] normalized, int dimensions) {
        if (dimensions <= 0 || dimensions >= normalized.length) {
            return normalized;
        }
        return normalize(java.util.Arrays.copyOf(normalized, dimensions));
    }
}
