package dev.gantry.server.api.ollama;

/** The embed handler's wave size, for tests in other packages. */
public final class EmbedHandlersAccess {
    private EmbedHandlersAccess() {}

    public static int wave() {
        return EmbedHandlers.WAVE;
    }
}
