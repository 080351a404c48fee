package dev.gantry.models.template;

/**
 * A template that cannot be parsed or rendered: a syntax error, an operation on the wrong type, or the template's
 * own {@code raise_exception(...)} (for example "Conversation roles must alternate"). The message says which and,
 * where known, the template line.
 */
public final class TemplateException extends RuntimeException {
    private final boolean unsupported;

    public TemplateException(String message) {
        super(message);
        this.unsupported = false;
    }

    private TemplateException(String message, boolean unsupported) {
        super(message);
        this.unsupported = unsupported;
    }

    /** A construct the language has but this renderer does not handle: the template may well be valid. */
    public static TemplateException unsupported(String message) {
        return new TemplateException(message, true);
    }

    /** True for a construct this renderer does not handle ({@link #unsupported}), false for an error. */
    public boolean isUnsupported() {
        return unsupported;
    }

    public TemplateException(String message, Throwable cause) {
        super(message, cause);
        this.unsupported = false;
    }
}
