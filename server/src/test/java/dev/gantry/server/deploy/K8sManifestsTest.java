package dev.gantry.server.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code deploy/k8s/}: every object validates against the Kubernetes API schemas (npm kubernetes-models, fetched
 * at build time by {@code deploy/k8s/fetch-validator.sh}, run with node), and the Deployment has what Gantry needs
 * (a GPU, probes on /ready and /health, Prometheus annotations, the model store, the API key).
 */
class K8sManifestsTest {
    static final Path DIR = Path.of("..", "deploy", "k8s");
    static final Path VALIDATOR = Path.of("target", "k8s-validator");
    static List<JsonNode> objects = new ArrayList<>();

    @BeforeAll
    static void read() throws Exception {
        ObjectMapper yaml = new YAMLMapper();
        try (var files = Files.list(DIR)) {
            for (Path f : files.filter(f -> f.toString().endsWith(".yaml")).sorted().toList()) {
                try (var parser = new YAMLFactory().createParser(f.toFile())) {
                    yaml.readValues(parser, JsonNode.class).forEachRemaining(n -> {
                        if (n != null && !n.isNull()) {
                            objects.add(n);
                        }
                    });
                }
            }
        }
    }

    @Test
    void everyObjectMatchesTheKubernetesSchemas() throws Exception {
        Path node = which("node");
        Assumptions.assumeTrue(node != null, "node is not installed: cannot run the Kubernetes schema validator");
        Assumptions.assumeTrue(Files.exists(VALIDATOR.resolve("node_modules/kubernetes-models/package.json")),
                "the Kubernetes schemas (npm kubernetes-models) were not fetched: see " + VALIDATOR + "/npm.log");
        Path input = Files.createTempFile(Path.of("target"), "k8s-objects", ".json");
        ArrayNode all = new ObjectMapper().createArrayNode();
        objects.forEach(all::add);
        Files.writeString(input, all.toString());
        Process p = new ProcessBuilder(node.toString(), "validate.mjs", input.toAbsolutePath().toString())
                .directory(VALIDATOR.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        assertEquals(objects.size(), out.lines().filter(l -> l.startsWith("ok ")).count(), out);
        assertTrue(out.contains("ok Deployment gantry") && out.contains("ok Service gantry"), out);
        Files.delete(input);
    }

    @Test
    void theValidatorCatchesAMistake() throws Exception {
        Path node = which("node");
        Assumptions.assumeTrue(node != null && Files.exists(VALIDATOR.resolve("node_modules/kubernetes-models")),
                "no node or no Kubernetes schemas");
        JsonNode broken = kind("Deployment").deepCopy();
        ((com.fasterxml.jackson.databind.node.ObjectNode) broken.at("/spec/template/spec/containers/0/ports/0"))
                .put("containerPort", "eleven");
        Path input = Files.createTempFile(Path.of("target"), "k8s-broken", ".json");
        Files.writeString(input, "[" + broken + "]");
        Process p = new ProcessBuilder(node.toString(), "validate.mjs", input.toAbsolutePath().toString())
                .directory(VALIDATOR.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(1, p.exitValue(), out);
        assertTrue(out.contains("containerPort"), out);
        Files.delete(input);
    }

    @Test
    void theDeploymentHasWhatGantryNeeds() {
        JsonNode pod = kind("Deployment").at("/spec/template");
        JsonNode c = pod.at("/spec/containers/0");
        assertEquals("1", c.at("/resources/limits/nvidia.com~1gpu").asText());
        assertEquals("/ready", c.at("/readinessProbe/httpGet/path").asText());
        assertEquals("/health", c.at("/livenessProbe/httpGet/path").asText());
        assertEquals("true", pod.at("/metadata/annotations/prometheus.io~1scrape").asText());
        assertEquals("/metrics", pod.at("/metadata/annotations/prometheus.io~1path").asText());
        assertEquals(c.at("/ports/0/containerPort").asText(), pod.at("/metadata/annotations/prometheus.io~1port").asText());
        String modelsDir = env(c, "OLLAMA_MODELS").path("value").asText();
        assertTrue(mounts(c).contains(modelsDir), "the model store is mounted at OLLAMA_MODELS: " + modelsDir);
        String claim = kind("PersistentVolumeClaim").at("/metadata/name").asText();
        boolean usesClaim = false;
        for (JsonNode v : pod.at("/spec/volumes")) {
            usesClaim |= claim.equals(v.at("/persistentVolumeClaim/claimName").asText());
        }
        assertTrue(usesClaim, "the pod mounts the models claim " + claim);
        assertFalse(env(c, "GANTRY_API_KEY").at("/valueFrom/secretKeyRef/name").asText().isEmpty(),
                "listening on 0.0.0.0 needs the API key, from a Secret");
        assertTrue(c.path("args").toString().contains("--agent-port"));
        JsonNode svc = kind("Service");
        assertEquals(pod.at("/metadata/labels"), svc.at("/spec/selector"));
        assertEquals(c.at("/ports/0/name").asText(), svc.at("/spec/ports/0/targetPort").asText());
    }

    static JsonNode kind(String kind) {
        return objects.stream().filter(o -> kind.equals(o.path("kind").asText())).findFirst()
                .orElseThrow(() -> new AssertionError("no " + kind + " in " + DIR));
    }

    static JsonNode env(JsonNode container, String name) {
        for (JsonNode e : container.path("env")) {
            if (name.equals(e.path("name").asText())) {
                return e;
            }
        }
        throw new AssertionError("no env " + name);
    }

    static List<String> mounts(JsonNode container) {
        List<String> out = new ArrayList<>();
        container.path("volumeMounts").forEach(m -> out.add(m.path("mountPath").asText()));
        return out;
    }

    static Path which(String program) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            Path p = Path.of(dir.isEmpty() ? "." : dir, program);
            if (Files.isExecutable(p)) {
                return p;
            }
        }
        return null;
    }
}
