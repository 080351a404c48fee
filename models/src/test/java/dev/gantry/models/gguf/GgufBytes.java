package dev.gantry.models.gguf;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/** Builds GGUF byte sequences by hand, to test what real files never contain. Not thread-safe. */
final class GgufBytes {

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    /** Magic, version and the two counts. */
    static GgufBytes header(int version, long tensors, long kvs) {
        GgufBytes b = new GgufBytes();
        b.raw("GGUF".getBytes(StandardCharsets.US_ASCII)).u32(version).u64(tensors).u64(kvs);
        return b;
    }

    GgufBytes raw(byte[] bytes) {
        out.writeBytes(bytes);
        return this;
    }

    GgufBytes u8(int v) {
        out.write(v);
        return this;
    }

    GgufBytes u32(long v) {
        return put(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt((int) v));
    }

    GgufBytes u64(long v) {
        return put(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v));
    }

    GgufBytes f32(float v) {
        return put(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(v));
    }

    GgufBytes f64(double v) {
        return put(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putDouble(v));
    }

    GgufBytes u16(int v) {
        return put(ByteBuffer.allocate(2).order(ByteOrder.LITTLE_ENDIAN).putShort((short) v));
    }

    GgufBytes str(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        return u64(b.length).raw(b);
    }

    /** A key and the type id of its value; the caller writes the value. */
    GgufBytes key(String key, GgufValueType type) {
        return str(key).u32(type.id());
    }

    GgufBytes kvString(String key, String value) {
        return key(key, GgufValueType.STRING).str(value);
    }

    GgufBytes kvU32(String key, long value) {
        return key(key, GgufValueType.UINT32).u32(value);
    }

    /** A tensor info. */
    GgufBytes tensor(String name, GgmlType type, long offset, long... dims) {
        str(name).u32(dims.length);
        for (long d : dims) {
            u64(d);
        }
        return u32(type.id()).u64(offset);
    }

    /** Zero bytes up to the next multiple of {@code alignment}. */
    GgufBytes pad(int alignment) {
        while (out.size() % alignment != 0) {
            out.write(0);
        }
        return this;
    }

    GgufBytes zeros(int n) {
        out.writeBytes(new byte[n]);
        return this;
    }

    int size() {
        return out.size();
    }

    byte[] bytes() {
        return out.toByteArray();
    }

    private GgufBytes put(ByteBuffer b) {
        out.writeBytes(b.array());
        return this;
    }
}
