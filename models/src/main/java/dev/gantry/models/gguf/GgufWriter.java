package dev.gantry.models.gguf;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a GGUF v3 file: typed key/values, tensor infos, then each tensor's data, aligned as llama.cpp reads it.
 * Tensor data comes from a {@link TensorData} callback, so a 40 GB synthetic model streams to disk without being
 * held in memory. The file is written next to its target and moved into place when complete.
 *
 * <p>Not thread-safe: build and write on one thread.
 */
public final class GgufWriter {
    /** Fills a tensor's bytes. */
    @FunctionalInterface
    public interface TensorData {
        void write(WritableByteChannel out, long bytes) throws IOException;
    }

    /**
     * A tensor of zero bytes that takes no disk space: the file position moves past it and the file system leaves
     * a hole (a sparse file), so a model larger than the disk can be written. Every zero-byte block of F32, F16,
     * Q4_0 and Q8_0 decodes to zeros. A channel that cannot seek gets the zeros written out.
     */
    public static TensorData zeros() {
        return (out, bytes) -> {
            if (out instanceof SeekableByteChannel s) {
                s.position(s.position() + bytes);
                return;
            }
            ByteBuffer b = ByteBuffer.allocate((int) Math.min(bytes, 1 << 20));
            for (long left = bytes; left > 0; left -= b.limit()) {
                b.clear().limit((int) Math.min(b.capacity(), left));
                while (b.hasRemaining()) {
                    out.write(b);
                }
            }
        };
    }

    private record Value(GgufValueType type, Object value) {}

    private record Tensor(String name, GgmlType type, long[] dims, TensorData data, long bytes) {}

    private final Map<String, Value> kv = new LinkedHashMap<>();
    private final List<Tensor> tensors = new ArrayList<>();
    private final long alignment;

    public GgufWriter() {
        this(GgufReader.DEFAULT_ALIGNMENT);
    }

    public GgufWriter(long alignment) {
        this.alignment = alignment;
        if (alignment != GgufReader.DEFAULT_ALIGNMENT) {
            kv.put("general.alignment", new Value(GgufValueType.UINT32, alignment));
        }
    }

    /** A key/value; {@code value} is the Java type {@link GgufReader} reads for {@code type}. */
    public GgufWriter put(String key, GgufValueType type, Object value) {
        if (type == GgufValueType.ARRAY && !(value instanceof GgufArray a && a.isMaterialised())) {
            throw new IllegalArgumentException(key + ": arrays must be materialised GgufArray values");
        }
        kv.put(key, new Value(type, value));
        return this;
    }

    public GgufWriter putString(String key, String value) {
        return put(key, GgufValueType.STRING, value);
    }

    public GgufWriter putU32(String key, long value) {
        return put(key, GgufValueType.UINT32, value);
    }

    public GgufWriter putF32(String key, float value) {
        return put(key, GgufValueType.FLOAT32, value);
    }

    /** Copies every key of {@code from} whose name starts with {@code prefix}, with its stored type. */
    public GgufWriter copy(GgufMetadata from, String prefix) {
        for (Map.Entry<String, Object> e : from.metadata().entrySet()) {
            if (e.getKey().startsWith(prefix)) {
                GgufValueType t = from.typeOf(e.getKey()).orElseThrow(
                        () -> new IllegalArgumentException("no stored type for " + e.getKey()));
                put(e.getKey(), t, e.getValue());
            }
        }
        return this;
    }

    /**
     * A tensor; {@code dims} as GGUF stores them (fastest-varying first: {@code [n_embd, n_vocab]} for the token
     * embedding).
     */
    public GgufWriter tensor(String name, GgmlType type, long[] dims, TensorData data) {
        long elements = 1;
        for (long d : dims) {
            elements = Math.multiplyExact(elements, d);
        }
        if (dims[0] % type.blockSize() != 0) {
            throw new IllegalArgumentException(name + ": first dimension " + dims[0] + " is not a multiple of "
                    + type + "'s block of " + type.blockSize());
        }
        tensors.add(new Tensor(name, type, dims.clone(), data, type.byteSize(elements)));
        return this;
    }

    public void write(Path target) throws IOException {
        Path tmp = target.resolveSibling(target.getFileName() + ".part");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            Out out = new Out(ch);
            out.bytes("GGUF".getBytes(StandardCharsets.US_ASCII));
            out.u32(3);
            out.u64(tensors.size());
            out.u64(kv.size());
            for (Map.Entry<String, Value> e : kv.entrySet()) {
                out.string(e.getKey());
                out.u32(e.getValue().type().id());
                out.value(e.getValue().type(), e.getValue().value());
            }
            long offset = 0;
            for (Tensor t : tensors) {
                out.string(t.name());
                out.u32(t.dims().length);
                for (long d : t.dims()) {
                    out.u64(d);
                }
                out.u32(t.type().id());
                out.u64(offset);
                offset = align(offset + t.bytes());
            }
            out.pad(alignment);
            out.flush();
            for (Tensor t : tensors) {
                long before = ch.position();
                t.data().write(ch, t.bytes());
                if (ch.position() - before != t.bytes()) {
                    throw new IOException(t.name() + ": wrote " + (ch.position() - before) + " bytes, expected "
                            + t.bytes());
                }
                out.pad(alignment);
                out.flush();
            }
            if (ch.size() < ch.position()) { // the file ends in a hole: its last byte gives it its length
                ch.write(ByteBuffer.allocate(1), ch.position() - 1);
            }
        }
        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private long align(long n) {
        return Math.ceilDiv(n, alignment) * alignment;
    }

    /** Little-endian output through one buffer. */
    private static final class Out {
        private final FileChannel ch;
        private final ByteBuffer buf = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);

        Out(FileChannel ch) {
            this.ch = ch;
        }

        void ensure(int n) throws IOException {
            if (buf.remaining() < n) {
                flush();
            }
        }

        void flush() throws IOException {
            buf.flip();
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
            buf.clear();
        }

        void bytes(byte[] b) throws IOException {
            int at = 0;
            while (at < b.length) {
                if (!buf.hasRemaining()) {
                    flush();
                }
                int n = Math.min(buf.remaining(), b.length - at);
                buf.put(b, at, n);
                at += n;
            }
        }

        void u32(long v) throws IOException {
            ensure(4);
            buf.putInt((int) v);
        }

        void u64(long v) throws IOException {
            ensure(8);
            buf.putLong(v);
        }

        void string(String s) throws IOException {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            u64(b.length);
            bytes(b);
        }

        void pad(long alignment) throws IOException {
            flush();
            long pos = ch.position();
            long padded = Math.ceilDiv(pos, alignment) * alignment;
            bytes(new byte[(int) (padded - pos)]);
        }

        void value(GgufValueType type, Object v) throws IOException {
            switch (type) {
                case UINT8, INT8, BOOL -> {
                    ensure(1);
                    buf.put(type == GgufValueType.BOOL ? (byte) ((Boolean) v ? 1 : 0) : ((Number) v).byteValue());
                }
                case UINT16, INT16 -> {
                    ensure(2);
                    buf.putShort(((Number) v).shortValue());
                }
                case UINT32, INT32 -> u32(((Number) v).longValue());
                case UINT64, INT64 -> u64(((Number) v).longValue());
                case FLOAT32 -> {
                    ensure(4);
                    buf.putFloat(((Number) v).floatValue());
                }
                case FLOAT64 -> {
                    ensure(8);
                    buf.putDouble(((Number) v).doubleValue());
                }
                case STRING -> string((String) v);
                case ARRAY -> {
                    GgufArray a = (GgufArray) v;
                    u32(a.elementType().id());
                    u64(a.length());
                    for (Object e : a.values().orElseThrow()) {
                        value(a.elementType(), e);
                    }
                }
            }
        }
    }
}
