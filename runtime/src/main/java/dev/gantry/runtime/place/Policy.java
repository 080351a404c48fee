package dev.gantry.runtime.place;

import java.util.Locale;

/**
 * How to place a model on the GPUs: {@link Auto} (the default), {@link Replicate}
 * or {@link Split}. Explicit groups come from {@link GpuSelection} instead.
 *
 * <p>Immutable and thread-safe.
 */
public sealed interface Policy {

    /** One replica per GPU where the model fits one; else the smallest peer-connected groups that fit. */
    record Auto() implements Policy {
        @Override
        public String toString() {
            return "auto";
        }
    }

    /** One replica on each GPU the model fits. */
    record Replicate() implements Policy {
        @Override
        public String toString() {
            return "replicate";
        }
    }

    /** One replica over all the selected GPUs, split this way. */
    record Split(SplitMode mode) implements Policy {
        public Split {
            if (mode == null || mode == SplitMode.NONE) {
                throw new IllegalArgumentException("split needs a mode: layer, row or tensor");
            }
        }

        @Override
        public String toString() {
            return "split=" + mode.label();
        }
    }

    Policy AUTO = new Auto();
    Policy REPLICATE = new Replicate();

    /**
     * Parses {@code auto}, {@code replicate}, {@code split=layer}, {@code split=row} or {@code split=tensor}
     * (any case, spaces around ignored). Blank means {@code auto}.
     *
     * @throws IllegalArgumentException naming the accepted forms
     */
    static Policy parse(String s) {
        if (s == null || s.isBlank()) {
            return AUTO;
        }
        String v = s.trim().toLowerCase(Locale.ROOT);
        if (v.equals("auto")) {
            return AUTO;
        }
        if (v.equals("replicate")) {
            return REPLICATE;
        }
        if (v.startsWith("split=")) {
            String mode = v.substring("split=".length()).trim();
            if (mode.equals("none")) {
                throw new IllegalArgumentException("\"" + s + "\": split=none is not a split; use replicate");
            }
            try {
                return new Split(SplitMode.parse(mode));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("unknown placement policy \"" + s
                        + "\": the split mode must be layer, row or tensor");
            }
        }
        throw new IllegalArgumentException("unknown placement policy \"" + s
                + "\": expected auto, replicate, split=layer, split=row or split=tensor");
    }
}
