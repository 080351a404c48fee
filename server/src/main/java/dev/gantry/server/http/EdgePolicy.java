package dev.gantry.server.http;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HashSet;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * The decisions made on every request before it reaches a handler, as pure functions: whether the {@code Host}
 * header names this machine (the DNS-rebinding guard, applied while the server listens on loopback only, as Ollama
 * does), whether a browser origin may call (CORS), whether the bearer token is right, and how large the body may be.
 * Immutable and thread-safe.
 *
 * @param apiKey        the bearer token every request but the probes must carry, if any
 * @param loopbackOnly  the server listens on a loopback address, so the Host guard applies
 * @param localNames    names that count as this machine besides the built-in ones (the listen host, the hostname)
 * @param localAddresses addresses of this machine's interfaces
 * @param origins       the allowed browser origins
 * @param bodyLimits    body limits by path
 */
public record EdgePolicy(Optional<String> apiKey, boolean loopbackOnly, Set<String> localNames,
                         Set<InetAddress> localAddresses, OriginMatcher origins, BodyLimits bodyLimits) {
    /** Paths a load balancer or orchestrator probes without credentials; they tell nothing worth a token. */
    static final Set<String> PROBES = Set.of("/health", "/ready", "/metrics");

    public EdgePolicy {
        localNames = Set.copyOf(localNames);
        localAddresses = Set.copyOf(localAddresses);
    }

    /**
     * The policy for a server listening on {@code host}: the Host guard when that is a loopback address, this
     * machine's hostname and interface addresses as local.
     */
    public static EdgePolicy forListener(String host, boolean loopbackOnly, Optional<String> apiKey,
                                         OriginMatcher origins, BodyLimits limits) {
        Set<String> names = new HashSet<>();
        names.add(stripBrackets(host).toLowerCase(Locale.ROOT));
        hostname().ifPresent(h -> names.add(h.toLowerCase(Locale.ROOT)));
        return new EdgePolicy(apiKey, loopbackOnly, names, interfaceAddresses(), origins, limits);
    }

    /**
     * Whether a {@code Host} header (with or without a port) names this machine: empty, {@code localhost} and
     * {@code *.localhost}, {@code *.local}, {@code *.internal}, the hostname, the listen host, or an IP literal
     * that is loopback, private, unspecified or one of this machine's.
     */
    public boolean hostAllowed(String hostHeader) {
        if (!loopbackOnly) {
            return true;
        }
        String host = hostOnly(hostHeader == null ? "" : hostHeader.strip()).toLowerCase(Locale.ROOT);
        if (host.isEmpty() || host.equals("localhost") || localNames.contains(host)) {
            return true;
        }
        if (host.endsWith(".localhost") || host.endsWith(".local") || host.endsWith(".internal")) {
            return true;
        }
        InetAddress ip = literal(host);
        return ip != null && (ip.isLoopbackAddress() || ip.isAnyLocalAddress() || isPrivate(ip)
                || localAddresses.contains(ip));
    }

    /** Whether a request that carries this {@code Origin} may be served (same-origin requests always may). */
    public boolean originAllowed(String origin, String hostHeader) {
        if (origin == null || origin.isEmpty()) {
            return true;
        }
        if (hostHeader != null && sameOrigin(origin, hostHeader)) {
            return true;
        }
        return origins.allows(origin);
    }

    /** Whether a request to {@code path} with this {@code Authorization} header may pass. */
    public boolean authorized(String path, String authorization) {
        if (apiKey.isEmpty() || PROBES.contains(path)) {
            return true;
        }
        if (authorization == null) {
            return false;
        }
        String a = authorization.strip();
        if (a.length() < 7 || !a.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return false;
        }
        byte[] given = a.substring(7).strip().getBytes(StandardCharsets.UTF_8);
        byte[] expected = apiKey.get().getBytes(StandardCharsets.UTF_8);
        // constant time in the token's contents, so its bytes cannot be guessed one at a time from response times
        return MessageDigest.isEqual(given, expected);
    }

    static boolean sameOrigin(String origin, String hostHeader) {
        int scheme = origin.indexOf("://");
        if (scheme < 0) {
            return false;
        }
        String authority = origin.substring(scheme + 3);
        int slash = authority.indexOf('/');
        if (slash >= 0) {
            authority = authority.substring(0, slash);
        }
        return authority.equalsIgnoreCase(hostHeader.strip());
    }

    /** The host part of a Host header: {@code [::1]:80} gives {@code ::1}, {@code a:80} gives {@code a}. */
    static String hostOnly(String hostHeader) {
        if (hostHeader.startsWith("[")) {
            int end = hostHeader.indexOf(']');
            return end < 0 ? hostHeader : hostHeader.substring(1, end);
        }
        int colon = hostHeader.indexOf(':');
        if (colon >= 0 && colon == hostHeader.lastIndexOf(':')) {
            return hostHeader.substring(0, colon);
        }
        return hostHeader; // no port, or a bare IPv6 address
    }

    private static String stripBrackets(String host) {
        return host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    }

    /** An IP literal, or null for a name (never a DNS lookup: the header is the client's word). */
    static InetAddress literal(String host) {
        try {
            return InetAddress.ofLiteral(host);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    /** RFC 1918 and RFC 4193 (fc00::/7) addresses. */
    static boolean isPrivate(InetAddress ip) {
        if (ip instanceof Inet6Address) {
            return (ip.getAddress()[0] & 0xfe) == 0xfc;
        }
        return ip.isSiteLocalAddress();
    }

    private static Optional<String> hostname() {
        try {
            String h = Files.readString(Path.of("/proc/sys/kernel/hostname")).strip();
            if (!h.isEmpty()) {
                return Optional.of(h);
            }
        } catch (java.io.IOException | RuntimeException e) {
            // not Linux: fall back to the environment
        }
        return Optional.ofNullable(System.getenv("HOSTNAME")).filter(h -> !h.isBlank());
    }

    private static Set<InetAddress> interfaceAddresses() {
        Set<InetAddress> out = new HashSet<>();
        try {
            NetworkInterface.networkInterfaces().forEach(i -> i.inetAddresses().forEach(a -> {
                // drop the IPv6 scope, so a literal from a header compares equal
                out.add(literal(a.getHostAddress().replaceFirst("%.*$", "")));
            }));
        } catch (java.net.SocketException | RuntimeException e) {
            // no interface list: only the names and the address classes above count as local
        }
        out.remove(null);
        return out;
    }
}
