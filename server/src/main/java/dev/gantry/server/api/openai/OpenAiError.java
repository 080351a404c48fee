package dev.gantry.server.api.openai;

/**
 * A client's mistake found while mapping an OpenAI request, with the request field it concerns ({@code param}) and
 * OpenAI's error {@code code}; answered as {@code {"error": {"message", "type", "param", "code"}}}.
 */
public final class OpenAiError extends RuntimeException {
    private final int status;
    private final String param;
    private final String code;

    public OpenAiError(int status, String message, String param, String code) {
        super(message);
        this.status = status;
        this.param = param;
        this.code = code;
    }

    public static OpenAiError invalid(String param, String message) {
        return new OpenAiError(400, message, param, null);
    }

    public int status() {
        return status;
    }

    public String param() {
        return param;
    }

    public String code() {
        return code;
    }
}
