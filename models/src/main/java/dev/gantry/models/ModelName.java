package dev.gantry.models;

import java.util.Locale;
import java.util.Optional;

/**
 * An Ollama model name, {@code [host/][namespace/]model[:tag]}, with the defaults
 * {@value #DEFAULT_HOST}, {@value #DEFAULT_NAMESPACE} and {@value #DEFAULT_TAG} filled in.
 *
 * <p>The parts keep the case they were given, as Ollama keeps it (in the store's folders and in listings), and match
 * case-insensitively, as Ollama matches them: {@code equals} and {@code hashCode} ignore case, so {@code equals} is
 * the matching rule. Each part is checked strictly since names turn into paths in the model store: only
 * {@code [a-zA-Z0-9_.-]} (the host may also hold {@code :} for a port), not starting with {@code .} or {@code -}, no
 * {@code .} in the namespace (as in Ollama), and length limits of 350 (host) and 80 (namespace, model, tag).
 * Anything else fails with an {@link IllegalArgumentException} whose message can go to a user as is.
 *
 * <p>Immutable and thread-safe.
 *
 * @param host      registry host, e.g. {@code registry.ollama.ai} or {@code localhost:5000}
 * @param namespace e.g. {@code library}
 * @param model     e.g. {@code llama3.2}
 * @param tag       e.g. {@code latest} or {@code 3b-instruct-q4_K_M}
 */
public record ModelName(String host, String namespace, String model, String tag) {

    public static final String DEFAULT_HOST = "registry.ollama.ai";
    public static final String DEFAULT_NAMESPACE = "library";
    public static final String DEFAULT_TAG = "latest";

    static final int MAX_HOST = 350;
    static final int MAX_PART = 80;

    /** Validates every part. */
    public ModelName {
        host = checkPart("host", host, MAX_HOST, true);
        namespace = checkPart("namespace", namespace, MAX_PART, false);
        if (namespace.indexOf('.') >= 0) { // Ollama's names allow '.' in every part but the namespace
            throw new IllegalArgumentException("the namespace part contains '.', which a namespace may not hold");
        }
        model = checkPart("model", model, MAX_PART, false);
        tag = checkPart("tag", tag, MAX_PART, false);
    }

    /** A library model with the default host and namespace. */
    public static ModelName of(String model, String tag) {
        return new ModelName(DEFAULT_HOST, DEFAULT_NAMESPACE, model, tag);
    }

    /**
     * Parses {@code [host/][namespace/]model[:tag]}. With two slash-separated parts the first is the
     * namespace, as in Ollama. The tag separator is the last {@code :} after the last {@code /}, so a host
     * port ({@code localhost:5000/ns/m}) is not mistaken for a tag.
     *
     * @throws IllegalArgumentException with a user-readable message if the name is not valid
     */
    public static ModelName parse(String name) {
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("model name is required");
        }
        if (name.length() > MAX_HOST + 3 * MAX_PART + 4) {
            throw invalid(name, "it is longer than " + (MAX_HOST + 3 * MAX_PART + 4) + " characters");
        }
        // a scheme goes, as Ollama's ParseNameBare drops it: https://registry.ollama.ai/library/m is that model
        int scheme = name.indexOf("://");
        if (scheme > 0 && name.substring(0, scheme).chars().allMatch(Character::isLetter)) {
            name = name.substring(scheme + 3);
        }
        int lastSlash = name.lastIndexOf('/');
        int colon = name.indexOf(':', lastSlash + 1);
        String path = colon < 0 ? name : name.substring(0, colon);
        String tag = colon < 0 ? DEFAULT_TAG : name.substring(colon + 1);
        if (colon >= 0 && tag.isEmpty()) {
            throw invalid(name, "the tag after ':' is empty");
        }
        // limit -1 keeps empty parts, so "a//b" and "/a" are rejected instead of collapsing
        String[] parts = path.split("/", -1);
        try {
            return switch (parts.length) {
                case 1 -> new ModelName(DEFAULT_HOST, DEFAULT_NAMESPACE, parts[0], tag);
                case 2 -> new ModelName(DEFAULT_HOST, parts[0], parts[1], tag);
                case 3 -> new ModelName(parts[0], parts[1], parts[2], tag);
                default -> throw new IllegalArgumentException(
                        "it has " + (parts.length - 1) + " '/', at most 2 are allowed (host/namespace/model)");
            };
        } catch (IllegalArgumentException e) {
            throw invalid(name, e.getMessage());
        }
    }

    /** {@link #parse(String)}, or empty instead of an exception. */
    public static Optional<ModelName> tryParse(String name) {
        try {
            return Optional.of(parse(name));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    /** Equal names differ in case at most (Ollama's names match case-insensitively). */
    @Override
    public boolean equals(Object o) {
        return o instanceof ModelName n && host.equalsIgnoreCase(n.host) && namespace.equalsIgnoreCase(n.namespace)
                && model.equalsIgnoreCase(n.model) && tag.equalsIgnoreCase(n.tag);
    }

    @Override
    public int hashCode() {
        return java.util.Objects.hash(host.toLowerCase(Locale.ROOT), namespace.toLowerCase(Locale.ROOT),
                model.toLowerCase(Locale.ROOT), tag.toLowerCase(Locale.ROOT));
    }

    /** Whether this name is spelt exactly as {@code other}, case included. */
    public boolean sameCase(ModelName other) {
        return toString().equals(other.toString());
    }

    /** This name with another tag. */
    public ModelName withTag(String newTag) {
        return new ModelName(host, namespace, model, newTag);
    }

    /** The full form, {@code host/namespace/model:tag}. */
    @Override
    public String toString() {
        return host + "/" + namespace + "/" + model + ":" + tag;
    }

    /**
     * The name as Ollama displays it: {@code model:tag} for library models of the default registry,
     * {@code namespace/model:tag} for other namespaces there, and the full form for other hosts.
     */
    public String shortName() {
        if (!host.equalsIgnoreCase(DEFAULT_HOST)) {
            return toString();
        }
        if (!namespace.equalsIgnoreCase(DEFAULT_NAMESPACE)) {
            return namespace + "/" + model + ":" + tag;
        }
        return model + ":" + tag;
    }

    private static String checkPart(String what, String value, int maxLength, boolean allowColon) {
        if (value == null || value.isEmpty()) {
            throw new IllegalArgumentException("the " + what + " part is empty");
        }
        if (value.length() > maxLength) {
            throw new IllegalArgumentException("the " + what + " part is longer than " + maxLength + " characters");
        }
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '_' || c == '.' || c == '-' || (allowColon && c == ':');
            if (!ok) {
                throw new IllegalArgumentException("the " + what + " part contains " + describe(c)
                        + "; only letters, digits, '_', '.' and '-'" + (allowColon ? " (and ':' for a port)" : "")
                        + " are allowed");
            }
        }
        char first = value.charAt(0);
        if (first == '.' || first == '-' || first == ':') {
            throw new IllegalArgumentException("the " + what + " part starts with '" + first + "'");
        }
        return value; // "a..b" is a plain folder name (a part may not start with '.'), as Ollama allows it
    }

    private static String describe(char c) {
        if (c >= 0x20 && c < 0x7f) {
            return "'" + c + "'";
        }
        return String.format("the character U+%04X", (int) c);
    }

    private static IllegalArgumentException invalid(String name, String reason) {
        return new IllegalArgumentException("invalid model name \"" + displayable(name) + "\": " + reason);
    }

    /** The name with control and non-ASCII characters escaped and cut short, safe to echo in a message. */
    static String displayable(String name) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < name.length() && sb.length() < 120; i++) {
            char c = name.charAt(i);
            if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
                sb.append(c);
            } else {
                sb.append(String.format("\\u%04x", (int) c));
            }
        }
        if (sb.length() >= 120) {
            sb.append("...");
        }
        return sb.toString();
    }
}
