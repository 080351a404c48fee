package dev.gantry.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.gantry.runtime.gpu.GpuSample;
import dev.gantry.runtime.gpu.GpuSnapshot;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Every query of {@code deploy/grafana/gantry-dashboard.json} names metrics a running Gantry exports: the queries are
 * parsed for their metric and label names, which are checked against a scrape of {@code /metrics} after real
 * generations (with a GPU snapshot, so the GPU gauges are there).
 */
class DashboardQueriesTest {
    private static final Set<String> KEYWORDS = Set.of("by", "without", "on", "ignoring", "group_left",
            "group_right", "offset", "bool", "and", "or", "unless", "inf", "nan");
    /** Labels Prometheus adds to every series it scrapes. */
    private static final Set<String> TARGET_LABELS = Set.of("instance", "job");
    private static final Pattern IDENTIFIER = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");
    private static final Pattern GROUPING = Pattern.compile("\\b(?:by|without|on|ignoring)\\s*\\(([^)]*)\\)");
    private static final Pattern MATCHERS = Pattern.compile("\\{([^}]*)}");
    private static final Pattern LABEL_VALUES = Pattern.compile("label_values\\(\\s*([^,)]+?)\\s*,\\s*([^)]+?)\\s*\\)");

    /** Metric and label names one PromQL expression uses. */
    record Names(Set<String> metrics, Set<String> labels) {}

    static Names names(String promql) {
        Set<String> metrics = new TreeSet<>();
        Set<String> labels = new TreeSet<>();
        Matcher lv = LABEL_VALUES.matcher(promql); // Grafana's template query, not PromQL
        if (lv.matches()) {
            metrics.add(lv.group(1));
            labels.add(lv.group(2));
            return new Names(metrics, labels);
        }
        String e = promql.replaceAll("\"(?:[^\"\\\\]|\\\\.)*\"", "\"\"").replaceAll("\\[[^]]*]", "");
        Matcher m = MATCHERS.matcher(e);
        while (m.find()) {
            for (String matcher : m.group(1).split(",")) {
                if (!matcher.isBlank()) {
                    labels.add(matcher.split("[=!~]", 2)[0].strip());
                }
            }
        }
        e = MATCHERS.matcher(e).replaceAll(" ");
        Matcher g = GROUPING.matcher(e);
        while (g.find()) {
            for (String l : g.group(1).split(",")) {
                if (!l.isBlank()) {
                    labels.add(l.strip());
                }
            }
        }
        e = GROUPING.matcher(e).replaceAll(" ");
        Matcher id = IDENTIFIER.matcher(e);
        while (id.find()) {
            String name = id.group();
            int after = id.end();
            while (after < e.length() && Character.isWhitespace(e.charAt(after))) {
                after++;
            }
            boolean function = after < e.length() && e.charAt(after) == '(';
            boolean number = id.start() > 0 && (Character.isDigit(e.charAt(id.start() - 1))
                    || e.charAt(id.start() - 1) == '.');
            if (!function && !number && !KEYWORDS.contains(name.toLowerCase(java.util.Locale.ROOT))) {
                metrics.add(name);
            }
        }
        return new Names(metrics, labels);
    }

    @Test
    void theParserFindsMetricsAndLabels() {
        Names n = names("histogram_quantile(0.99, sum by (le, model) (rate(gantry_x_bucket{model=~\"$model\"}"
                + "[$__rate_interval]))) / on (model) gantry_y");
        assertEquals(Set.of("gantry_x_bucket", "gantry_y"), n.metrics());
        assertEquals(Set.of("le", "model"), n.labels());
        assertEquals(new Names(Set.of("gantry_z"), Set.of("instance")), names("label_values(gantry_z, instance)"));
    }

    @Test
    void everyDashboardQueryNamesAnExportedMetric() throws Exception {
        Path root = Path.of("").toAbsolutePath();
        while (!Files.isDirectory(root.resolve("deploy"))) {
            root = root.getParent();
        }
        JsonNode dashboard = TestServer.JSON.readTree(root.resolve("deploy/grafana/gantry-dashboard.json").toFile());
        List<String> queries = new ArrayList<>();
        dashboard.findValues("expr").forEach(n -> queries.add(n.asText()));
        dashboard.path("templating").path("list").forEach(v -> queries.add(v.path("query").path("query").asText()));
        assertTrue(queries.size() > 15, "queries: " + queries);
        String scrapeConfig = Files.readString(root.resolve("deploy/prometheus.yml"));
        assertTrue(scrapeConfig.contains("metrics_path: /metrics"), scrapeConfig);

        try (TestServer server = TestServer.start(TestServer.defaults())) {
            GpuSample gpu = new GpuSample(0, 42, 10, 8L << 30, 80L << 30, 55, 210.0, Instant.now(), false);
            GpuSnapshot snapshot = new GpuSnapshot(Instant.now(), Map.of(0, gpu), "");
            server.gantry.operations().watchGpus(() -> snapshot, Duration.ofSeconds(1));
            for (int i = 0; i < 2; i++) {
                assertEquals(200, server.post("/api/generate", "{\"model\":\"stories260k\",\"prompt\":\"Once\","
                        + "\"stream\":false,\"options\":{\"num_predict\":4,\"ignore_eos\":true}}").statusCode());
            }
            // the one series only a refusal creates
            server.gantry.operations().metrics().queueFull("stories260k:latest");
            PrometheusText scraped = PrometheusText.parse(server.get("/metrics").body());
            Set<String> exported = scraped.names();
            Set<String> exportedLabels = new TreeSet<>(TARGET_LABELS);
            scraped.samples().forEach(s -> exportedLabels.addAll(s.labels().keySet()));

            Set<String> unknownMetrics = new TreeSet<>();
            Set<String> unknownLabels = new TreeSet<>();
            for (String q : queries) {
                Names n = names(q);
                assertTrue(!n.metrics().isEmpty(), "no metric in " + q);
                n.metrics().stream().filter(x -> !exported.contains(x)).forEach(x -> unknownMetrics.add(x + " in " + q));
                n.labels().stream().filter(x -> !exportedLabels.contains(x)).forEach(x -> unknownLabels.add(x + " in " + q));
            }
            assertEquals(Set.of(), unknownMetrics, "dashboard metrics Gantry does not export");
            assertEquals(Set.of(), unknownLabels, "dashboard labels Gantry does not export");
        }
    }
}
