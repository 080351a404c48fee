package dev.gantry.models.store;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;

/**
 * One blob being written: bytes go to a temporary file in {@code blobs/} and through SHA-256 as they arrive;
 * {@link #commit()} checks the digest and renames the file into place. Closing without committing (the client went
 * away, the digest was wrong) deletes the temporary file. Not thread-safe: one writer at a time.
 */
public final class BlobUpload implements AutoCloseable {
    private final OllamaStore store;
    private final Path tmp;
    private final Digest expected;
    private final FileChannel out;
    private final MessageDigest md = OllamaStore.sha256();
    private long written;
    private boolean done;

    BlobUpload(OllamaStore store, Path tmp, Digest expected) throws IOException {
        this.store = store;
        this.tmp = tmp;
        this.expected = expected;
        this.out = OllamaStore.openNew(tmp);
    }

    public void write(byte[] b, int off, int len) throws IOException {
        write(ByteBuffer.wrap(b, off, len));
    }

    public void write(ByteBuffer buf) throws IOException {
        md.update(buf.duplicate());
        written += buf.remaining();
        while (buf.hasRemaining()) {
            out.write(buf);
        }
    }

    public long written() {
        return written;
    }

    /**
     * Verifies and stores the blob.
     *
     * @throws DigestMismatchException if the bytes hash to another digest than the one expected
     */
    public Digest commit() throws IOException {
        out.close();
        Digest actual = new Digest(HexFormat.of().formatHex(md.digest()));
        done = true;
        if (expected != null && !expected.equals(actual)) {
            Files.deleteIfExists(tmp);
            throw new DigestMismatchException(expected, actual);
        }
        store.claim(actual); // an upload counts on the blob: no hold's release prunes it now
        if (!store.hasBlob(actual)) {
            OllamaStore.moveIntoPlace(tmp, store.blobPath(actual));
        } else {
            Files.deleteIfExists(tmp);
        }
        return actual;
    }

    @Override
    public void close() throws IOException {
        out.close();
        if (!done) {
            done = true;
        }
        Files.deleteIfExists(tmp);
    }
}
