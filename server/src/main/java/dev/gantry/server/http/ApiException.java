package dev.gantry.server.http;

/**
 * A failure with the HTTP status it maps to; the message is what the client reads in {@code {"error": "..."}}.
 * Thrown by handlers for the client's mistakes (400, 404, 405, 413) and for load (503).
 */
public final class ApiException extends RuntimeException {
    private final int status;

    public ApiException(int status, String message) {
        super(message);
        this.status = status;
    }

    public int status() {
        return status;
    }

    public static ApiException badRequest(String message) {
        return new ApiException(400, message);
    }
}
