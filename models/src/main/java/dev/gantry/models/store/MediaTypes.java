package dev.gantry.models.store;

/** The media types of Ollama's manifests and layers. */
public final class MediaTypes {
    /** The manifest itself (Docker's v2 schema 2), also the {@code Accept} header of a manifest request. */
    public static final String MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
    /** The config blob: model format, family, type, file type. */
    public static final String CONFIG = "application/vnd.docker.container.image.v1+json";
    public static final String MODEL = "application/vnd.ollama.image.model";
    public static final String TEMPLATE = "application/vnd.ollama.image.template";
    public static final String SYSTEM = "application/vnd.ollama.image.system";
    public static final String PARAMS = "application/vnd.ollama.image.params";
    public static final String LICENSE = "application/vnd.ollama.image.license";
    public static final String MESSAGES = "application/vnd.ollama.image.messages";
    public static final String PROJECTOR = "application/vnd.ollama.image.projector";
    public static final String ADAPTER = "application/vnd.ollama.image.adapter";

    private MediaTypes() {
    }
}
