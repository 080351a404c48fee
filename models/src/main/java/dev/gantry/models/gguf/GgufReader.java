package dev.gantry.models.gguf;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads the header of a GGUF file (versions 2 and 3, little-endian): the key/value metadata and the tensor
 * infos, never the tensor data.
 *
 * <p>Built for files from anywhere: every count and length is checked against what is left of the file
 * before anything is allocated or looped over, so a truncated or hostile file fails fast with a
 * {@link GgufFormatException} instead of an {@code OutOfMemoryError} or a very long loop. Arrays longer
 * than {@link #arrayCap()} are skipped, keeping only element type and length (see {@link GgufArray}).
 *
 * <p>Immutable and thread-safe: one reader may parse many files from many threads at once; each
 * {@link #read(Path)} call opens and closes its own channel.
 */
public final class GgufReader {

    /** Arrays with more elements than this are not materialised unless another cap is given. */
    public static final int DEFAULT_ARRAY_CAP = 1024;
    /** Longest string accepted anywhere in the header; real chat templates are tens of KB. */
    public static final long MAX_STRING_BYTES = 16L << 20;
    /** All materialised strings together; a real header holds well under 1 MiB of them. */
    static final long MAX_TOTAL_STRING_BYTES = 64L << 20;
    /** Upper bound on tensor and key/value counts; real models have tens of thousands at most. */
    static final long MAX_ENTRIES = 1L << 20;
    /** Array nesting deeper than this is treated as corrupt; it also keeps recursion off the stack limit. */
    static final int MAX_NESTING = 8;
    /** GGML_MAX_DIMS. */
    static final int MAX_DIMS = 4;
    /** The default data alignment when {@code general.alignment} is absent (GGUF_DEFAULT_ALIGNMENT). */
    public static final int DEFAULT_ALIGNMENT = 32;

    private static final byte[] MAGIC = {'G', 'G', 'U', 'F'};
    /** Bytes of the smallest possible tensor info: name length, n_dims, type and offset. */
    private static final int MIN_TENSOR_INFO = 8 + 4 + 4 + 8;
    /** Bytes of the smallest possible key/value: key length, type and a one-byte value. */
    private static final int MIN_KV = 8 + 4 + 1;

    private final int arrayCap;

    /** A reader with the {@link #DEFAULT_ARRAY_CAP}. */
    public GgufReader() {
        this(DEFAULT_ARRAY_CAP);
    }

    /** A reader that materialises arrays of at most {@code arrayCap} elements. */
    public GgufReader(int arrayCap) {
        if (arrayCap < 0) {
            throw new IllegalArgumentException("arrayCap must be >= 0, got " + arrayCap);
        }
        this.arrayCap = arrayCap;
    }

    /** Arrays longer than this are kept as type and length only. */
    public int arrayCap() {
        return arrayCap;
    }

    /** Reads {@code file} with a default reader. */
    public static GgufMetadata readMetadata(Path file) throws IOException {
        return new GgufReader().read(file);
    }

    /**
     * Parses the header of {@code file}.
     *
     * @throws GgufFormatException if the file is not a well-formed GGUF v2/v3 file or ends too early
     * @throws IOException         if it cannot be read
     */
    public GgufMetadata read(Path file) throws IOException {
        try (GgufInput in = new GgufInput(file)) {
            return new Parse(in).run();
        }
    }

    /** State of one parse; lives for one {@link #read(Path)} call. */
    private final class Parse {
        private final GgufInput in;
        private long stringBytes;

        Parse(GgufInput in) {
            this.in = in;
        }

        GgufMetadata run() throws IOException {
            int version = readHeader();
            long tensorCount = readCount("tensor", MIN_TENSOR_INFO);
            long kvCount = readCount("key/value", MIN_KV);

            Map<String, Object> kv = new LinkedHashMap<>();
            Map<String, GgufValueType> types = new java.util.HashMap<>();
            for (long i = 0; i < kvCount; i++) {
                String key = readString("metadata key");
                long typeId = in.readU32();
                GgufValueType type = valueType(typeId, "value of " + key);
                Object value = readValue(type, 0, key);
                if (kv.putIfAbsent(key, value) != null) {
                    throw in.error("duplicate metadata key \"" + key + "\"");
                }
                types.put(key, type);
            }

            List<GgufTensorInfo> tensors = new ArrayList<>((int) Math.min(tensorCount, 4096));
            Set<String> names = new HashSet<>();
            for (long i = 0; i < tensorCount; i++) {
                GgufTensorInfo t = readTensorInfo();
                if (!names.add(t.name())) {
                    throw in.error("duplicate tensor name \"" + t.name() + "\"");
                }
                tensors.add(t);
            }

            long alignment = alignment(kv.get("general.alignment"));
            long headerEnd = in.position();
            long dataOffset = Math.ceilDiv(headerEnd, alignment) * alignment;
            checkTensorExtents(tensors, alignment, dataOffset);
            try {
                return new GgufMetadata(version, in.size(), alignment, dataOffset, kv, types, tensors);
            } catch (ArithmeticException e) {
                // only reachable through tensors of unknown types, whose sizes could not be checked
                throw new GgufFormatException(in.file(), "tensor element counts add up to more than 2^63");
            }
        }

        private int readHeader() throws IOException {
            if (in.size() < 4 + 4 + 8 + 8) {
                throw in.error("file is " + in.size() + " bytes, shorter than a GGUF header (24 bytes)");
            }
            byte[] magic = in.readBytes(4);
            if (!java.util.Arrays.equals(magic, MAGIC)) {
                throw new GgufFormatException(in.file(), "bad magic " + printable(magic) + ", expected \"GGUF\"");
            }
            long version = in.readU32();
            if (version == 2 || version == 3) {
                return (int) version;
            }
            if (version == 1) {
                throw in.error("GGUF version 1 (32-bit counts, 2023) is not supported; re-convert the model");
            }
            if ((version & 0xFFFF) == 0 && version != 0) {
                // a small version number written big-endian reads as 0x00NN0000 or 0xNN000000 here
                throw in.error("big-endian GGUF files are not supported");
            }
            throw in.error("unsupported GGUF version " + version + " (supported: 2 and 3)");
        }

        private long readCount(String what, int minBytesEach) throws IOException {
            long count = in.readI64();
            if (count < 0 || count > MAX_ENTRIES || count > in.remaining() / minBytesEach) {
                throw in.error("declared " + what + " count " + Long.toUnsignedString(count)
                        + " cannot fit in a file of " + in.size() + " bytes");
            }
            return count;
        }

        private String readString(String what) throws IOException {
            long length = readStringLength(what);
            stringBytes += length;
            if (stringBytes > MAX_TOTAL_STRING_BYTES) {
                throw in.error("header strings exceed " + (MAX_TOTAL_STRING_BYTES >> 20) + " MiB in total");
            }
            return new String(in.readBytes(length), StandardCharsets.UTF_8);
        }

        private long readStringLength(String what) throws IOException {
            long length = in.readI64();
            if (length < 0 || length > MAX_STRING_BYTES) {
                throw in.error(what + " declares length " + Long.toUnsignedString(length)
                        + ", over the " + (MAX_STRING_BYTES >> 20) + " MiB limit for a string");
            }
            if (length > in.remaining()) {
                throw in.error(what + " declares length " + length + " but only " + in.remaining()
                        + " bytes are left (truncated?)");
            }
            return length;
        }

        private GgufValueType valueType(long id, String what) throws GgufFormatException {
            return GgufValueType.fromId((int) Math.min(id, Integer.MAX_VALUE))
                    .orElseThrow(() -> in.error(what + " has unknown value type id " + id));
        }

        private Object readValue(GgufValueType type, int depth, String key) throws IOException {
            return switch (type) {
                case UINT8 -> in.readU8();
                case INT8 -> in.readI8();
                case UINT16 -> in.readU16();
                case INT16 -> in.readI16();
                case UINT32 -> in.readU32();
                case INT32 -> in.readI32();
                case FLOAT32 -> in.readF32();
                case BOOL -> readBool(key);
                case STRING -> readString("string value of " + key);
                case ARRAY -> readArray(depth + 1, key);
                case UINT64, INT64 -> in.readI64();
                case FLOAT64 -> in.readF64();
            };
        }

        private Boolean readBool(String key) throws IOException {
            int b = in.readI8();
            if (b != 0 && b != 1) {
                throw in.error("bool value of " + key + " is " + b + ", not 0 or 1");
            }
            return b == 1;
        }

        private GgufArray readArray(int depth, String key) throws IOException {
            if (depth > MAX_NESTING) {
                throw in.error("arrays in " + key + " are nested deeper than " + MAX_NESTING);
            }
            GgufValueType elementType = valueType(in.readU32(), "array element of " + key);
            long count = in.readI64();
            // every element takes at least minimumSize bytes, so this bounds both memory and loop length
            if (count < 0 || count > in.remaining() / elementType.minimumSize()) {
                throw in.error("array " + key + " declares " + Long.toUnsignedString(count) + " "
                        + elementType + " elements, more than the " + in.remaining() + " bytes left can hold");
            }
            if (count > arrayCap) {
                skipElements(elementType, count, depth, key);
                return GgufArray.notMaterialised(elementType, count);
            }
            List<Object> values = new ArrayList<>((int) count);
            for (long i = 0; i < count; i++) {
                values.add(readValue(elementType, depth, key));
            }
            return new GgufArray(elementType, count, values);
        }

        private void skipElements(GgufValueType type, long count, int depth, String key) throws IOException {
            switch (type) {
                case STRING -> {
                    for (long i = 0; i < count; i++) {
                        in.skip(readStringLength("string element of " + key));
                    }
                }
                case ARRAY -> {
                    if (depth + 1 > MAX_NESTING) {
                        throw in.error("arrays in " + key + " are nested deeper than " + MAX_NESTING);
                    }
                    for (long i = 0; i < count; i++) {
                        GgufValueType inner = valueType(in.readU32(), "array element of " + key);
                        long n = in.readI64();
                        if (n < 0 || n > in.remaining() / inner.minimumSize()) {
                            throw in.error("nested array in " + key + " declares " + Long.toUnsignedString(n)
                                    + " elements, more than the bytes left can hold");
                        }
                        skipElements(inner, n, depth + 1, key);
                    }
                }
                // count was checked against the bytes left, so this product cannot overflow
                default -> in.skip(count * type.fixedSize());
            }
        }

        private GgufTensorInfo readTensorInfo() throws IOException {
            String name = readString("tensor name");
            long nDims = in.readU32();
            if (nDims > MAX_DIMS) {
                throw in.error("tensor " + name + " has " + nDims + " dimensions, more than " + MAX_DIMS);
            }
            List<Long> dims = new ArrayList<>((int) nDims);
            long elements = 1;
            for (int d = 0; d < nDims; d++) {
                long size = in.readI64();
                if (size < 0) {
                    throw in.error("tensor " + name + " has dimension " + Long.toUnsignedString(size));
                }
                try {
                    elements = Math.multiplyExact(elements, size);
                } catch (ArithmeticException e) {
                    throw in.error("tensor " + name + " has more elements than fit in 64 bits");
                }
                dims.add(size);
            }
            long typeId = in.readU32();
            if (typeId > 255) {
                throw in.error("tensor " + name + " has ggml type id " + typeId + ", not a ggml type");
            }
            long offset = in.readI64();
            if (offset < 0) {
                throw in.error("tensor " + name + " has data offset " + Long.toUnsignedString(offset));
            }
            GgufTensorInfo info = new GgufTensorInfo(name, dims, (int) typeId, offset);
            GgmlType type = info.type().orElse(null);
            if (type != null && !dims.isEmpty() && dims.getFirst() % type.blockSize() != 0) {
                throw in.error("tensor " + name + " row of " + dims.getFirst() + " elements is not a whole number of "
                        + type + " blocks of " + type.blockSize());
            }
            return info;
        }

        private long alignment(Object value) throws GgufFormatException {
            if (value == null) {
                return DEFAULT_ALIGNMENT;
            }
            if (value instanceof Number n && !(value instanceof Float) && !(value instanceof Double)) {
                long a = n.longValue();
                if (a > 0 && a <= (1L << 30) && Long.bitCount(a) == 1) {
                    return a;
                }
            }
            throw new GgufFormatException(in.file(), "general.alignment " + value + " is not a power of two");
        }

        private void checkTensorExtents(List<GgufTensorInfo> tensors, long alignment, long dataOffset)
                throws GgufFormatException {
            if (tensors.isEmpty()) {
                return; // vocabulary-only files may end right after the header, without padding
            }
            long dataBytes = in.size() - dataOffset;
            for (GgufTensorInfo t : tensors) {
                if (t.offset() % alignment != 0) {
                    throw new GgufFormatException(in.file(), "tensor " + t.name() + " offset " + t.offset()
                            + " is not a multiple of the alignment " + alignment);
                }
                long bytes;
                try {
                    bytes = t.byteSize().orElse(0);
                } catch (ArithmeticException e) {
                    throw new GgufFormatException(in.file(), "tensor " + t.name() + " is larger than 2^63 bytes");
                }
                if (dataBytes < 0 || t.offset() > dataBytes || bytes > dataBytes - t.offset()) {
                    throw new GgufFormatException(in.file(), "tensor " + t.name() + " data ends at byte "
                            + (dataOffset + t.offset() + bytes) + " but the file has only " + in.size()
                            + " bytes (truncated download?)");
                }
            }
        }
    }

    private static String printable(byte[] bytes) {
        StringBuilder sb = new StringBuilder("0x");
        for (byte b : bytes) {
            sb.append(String.format("%02x", b & 0xFF));
        }
        return sb.toString();
    }
}
