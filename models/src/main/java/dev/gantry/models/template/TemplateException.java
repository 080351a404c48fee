package dev.gantry.models.template;

/**
 * A template that cannot be parsed or rendered: a syntax error, an operation on the wrong type, or the template's
 * own {@code raise_exception(...)} (for example "Conversation roles must alternate"). The message says which and,
 * where known, the template line.
 */
public final class TemplateException extends RuntimeException {
    public TemplateException(String message) {
        super(message);
    }

    public TemplateException(String message, Throwable cause) {
        super(message, cause);
    }
}
