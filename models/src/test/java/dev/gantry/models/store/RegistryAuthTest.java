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
}
