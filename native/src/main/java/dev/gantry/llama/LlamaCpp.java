package dev.gantry.llama;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The process-wide entry to llama.cpp: loads the libraries once, reports why they are unavailable, and lists the
 * backend devices. Thread-safe. Everything else in this package requires {@link #initialize} to have succeeded.
 */
public final class LlamaCpp {
    private static final System.Logger LOG = System.getLogger("gantry.llama");

    private static volatile LlamaCpp instance;
    private static volatile Throwable unavailabilityCause;

    private final Path libraryDir;
    private final String source;

    private LlamaCpp(Path libraryDir, String source) {
        this.libraryDir = libraryDir;
        this.source = source;
    }

    /**
     * Loads llama.cpp from {@code userDir} when present, else from the libraries packed in this jar (extracted
     * under {@code cacheDir}), registers every backend found in that folder, and routes llama.cpp's log to
     * {@code gantry.llama.native}. Idempotent: later calls return the first result.
     *
     * @throws LlamaUnavailableException listing every path tried and why it failed
     */
    public static synchronized LlamaCpp initialize(Optional<Path> userDir, Path cacheDir) {
        if (instance != null) {
            return instance;
        }
        try {
            LlamaLibrary.Loaded loaded = LlamaLibrary.load(userDir, cacheDir);
            NativeLog.install();
            try (Arena arena = Arena.ofConfined()) {
                Fn.ggml_backend_load_all_from_path.invokeExact(arena.allocateFrom(loaded.directory().toString()));
            }
            Fn.llama_backend_init.invokeExact();
            instance = new LlamaCpp(loaded.directory(), loaded.source());
            LOG.log(System.Logger.Level.INFO, "llama.cpp loaded from {0} ({1}); devices: {2}",
                    loaded.directory(), loaded.source(), instance.devices());
            return instance;
        } catch (LlamaUnavailableException e) {
            unavailabilityCause = e;
            throw e;
        } catch (Throwable t) {
            unavailabilityCause = t;
            throw new LlamaUnavailableException("llama.cpp failed to initialise: " + t, t);
        }
    }

    /** The loaded instance; throws the original cause when loading failed or was never tried. */
    public static LlamaCpp get() {
        LlamaCpp l = instance;
        if (l == null) {
            Throwable cause = unavailabilityCause;
            throw new LlamaUnavailableException(cause == null ? "llama.cpp was not initialised"
                    : "llama.cpp is unavailable: " + cause.getMessage(), cause);
        }
        return l;
    }

    public static boolean isAvailable() {
        return instance != null;
    }

    public static Optional<Throwable> unavailabilityCause() {
        return Optional.ofNullable(unavailabilityCause);
    }

    public Path libraryDir() {
        return libraryDir;
    }

    public String source() {
        return source;
    }

    /** The backend devices llama.cpp registered (CPU, CUDA GPUs, ...), with their free and total memory now. */
    public List<BackendDevice> devices() {
        try (Arena arena = Arena.ofConfined()) {
            long n = (long) Fn.ggml_backend_dev_count.invokeExact();
            List<BackendDevice> out = new ArrayList<>();
            MemorySegment free = arena.allocate(JAVA_LONG);
            MemorySegment total = arena.allocate(JAVA_LONG);
            for (long i = 0; i < n; i++) {
                MemorySegment dev = (MemorySegment) Fn.ggml_backend_dev_get.invokeExact(i);
                String name = NativeStrings.read((MemorySegment) Fn.ggml_backend_dev_name.invokeExact(dev));
                String desc = NativeStrings.read((MemorySegment) Fn.ggml_backend_dev_description.invokeExact(dev));
                int type = (int) Fn.ggml_backend_dev_type.invokeExact(dev);
                Fn.ggml_backend_dev_memory.invokeExact(dev, free, total);
                out.add(new BackendDevice((int) i, name, desc, BackendDevice.Type.of(type),
                        free.get(JAVA_LONG, 0), total.get(JAVA_LONG, 0)));
            }
            return out;
        } catch (Throwable t) {
            throw NativeStrings.rethrow("ggml_backend_dev_*", t);
        }
    }

    public boolean supportsGpuOffload() {
        try {
            return (boolean) Fn.llama_supports_gpu_offload.invokeExact();
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_supports_gpu_offload", t);
        }
    }

    public long maxParallelSequences() {
        try {
            return (long) Fn.llama_max_parallel_sequences.invokeExact();
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_max_parallel_sequences", t);
        }
    }

    public long maxDevices() {
        try {
            return (long) Fn.llama_max_devices.invokeExact();
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_max_devices", t);
        }
    }

    public String systemInfo() {
        try {
            return NativeStrings.read((MemorySegment) Fn.llama_print_system_info.invokeExact());
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_print_system_info", t);
        }
    }

    /** The names of llama.cpp's built-in chat templates (the ones {@code llama_chat_apply_template} knows). */
    public List<String> builtinChatTemplates() {
        try (Arena arena = Arena.ofConfined()) {
            int n = (int) Fn.llama_chat_builtin_templates.invokeExact(MemorySegment.NULL, 0L);
            MemorySegment names = arena.allocate(ADDRESS, Math.max(1, n));
            int m = (int) Fn.llama_chat_builtin_templates.invokeExact(names, (long) n);
            List<String> out = new ArrayList<>(m);
            for (int i = 0; i < Math.min(n, m); i++) {
                out.add(NativeStrings.read(names.getAtIndex(ADDRESS, i)));
            }
            return out;
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_chat_builtin_templates", t);
        }
    }

    /**
     * CPU threads for llama.cpp from the cores this process may use. llama.cpp's threads spin while they wait, so
     * more threads than free cores is far slower (4 threads on 2 cores was 500 times slower for the tiny model):
     * leave one core for the HTTP side and the JVM, and cap at 8 where memory bandwidth stops scaling.
     */
    public static int defaultThreads(int availableProcessors) {
        return Math.max(1, Math.min(8, availableProcessors - 1));
    }

    /** The last error line llama.cpp logged, to explain a failed call (llama.cpp reports causes only in its log). */
    public static Optional<String> lastNativeError() {
        return Optional.ofNullable(NativeLog.lastError);
    }

    /** How many error lines llama.cpp has logged so far: a mark for {@link #nativeErrorsSince}. */
    public static long nativeErrorCount() {
        synchronized (NativeLog.PENDING) {
            return NativeLog.errors;
        }
    }

    /**
     * The error lines llama.cpp logged since {@code mark} (at most the last {@value NativeLog#KEPT}), oldest first:
     * a failed load's cause is often an earlier line than its last ("device CUDA0 does not support split buffers"
     * before "failed to load model").
     */
    public static java.util.List<String> nativeErrorsSince(long mark) {
        synchronized (NativeLog.PENDING) {
            int n = (int) Math.min(NativeLog.RECENT.size(), Math.max(0, NativeLog.errors - mark));
            java.util.List<String> all = new java.util.ArrayList<>(NativeLog.RECENT);
            return java.util.List.copyOf(all.subList(all.size() - n, all.size()));
        }
    }

    /**
     * Starts recording the buffers llama.cpp reports in its log while a model and its context are created (lines
     * such as {@code CUDA0 model buffer size = 4403.49 MiB}), until the report is closed: the memory llama.cpp
     * actually allocated on each device, to check an estimate against. One report at a time; a newer one replaces
     * an older one.
     */
    public static BufferReport recordBuffers() {
        BufferReport r = new BufferReport();
        BufferReport.active = r;
        return r;
    }

    /** Routes llama.cpp's log to a Java logger: info and debug go to DEBUG, warnings and errors keep their level. */
    private static final class NativeLog {
        private static final System.Logger NATIVE = System.getLogger("gantry.llama.native");
        private static final StringBuilder PENDING = new StringBuilder();
        private static int lastLevel = 2;
        static volatile String lastError;
        static final int KEPT = 8;
        /** The last {@value #KEPT} error lines, and how many there were in all (guarded by PENDING). */
        static final java.util.ArrayDeque<String> RECENT = new java.util.ArrayDeque<>();
        static long errors;

        static void install() throws Throwable {
            var handle = MethodHandles.lookup().findStatic(NativeLog.class, "log",
                    MethodType.methodType(void.class, int.class, MemorySegment.class, MemorySegment.class));
            MemorySegment stub = Linker.nativeLinker().upcallStub(handle,
                    FunctionDescriptor.ofVoid(JAVA_INT, ADDRESS, ADDRESS), Arena.global());
            Fn.llama_log_set.invokeExact(stub, MemorySegment.NULL);
        }

        @SuppressWarnings("unused") // called from native code
        private static void log(int level, MemorySegment text, MemorySegment userData) {
            // An exception must never escape an upcall: it would crash the JVM.
            try {
                String s = NativeStrings.read(text);
                synchronized (PENDING) {
                    if (level != 5) { // GGML_LOG_LEVEL_CONT continues the previous line
                        lastLevel = level;
                    }
                    PENDING.append(s);
                    if (!s.endsWith("\n")) {
                        return;
                    }
                    String line = PENDING.toString().stripTrailing();
                    PENDING.setLength(0);
                    System.Logger.Level l = switch (lastLevel) {
                        case 4 -> System.Logger.Level.ERROR;
                        case 3 -> System.Logger.Level.WARNING;
                        default -> System.Logger.Level.DEBUG;
                    };
                    if (lastLevel == 4) {
                        lastError = line;
                        errors++;
                        RECENT.addLast(line);
                        if (RECENT.size() > KEPT) {
                            RECENT.removeFirst();
                        }
                    }
                    BufferReport report = BufferReport.active;
                    if (report != null) {
                        report.accept(line);
                    }
                    if (NATIVE.isLoggable(l) && !line.isEmpty()) {
                        NATIVE.log(l, line);
                    }
                }
            } catch (Throwable ignored) {
                // nowhere safe to report it from inside native code
            }
        }
    }
}
