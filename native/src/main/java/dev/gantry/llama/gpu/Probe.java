package dev.gantry.llama.gpu;

import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What looking for one optional source (llama.cpp's devices, the CUDA driver, NVML) found: its value, or a one-line
 * reason it is unavailable, with the original cause. Immutable.
 *
 * <p>A missing GPU source is not an error for Gantry: it runs on what it has and says so once, so probes return this
 * instead of throwing.
 */
public final class Probe<T> {
    // dlopen's own wording, as the JVM and JNI loaders pass it on: "<lib>: cannot open shared object file: <why>"
    private static final Pattern DLOPEN = Pattern.compile("([^\\s:]+): cannot open shared object file[^\\n]*");

    private final T value;
    private final String reason;
    private final Throwable cause;

    private Probe(T value, String reason, Throwable cause) {
        this.value = value;
        this.reason = reason;
        this.cause = cause;
    }

    public static <T> Probe<T> found(T value) {
        return new Probe<>(Objects.requireNonNull(value, "value"), "", null);
    }

    public static <T> Probe<T> unavailable(String reason) {
        return new Probe<>(null, requireReason(reason), null);
    }

    /** Unavailable because of {@code cause}; the reason is the cause in one line (see {@link #summarise}). */
    public static <T> Probe<T> unavailable(Throwable cause) {
        return new Probe<>(null, requireReason(summarise(cause)), cause);
    }

    public static <T> Probe<T> unavailable(String reason, Throwable cause) {
        return new Probe<>(null, requireReason(reason), cause);
    }

    public boolean isAvailable() {
        return value != null;
    }

    public Optional<T> value() {
        return Optional.ofNullable(value);
    }

    /** The value; throws {@link GpuUnavailableException} with the reason when there is none. */
    public T get() {
        if (value == null) {
            throw new GpuUnavailableException(reason, cause);
        }
        return value;
    }

    /** Why the source is unavailable; empty when it is available. */
    public String reason() {
        return reason;
    }

    public Optional<Throwable> cause() {
        return Optional.ofNullable(cause);
    }

    /** The same outcome with the value mapped; an unavailable probe keeps its reason and cause. */
    @SuppressWarnings("unchecked")
    public <R> Probe<R> map(Function<? super T, ? extends R> f) {
        return value == null ? (Probe<R>) this : Probe.found(f.apply(value));
    }

    @Override
    public String toString() {
        return value != null ? "available: " + value : "unavailable (" + reason + ")";
    }

    /**
     * One line that says why a native source failed. A loader error is reduced to dlopen's own words
     * ({@code libcuda.so.1: cannot open shared object file: No such file or directory}): JCuda's message around it is
     * forty lines of nested stack traces. Anything else gives the first line of the first message in the cause chain.
     */
    public static String summarise(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            String message = c.getMessage();
            if (message != null) {
                Matcher m = DLOPEN.matcher(message);
                if (m.find()) {
                    return m.group().strip();
                }
            }
        }
        for (Throwable c = t; c != null; c = c.getCause()) {
            String message = c.getMessage();
            if (message != null && !message.isBlank()) {
                return message.strip().lines().findFirst().orElse(message).strip();
            }
        }
        return t == null ? "unknown cause" : t.getClass().getName();
    }

    private static String requireReason(String reason) {
        if (reason == null || reason.isBlank()) {
            throw new IllegalArgumentException("an unavailable probe needs a reason");
        }
        return reason;
    }
}
