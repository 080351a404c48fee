package dev.gantry.runtime.engine;

/**
 * Some outputs of a step could not be sampled; every other output was, and its token is in place. Thrown by
 * {@link EngineSession#sampleAll} once all its work has finished, so the caller can fail just those sequences.
 */
public final class SamplingException extends RuntimeException {
    private final Throwable[] causes;

    /** @param causes by output, null where the output was sampled */
    public SamplingException(Throwable[] causes) {
        super(summary(causes), firstOf(causes), false, false);
        this.causes = causes.clone();
    }

    /** Whether output {@code i} failed. */
    public boolean failed(int i) {
        return i < causes.length && causes[i] != null;
    }

    /** Why output {@code i} failed, or null. */
    public Throwable cause(int i) {
        return i < causes.length ? causes[i] : null;
    }

    private static Throwable firstOf(Throwable[] causes) {
        for (Throwable t : causes) {
            if (t != null) {
                return t;
            }
        }
        return null;
    }

    private static String summary(Throwable[] causes) {
        int n = 0;
        for (Throwable t : causes) {
            n += t != null ? 1 : 0;
        }
        Throwable first = firstOf(causes);
        return n + " of " + causes.length + " outputs could not be sampled" + (first == null ? "" : ": " + first);
    }
}
