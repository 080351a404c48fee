package dev.gantry.llama.gpu;

import java.util.Locale;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * PCI bus ids in one spelling, lower-case {@code dddd:bb:dd.f}, so that CUDA's and NVML's views of a GPU can be
 * matched: NVML writes an eight-digit upper-case domain ({@code 00000000:3B:00.0}), CUDA's attributes give numbers.
 */
public final class PciBusId {
    private static final Pattern FORM =
            Pattern.compile("(?:([0-9a-fA-F]{1,8}):)?([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\\.([0-7])");

    private PciBusId() {}

    /** The id of a function; the domain is read as unsigned (NVML's is a 32-bit unsigned int). */
    public static String of(int domain, int bus, int device, int function) {
        return String.format(Locale.ROOT, "%04x:%02x:%02x.%x", Integer.toUnsignedLong(domain), bus & 0xff,
                device & 0xff, function & 0x7);
    }

    /** {@code text} in the normal spelling, or empty when it is not a bus id; a missing domain reads as 0. */
    public static Optional<String> parse(String text) {
        if (text == null) {
            return Optional.empty();
        }
        Matcher m = FORM.matcher(text.strip());
        if (!m.matches()) {
            return Optional.empty();
        }
        int domain = m.group(1) == null ? 0 : Integer.parseUnsignedInt(m.group(1), 16);
        return Optional.of(of(domain, Integer.parseInt(m.group(2), 16), Integer.parseInt(m.group(3), 16),
                Integer.parseInt(m.group(4))));
    }
}
