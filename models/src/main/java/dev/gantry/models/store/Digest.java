package dev.gantry.models.store;

import java.util.Locale;
import java.util.Optional;

/**
 * A blob's SHA-256, the only way a blob is named in Ollama's store: {@code sha256:<64 hex>} in manifests and on
 * the wire, {@code sha256-<64 hex>} as a file name under {@code blobs/}.
 *
 * <p>Both spellings parse, since clients send either in {@code /api/blobs/:digest}. Anything else is refused
 * before it gets near a path: a digest is turned into a file name only after it was checked to be exactly 64
 * hex digits, so {@code ../} or an absolute path can never reach the file system through it.
 *
 * @param hex 64 lower-case hex digits
 */
public record Digest(String hex) {

    private static final int HEX_LENGTH = 64;

    public Digest {
        if (hex == null || hex.length() != HEX_LENGTH || !isHex(hex)) {
            throw new IllegalArgumentException("invalid digest: expected 64 lower-case hex digits");
        }
    }

    /**
     * Parses {@code sha256:<hex>} or {@code sha256-<hex>} (hex in either case).
     *
     * @throws IllegalArgumentException with a user-readable message for anything else
     */
    public static Digest parse(String text) {
        return tryParse(text).orElseThrow(() -> new IllegalArgumentException(
                "invalid digest format: expected sha256:<64 hex digits>"));
    }

    /** {@link #parse(String)}, or empty. */
    public static Optional<Digest> tryParse(String text) {
        if (text == null || text.length() != 7 + HEX_LENGTH || !text.startsWith("sha256")) {
            return Optional.empty();
        }
        char sep = text.charAt(6);
        if (sep != ':' && sep != '-') {
            return Optional.empty();
        }
        String hex = text.substring(7).toLowerCase(Locale.ROOT);
        return isHex(hex) ? Optional.of(new Digest(hex)) : Optional.empty();
    }

    /** The blob's file name in {@code blobs/}: {@code sha256-<hex>}. */
    public String fileName() {
        return "sha256-" + hex;
    }

    /** The first 12 hex digits, as Ollama names a layer in pull progress ({@code pulling 6a0746a1ec1a}). */
    public String shortHex() {
        return hex.substring(0, 12);
    }

    /** {@code sha256:<hex>}. */
    @Override
    public String toString() {
        return "sha256:" + hex;
    }

    private static boolean isHex(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
                return false;
            }
        }
        return true;
    }
}
