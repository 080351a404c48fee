package dev.gantry.runtime.runner;

/** The runner's wait queue is full; the server answers 503 at once. */
public final class QueueFullException extends RuntimeException {
    public QueueFullException(String message) {
        super(message);
    }
}
