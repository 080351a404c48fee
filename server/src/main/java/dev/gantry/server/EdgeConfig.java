package dev.gantry.server;

import dev.gantry.server.http.BodyLimits;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What faces the network besides the API itself: the bearer token, the extra CORS origins, the request body limits
 * and the HAProxy agent port. Kept apart from {@link ServerConfig}'s other fields so they grow without touching its
 * constructor. Immutable.
 *
 * @param apiKey         {@code GANTRY_API_KEY}: when present every request (but the probes) needs
 *                       {@code Authorization: Bearer <key>}
 * @param insecureNoAuth {@code --insecure-no-auth}: serve a non-loopback address without a key, on purpose
 * @param origins        {@code OLLAMA_ORIGINS}, comma separated; Ollama's built-in local origins are always added
 * @param bodyLimits     the largest request body per path
 * @param agentPort      {@code GANTRY_AGENT_PORT} / {@code --agent-port}: the HAProxy agent-check port, or -1 for none
 *                       (0 picks a free port, for tests)
 */
public record EdgeConfig(Optional<String> apiKey, boolean insecureNoAuth, List<String> origins, BodyLimits bodyLimits,
                         int agentPort) {

    public EdgeConfig {
        apiKey = apiKey.filter(k -> !k.isBlank()).map(String::strip);
        origins = List.copyOf(origins);
        if (agentPort < -1 || agentPort > 65535) {
            throw new IllegalArgumentException("agent port must be in 0..65535, was " + agentPort);
        }
    }

    /** No key, no extra origins, 64 MiB bodies (more for blob uploads), no agent. */
    public static EdgeConfig defaults() {
        return new EdgeConfig(Optional.empty(), false, List.of(), BodyLimits.defaults(), -1);
    }

    static EdgeConfig fromEnv(Map<String, String> env) {
        List<String> origins = new ArrayList<>();
        String o = env.getOrDefault("OLLAMA_ORIGINS", "").strip();
        if (!o.isEmpty()) {
            for (String s : o.split(",")) {
                if (!s.isBlank()) {
                    origins.add(s.strip());
                }
            }
        }
        String limits = env.get("GANTRY_BODY_LIMITS");
        BodyLimits body = limits == null || limits.isBlank() ? BodyLimits.defaults() : BodyLimits.parse(limits);
        String agent = env.get("GANTRY_AGENT_PORT");
        int agentPort = -1;
        if (agent != null && !agent.isBlank()) {
            try {
                agentPort = Integer.parseInt(agent.strip());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("GANTRY_AGENT_PORT must be an integer, was \"" + agent + "\"");
            }
        }
        return new EdgeConfig(Optional.ofNullable(env.get("GANTRY_API_KEY")), false, origins, body, agentPort);
    }

    public EdgeConfig withApiKey(String key) {
        return new EdgeConfig(Optional.ofNullable(key), insecureNoAuth, origins, bodyLimits, agentPort);
    }

    public EdgeConfig withInsecureNoAuth(boolean on) {
        return new EdgeConfig(apiKey, on, origins, bodyLimits, agentPort);
    }

    public EdgeConfig withOrigins(List<String> list) {
        return new EdgeConfig(apiKey, insecureNoAuth, list, bodyLimits, agentPort);
    }

    public EdgeConfig withBodyLimits(BodyLimits limits) {
        return new EdgeConfig(apiKey, insecureNoAuth, origins, limits, agentPort);
    }

    public EdgeConfig withAgentPort(int port) {
        return new EdgeConfig(apiKey, insecureNoAuth, origins, bodyLimits, port);
    }

    /**
     * Refuses to serve a non-loopback address without a key unless asked to: a model server reachable from the
     * network with no authentication is a mistake more often than a choice.
     */
    void checkExposure(String host) {
        if (apiKey.isEmpty() && !insecureNoAuth && !isLoopback(host)) {
            throw new IllegalArgumentException("listening on " + host + " (not a loopback address) needs GANTRY_API_KEY "
                    + "set to a bearer token, or --insecure-no-auth to serve without authentication");
        }
    }

    /** Whether {@code host} names only loopback addresses (a name that does not resolve counts as not loopback). */
    public static boolean isLoopback(String host) {
        if (host.equalsIgnoreCase("localhost")) {
            return true;
        }
        try {
            InetAddress[] all = InetAddress.getAllByName(host);
            for (InetAddress a : all) {
                if (!a.isLoopbackAddress()) {
                    return false;
                }
            }
            return all.length > 0;
        } catch (UnknownHostException e) {
            return false;
        }
    }
}
