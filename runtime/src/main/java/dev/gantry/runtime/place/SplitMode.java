package dev.gantry.runtime.place;

import java.util.Locale;

/**
 * How one replica spreads a model over its GPUs, as llama.cpp's {@code enum llama_split_mode}:
 * {@link #NONE} one GPU; {@link #LAYER} whole layers per GPU (activations cross once per boundary);
 * {@link #ROW} each weight matrix split by rows (deprecated upstream); {@link #TENSOR} tensor parallel
 * (experimental upstream: dense models, flash attention).
 */
public enum SplitMode {
    NONE(0), LAYER(1), ROW(2), TENSOR(3);

    private final int llamaValue;

    SplitMode(int llamaValue) {
        this.llamaValue = llamaValue;
    }

    /** The value of {@code llama_split_mode} at the pinned llama.cpp. */
    public int llamaValue() {
        return llamaValue;
    }

    /** Lower-case name, as in {@code split=layer}. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * Parses {@code none}, {@code layer}, {@code row} or {@code tensor} (any case).
     *
     * @throws IllegalArgumentException naming the accepted values
     */
    public static SplitMode parse(String s) {
        String v = s == null ? "" : s.trim().toUpperCase(Locale.ROOT);
        for (SplitMode m : values()) {
            if (m.name().equals(v)) {
                return m;
            }
        }
        throw new IllegalArgumentException("unknown split mode \"" + s + "\": expected layer, row or tensor");
    }
}
