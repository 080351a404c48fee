package dev.gantry.server.ops;

/**
 * SIGTERM as a drain, not an abrupt exit. The JVM's own handling runs the shutdown hooks and exits with 143; an
 * orchestrator that sends SIGTERM expects the process to finish its work and exit 0, so Gantry takes the signal
 * itself (through {@code sun.misc.Signal}, the JDK's supported-but-unofficial API for it) and exits when drained.
 */
public final class TermSignal {
    private TermSignal() {}

    /**
     * Runs {@code action} on SIGTERM, on the JVM's signal thread.
     *
     * @return false where the platform does not let the signal be handled (the JVM's default then applies)
     */
    public static boolean handle(Runnable action) {
        try {
            sun.misc.Signal.handle(new sun.misc.Signal("TERM"), signal -> action.run());
            return true;
        } catch (IllegalArgumentException | UnsupportedOperationException e) {
            return false;
        }
    }
}
