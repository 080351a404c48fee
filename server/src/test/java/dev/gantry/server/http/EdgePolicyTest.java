package dev.gantry.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** The edge decisions as pure functions: Host guard, origins, bearer token, body limits. */
class EdgePolicyTest {
    static final EdgePolicy LOOPBACK = EdgePolicy.forListener("127.0.0.1", true, Optional.empty(),
            OriginMatcher.of(List.of()), BodyLimits.defaults());

    @ParameterizedTest
    @ValueSource(strings = {"", "localhost", "LOCALHOST:11434", "127.0.0.1", "127.0.0.1:11434", "[::1]", "[::1]:80",
            "::1", "app.localhost", "x.app.localhost:3000", "printer.local", "db.internal", "10.1.2.3:11434",
            "192.168.0.7", "172.16.0.1", "0.0.0.0", "[fd00::1]:8080"})
    void localHostsPassTheGuard(String host) {
        assertTrue(LOOPBACK.hostAllowed(host), host);
    }

    @ParameterizedTest
    @ValueSource(strings = {"evil.com", "evil.com:11434", "localhost.evil.com", "8.8.8.8", "[2001:db8::1]:80",
            "127.0.0.1.nip.io", "local", "internal.evil"})
    void foreignHostsAreRefusedOnLoopback(String host) {
        assertFalse(LOOPBACK.hostAllowed(host), host);
    }

    @Test
    void theGuardIsOffWhenListeningBeyondLoopback() {
        EdgePolicy open = EdgePolicy.forListener("0.0.0.0", false, Optional.empty(), OriginMatcher.of(List.of()),
                BodyLimits.defaults());
        assertTrue(open.hostAllowed("evil.com"));
    }

    @Test
    void theListenNameIsLocal() {
        EdgePolicy p = EdgePolicy.forListener("gantry-box", true, Optional.empty(), OriginMatcher.of(List.of()),
                BodyLimits.defaults());
        assertTrue(p.hostAllowed("gantry-box:11434"));
        assertTrue(p.hostAllowed("GANTRY-BOX"));
    }

    @Test
    void builtInOriginsAreOllamas() {
        OriginMatcher m = OriginMatcher.of(List.of());
        for (String ok : List.of("http://localhost", "https://localhost:3000", "http://127.0.0.1:8080",
                "http://0.0.0.0:1", "app://obsidian.md", "file://", "tauri://localhost", "vscode-webview://abc",
                "vscode-file://vscode-app")) {
            assertTrue(m.allows(ok), ok);
        }
        for (String bad : List.of("http://evil.com", "https://localhost.evil.com", "http://127.0.0.1.evil.com:80",
                "chrome-extension://abc", "null")) {
            assertFalse(m.allows(bad), bad);
        }
    }

    @Test
    void configuredOriginsWithWildcards() {
        OriginMatcher m = OriginMatcher.of(List.of("https://*.example.com", "chrome-extension://*"));
        assertTrue(m.allows("https://app.example.com"));
        assertTrue(m.allows("chrome-extension://abcdef"));
        assertFalse(m.allows("https://example.org"));
        assertTrue(OriginMatcher.of(List.of("*")).allows("https://anything.anywhere"));
        assertTrue(OriginMatcher.matches("a*b*c", "aXXbYYc"));
        assertFalse(OriginMatcher.matches("a*b*c", "aXXbYY"));
    }

    @Test
    void sameOriginRequestsNeedNoCorsEntry() {
        assertTrue(LOOPBACK.originAllowed("http://myhost:11434", "myhost:11434"));
        assertFalse(LOOPBACK.originAllowed("http://evil.com", "myhost:11434"));
        assertTrue(LOOPBACK.originAllowed(null, "x"));
    }

    @Test
    void bearerTokenIsCheckedExceptOnProbes() {
        EdgePolicy p = EdgePolicy.forListener("127.0.0.1", true, Optional.of("s3cret"), OriginMatcher.of(List.of()),
                BodyLimits.defaults());
        assertTrue(p.authorized("/api/tags", "Bearer s3cret"));
        assertTrue(p.authorized("/api/tags", "bearer  s3cret "));
        assertFalse(p.authorized("/api/tags", "Bearer s3cre"));
        assertFalse(p.authorized("/api/tags", "Bearer s3cret2"));
        assertFalse(p.authorized("/api/tags", "Basic czNjcmV0"));
        assertFalse(p.authorized("/api/tags", null));
        assertTrue(p.authorized("/ready", null));
        assertTrue(p.authorized("/health", null));
        assertTrue(LOOPBACK.authorized("/api/tags", null), "no key configured: open");
    }

    @Test
    void bodyLimitsByLongestPrefix() {
        BodyLimits l = BodyLimits.parse("default=1m,/api/=2k,/api/show=3k");
        assertEquals(1 << 20, l.limitFor("/"));
        assertEquals(2048, l.limitFor("/api/chat"));
        assertEquals(3072, l.limitFor("/api/show"));
        assertEquals(1L << 40, l.limitFor("/api/blobs/sha256:ab"));
        assertEquals(1L << 40, l.largest());
        assertEquals(5L << 30, BodyLimits.size("5G"));
        assertThrows(IllegalArgumentException.class, () -> BodyLimits.parse("api=1"));
        assertThrows(IllegalArgumentException.class, () -> new BodyLimits(10, Map.of()));
    }
}
