package dev.gantry.models.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The Bearer challenge of a registry's 401, as Docker Hub, GitHub's and self-hosted registries word it. */
class RegistryAuthTest {
    @Test
    void aBearerChallengeGivesItsRealmServiceAndScope() {
        RegistryAuth.Challenge c = RegistryAuth.Challenge.parse("Bearer realm=\"https://auth.docker.io/token\","
                + "service=\"registry.docker.io\",scope=\"repository:library/x:pull,push\"").orElseThrow();
        assertEquals("https://auth.docker.io/token", c.realm());
        assertEquals("registry.docker.io", c.service());
        assertEquals("repository:library/x:pull,push", c.scope(), "a comma inside quotes stays");
        RegistryAuth.Challenge bare = RegistryAuth.Challenge.parse("bearer Realm=https://r.example/t, service=s")
                .orElseThrow();
        assertEquals("https://r.example/t", bare.realm());
        assertEquals("s", bare.service());
        assertEquals(null, bare.scope());
    }

    @Test
    void otherSchemesAndChallengesWithoutARealmAreNotOnes() {
        assertTrue(RegistryAuth.Challenge.parse("Basic realm=\"x\"").isEmpty());
        assertTrue(RegistryAuth.Challenge.parse("Bearer service=\"s\"").isEmpty());
        assertTrue(RegistryAuth.Challenge.parse(null).isEmpty());
        assertTrue(RegistryAuth.Challenge.parse("Bearer").isEmpty());
    }

    @Test
    void theFirstBearerChallengeIsTakenWhereOtherSchemesComeFirst() {
        assertEquals("https://r.example/token", RegistryAuth.Challenge.first(java.util.List.of("Basic realm=\"x\"",
                "Bearer realm=\"https://r.example/token\",service=\"r\"")).orElseThrow().realm());
        assertEquals("https://r.example/token", RegistryAuth.Challenge.first(java.util.List.of(
                "Basic realm=\"x\", Bearer realm=\"https://r.example/token\"")).orElseThrow().realm());
        assertTrue(RegistryAuth.Challenge.first(java.util.List.of("Basic realm=\"x\"")).isEmpty());
    }

    @Test
    void theTokenGoesOnlyWhereSchemeHostAndPortAreTheRegistrys() {
        assertEquals("https://r.example:443", RegistryAuth.origin(java.net.URI.create("https://R.example/v2/x")));
        assertEquals(RegistryAuth.origin(java.net.URI.create("https://r.example/v2/")),
                RegistryAuth.origin(java.net.URI.create("https://r.example:443/v2/x/blobs/uploads/1")));
        assertTrue(!RegistryAuth.origin(java.net.URI.create("https://r.example/v2/"))
                .equals(RegistryAuth.origin(java.net.URI.create("http://r.example/v2/"))), "not down to plain HTTP");
    }
}
