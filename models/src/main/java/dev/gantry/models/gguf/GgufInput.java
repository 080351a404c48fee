package dev.gantry.models.gguf;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A little-endian cursor over a file, read through a small buffer with positional {@link FileChannel}
 * reads. Not mmap: a GGUF header is a few MB at most at the front of a file that may be 100 GB, and a
 * mapping would pin address space and page in nothing useful.
 *
 * <p>Every read first checks that the bytes exist before the file's end, so a truncated file fails with a
 * {@link GgufFormatException} naming the offset rather than an {@code EOFException} or a partial value.
 *
 * <p>Owned by one reader call on one thread; not thread-safe. Close it to release the channel.
 */
final class GgufInput implements AutoCloseable {

    private static final int BUFFER_SIZE = 64 * 1024;

    private final Path file;
    private final FileChannel channel;
    private final long size;
    private final ByteBuffer buffer;
    /** File offset of {@code buffer.get(0)}. */
    private long bufferStart;

    GgufInput(Path file) throws IOException {
        this.file = file;
        this.channel = FileChannel.open(file, StandardOpenOption.READ);
        try {
            this.size = channel.size();
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
        this.buffer = ByteBuffer.allocate(BUFFER_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        buffer.limit(0);
    }

    Path file() {
        return file;
    }

    /** The file's size when it was opened. */
    long size() {
        return size;
    }

    /** The offset of the next byte to be read. */
    long position() {
        return bufferStart + buffer.position();
    }

    /** Bytes between the cursor and the end of the file. */
    long remaining() {
        return size - position();
    }

    /** A format exception about the current position. */
    GgufFormatException error(String detail) {
        return new GgufFormatException(file, detail + " (at byte offset " + position() + ")");
    }

    int readU8() throws IOException {
        fill(1);
        return buffer.get() & 0xFF;
    }

    int readI8() throws IOException {
        fill(1);
        return buffer.get();
    }

    int readU16() throws IOException {
        fill(2);
        return buffer.getShort() & 0xFFFF;
    }

    int readI16() throws IOException {
        fill(2);
        return buffer.getShort();
    }

    long readU32() throws IOException {
        fill(4);
        return buffer.getInt() & 0xFFFF_FFFFL;
    }

    int readI32() throws IOException {
        fill(4);
        return buffer.getInt();
    }

    /** A 64-bit value; an unsigned one above {@link Long#MAX_VALUE} comes back negative. */
    long readI64() throws IOException {
        fill(8);
        return buffer.getLong();
    }

    float readF32() throws IOException {
        fill(4);
        return buffer.getFloat();
    }

    double readF64() throws IOException {
        fill(8);
        return buffer.getDouble();
    }

    /**
     * Reads exactly {@code length} bytes. The caller has already bounded {@code length}; this still checks
     * it against the bytes left, so no array is ever allocated for data the file does not have.
     */
    byte[] readBytes(long length) throws IOException {
        if (length < 0 || length > remaining()) {
            throw truncated(length);
        }
        byte[] out = new byte[Math.toIntExact(length)];
        int done = 0;
        while (done < out.length) {
            if (!buffer.hasRemaining()) {
                fill(1);
            }
            int n = Math.min(buffer.remaining(), out.length - done);
            buffer.get(out, done, n);
            done += n;
        }
        return out;
    }

    /** Moves the cursor forward without reading. */
    void skip(long length) throws IOException {
        if (length < 0 || length > remaining()) {
            throw truncated(length);
        }
        if (length <= buffer.remaining()) {
            buffer.position(buffer.position() + (int) length);
        } else {
            bufferStart = position() + length;
            buffer.clear().limit(0);
        }
    }

    /** Makes at least {@code n} (at most the buffer size) bytes available in the buffer. */
    private void fill(int n) throws IOException {
        if (buffer.remaining() >= n) {
            return;
        }
        if (n > remaining()) {
            throw truncated(n);
        }
        bufferStart = position();
        buffer.compact();
        int zeroReads = 0;
        while (buffer.position() < n) {
            int read = channel.read(buffer, bufferStart + buffer.position());
            if (read < 0) {
                // the file shrank after it was opened
                buffer.flip();
                throw truncated(n);
            }
            // a blocking FileChannel should not return 0 with space left; bound it so it cannot spin
            if (read == 0 && ++zeroReads > 100) {
                buffer.flip();
                throw new IOException(file + ": read made no progress at byte offset " + position());
            }
        }
        buffer.flip();
    }

    private GgufFormatException truncated(long wanted) {
        return error("file ends early: needed " + wanted + " more bytes but only " + remaining()
                + " are left of " + size + " (truncated download?)");
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
