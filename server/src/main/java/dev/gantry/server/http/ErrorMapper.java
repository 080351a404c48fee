package dev.gantry.server.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.gantry.runtime.ModelLoadException;
import dev.gantry.runtime.ModelNotFoundException;
import dev.gantry.runtime.runner.QueueFullException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/** The one place that turns a failure into an HTTP status and Ollama's error message. Pure. */
public final class ErrorMapper {
    private ErrorMapper() {}

    /** Status and message for a failure. */
    public record Mapped(int status, String message) {}

    public static Mapped map(Throwable t) {
        Throwable e = unwrap(t);
        return switch (e) {
            case ApiException a -> new Mapped(a.status(), a.getMessage());
            case ModelNotFoundException m -> new Mapped(404, m.getMessage());
            case QueueFullException q -> new Mapped(503, q.getMessage());
            case JsonProcessingException j -> new Mapped(400, "invalid JSON: " + j.getOriginalMessage());
            case IllegalArgumentException i -> new Mapped(400, i.getMessage());
            case ModelLoadException l -> new Mapped(500, l.getMessage());
            default -> new Mapped(500, e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage());
        };
    }

    static Throwable unwrap(Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }
}
