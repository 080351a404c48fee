package dev.gantry.server;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/** A scrape of {@code /metrics} read back: each sample's name, labels and value. For tests. */
record PrometheusText(List<Sample> samples) {
    record Sample(String name, Map<String, String> labels, double value) {}

    static PrometheusText parse(String text) {
        List<Sample> out = new ArrayList<>();
        for (String line : text.split("\n")) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            int brace = line.indexOf('{');
            int space = line.lastIndexOf(' ');
            String name;
            Map<String, String> labels = new LinkedHashMap<>();
            if (brace >= 0 && brace < space) {
                name = line.substring(0, brace);
                String body = line.substring(brace + 1, line.lastIndexOf('}'));
                int i = 0;
                while (i < body.length()) {
                    int eq = body.indexOf('=', i);
                    String key = body.substring(i, eq);
                    int start = eq + 2; // after ="
                    StringBuilder v = new StringBuilder();
                    int j = start;
                    for (; body.charAt(j) != '"'; j++) {
                        char c = body.charAt(j);
                        if (c == '\\') {
                            c = body.charAt(++j);
                            v.append(c == 'n' ? '\n' : c);
                        } else {
                            v.append(c);
                        }
                    }
                    labels.put(key, v.toString());
                    i = j + 1;
                    if (i < body.length() && body.charAt(i) == ',') {
                        i++;
                    }
                }
            } else {
                name = line.substring(0, space);
            }
            String v = line.substring(space + 1);
            double value = switch (v) {
                case "+Inf" -> Double.POSITIVE_INFINITY;
                case "-Inf" -> Double.NEGATIVE_INFINITY;
                case "NaN" -> Double.NaN;
                default -> Double.parseDouble(v);
            };
            out.add(new Sample(name, Map.copyOf(labels), value));
        }
        return new PrometheusText(List.copyOf(out));
    }

    Set<String> names() {
        Set<String> out = new TreeSet<>();
        samples.forEach(s -> out.add(s.name()));
        return out;
    }

    List<Sample> named(String name) {
        return samples.stream().filter(s -> s.name().equals(name)).toList();
    }

    /** The value of the one sample of {@code name} whose labels include {@code labels}. */
    Optional<Double> value(String name, Map<String, String> labels) {
        List<Sample> hits = samples.stream().filter(s -> s.name().equals(name)
                && s.labels().entrySet().containsAll(labels.entrySet())).toList();
        if (hits.size() > 1) {
            throw new AssertionError(hits.size() + " samples of " + name + " match " + labels + ": " + hits);
        }
        return hits.stream().findFirst().map(Sample::value);
    }

    double valueOrZero(String name, Map<String, String> labels) {
        return value(name, labels).orElse(0.0);
    }
}
