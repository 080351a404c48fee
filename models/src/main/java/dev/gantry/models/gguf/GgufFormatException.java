package dev.gantry.models.gguf;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A file is not a GGUF file this reader accepts: wrong magic, unsupported version, a count or length
 * that cannot be right, or a file that ends too early.
 *
 * <p>It is an {@link IOException} on purpose: callers that list model folders already handle I/O failures
 * per file (skip and warn), and a corrupt file belongs in the same branch. The message always names the
 * file and, where known, the byte offset, so a log line is enough to find the problem.
 *
 * <p>Immutable, like every exception, and safe to pass between threads.
 */
public final class GgufFormatException extends IOException {

    private static final long serialVersionUID = 1L;

    private final transient Path file;
    private final String detail;

    /** Creates one for {@code file}, with {@code detail} saying what is wrong. */
    public GgufFormatException(Path file, String detail) {
        super(file + ": not a valid GGUF file: " + detail);
        this.file = file;
        this.detail = detail;
    }

    /** What is wrong, without the file name. */
    public String detail() {
        return detail;
    }

    /** The file that failed to parse. */
    public Path file() {
        return file;
    }
}
