package dev.gantry.models;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Optional;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ModelNameTest {

    @ParameterizedTest(name = "{0}")
    @CsvSource({
        // input,                                          full form,                                       short name
        "stories260k,                                      registry.ollama.ai/library/stories260k:latest,   stories260k:latest",
        // the case given stays (names match in any case)
        "stories260K,                                      registry.ollama.ai/library/stories260K:latest,   stories260K:latest",
        "stories260k:latest,                               registry.ollama.ai/library/stories260k:latest,   stories260k:latest",
        "library/stories260k,                              registry.ollama.ai/library/stories260k:latest,   stories260k:latest",
        "REGISTRY.OLLAMA.AI/Library/Stories260K:LATEST,    REGISTRY.OLLAMA.AI/Library/Stories260K:LATEST,   Stories260K:LATEST",
        "llama3.2:3b-instruct-q4_K_M,                      registry.ollama.ai/library/llama3.2:3b-instruct-q4_K_M, llama3.2:3b-instruct-q4_K_M",
        "myns/foo:bar,                                     registry.ollama.ai/myns/foo:bar,                 myns/foo:bar",
        "example.com/myns/foo,                             example.com/myns/foo:latest,                     example.com/myns/foo:latest",
        "localhost:5000/myns/foo:v1,                       localhost:5000/myns/foo:v1,                      localhost:5000/myns/foo:v1",
        "hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M, hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M, hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M",
        // '..' inside a part is a plain folder name, as Ollama allows it
        "a..b,                                             registry.ollama.ai/library/a..b:latest,          a..b:latest",
        "a_b/c_d:_e,                                       registry.ollama.ai/a_b/c_d:_e,                   a_b/c_d:_e",
        "x.y,                                              registry.ollama.ai/library/x.y:latest,           x.y:latest",
        // a scheme goes, as Ollama's ParseNameBare drops it
        "https://registry.ollama.ai/library/mine:latest,   registry.ollama.ai/library/mine:latest,          mine:latest",
        "http://localhost:5000/ns/m:v1,                    localhost:5000/ns/m:v1,                          localhost:5000/ns/m:v1",
    })
    void validNames(String input, String full, String shortName) {
        ModelName name = ModelName.parse(input);
        assertEquals(full, name.toString());
        assertEquals(shortName, name.shortName());
        // the full and short forms parse back to the same name
        assertEquals(name, ModelName.parse(full));
        assertEquals(name, ModelName.parse(shortName));
        // and so does any other case of it, equal with the same hash, though spelt differently
        ModelName upper = ModelName.parse(full.toUpperCase(java.util.Locale.ROOT));
        assertEquals(name, upper);
        assertEquals(name.hashCode(), upper.hashCode());
        assertEquals(full.equals(full.toUpperCase(java.util.Locale.ROOT)), name.sameCase(upper));
    }

    static Stream<Arguments> invalidNames() {
        return Stream.of(
                Arguments.of("", "required"),
                Arguments.of("../../etc/passwd", "at most 2"),
                Arguments.of("../passwd", "namespace part starts with '.'"),
                Arguments.of("..%2fpasswd", "'%'"),
                Arguments.of("..", "starts with '.'"),
                Arguments.of("a/b/c/d", "at most 2"),
                Arguments.of("my.ns/model", "namespace part contains '.'"),
                Arguments.of("example.com/my.ns/model", "namespace part contains '.'"),
                Arguments.of("foo:", "tag after ':' is empty"),
                Arguments.of(":tag", "model part is empty"),
                Arguments.of("/foo", "namespace part is empty"),
                Arguments.of("foo/", "model part is empty"),
                Arguments.of("a//b", "namespace part is empty"),
                Arguments.of("foo\u0000bar", "U+0000"),
                Arguments.of("foo:bar\u0000", "U+0000"),
                Arguments.of("%2e%2e", "'%'"),
                Arguments.of("%2e%2e/%2e%2e/etc", "'%'"),
                Arguments.of("foo bar", "' '"),
                Arguments.of("foo/bar\\baz", "'\\'"),
                Arguments.of("-rf", "starts with '-'"),
                Arguments.of(".hidden", "starts with '.'"),
                Arguments.of("foo:-tag", "starts with '-'"),
                Arguments.of("foo:a:b", "':'"),
                Arguments.of(":5000/ns/m", "starts with ':'"),
                Arguments.of("caf\u00e9", "U+00E9"),
                Arguments.of("foo@sha256:abc", "'@'"),
                Arguments.of("m".repeat(81), "longer than 80"),
                Arguments.of("m:" + "t".repeat(81), "longer than 80"),
                Arguments.of("h".repeat(351) + "/ns/m", "longer than 350"),
                Arguments.of("x".repeat(10_000), "longer than"));
    }

    @ParameterizedTest(name = "[{index}] {1}")
    @MethodSource("invalidNames")
    void invalidNamesAreRejectedWithAReadableMessage(String input, String reason) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ModelName.parse(input));
        assertTrue(e.getMessage().contains(reason), e::getMessage);
        // the message is safe to put in a JSON error for a user: printable ASCII, bounded length
        assertTrue(e.getMessage().chars().allMatch(c -> c >= 0x20 && c < 0x7f), e::getMessage);
        assertTrue(e.getMessage().length() < 400, e::getMessage);
        assertEquals(Optional.empty(), ModelName.tryParse(input));
    }

    @Test
    void nullIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> ModelName.parse(null));
    }

    @Test
    void limitsAreInclusive() {
        assertEquals(80, ModelName.parse("m".repeat(80)).model().length());
        assertEquals(80, ModelName.parse("m:" + "t".repeat(80)).tag().length());
        assertEquals(350, ModelName.parse("h".repeat(350) + "/ns/m").host().length());
    }

    @Test
    void matchingIsCaseInsensitive() {
        assertEquals(ModelName.parse("Foo:Bar"), ModelName.parse("foo:bar"));
        assertEquals(ModelName.parse("Foo:Bar").hashCode(), ModelName.parse("foo:BAR").hashCode());
        assertNotEquals(ModelName.parse("foo:bar"), ModelName.parse("foo:baz"));
        assertNotEquals(ModelName.parse("foo"), ModelName.parse("other/foo"));
    }

    @Test
    void constructorValidatesToo() {
        assertThrows(IllegalArgumentException.class, () -> ModelName.of("../x", "latest"));
        assertThrows(IllegalArgumentException.class, () -> new ModelName("h", "ns", "m", null));
        assertEquals("M:V2", ModelName.of("M", "latest").withTag("V2").shortName());
        assertFalse(ModelName.tryParse("ok").isEmpty());
    }
}
