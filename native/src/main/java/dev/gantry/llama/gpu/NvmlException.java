package dev.gantry.llama.gpu;

/** An NVML call returned an error: the function, NVML's code and its {@code nvmlErrorString} text. */
public final class NvmlException extends RuntimeException {
    private final String function;
    private final int code;

    public NvmlException(String function, int code, String text) {
        super(function + " failed: " + text + " (NVML error " + code + ")");
        this.function = function;
        this.code = code;
    }

    public String function() {
        return function;
    }

    /** The {@code nvmlReturn_t} value, e.g. 15 for {@code NVML_ERROR_GPU_IS_LOST}. */
    public int code() {
        return code;
    }
}
