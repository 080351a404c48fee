package dev.gantry.runtime.grammar;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Schemas to grammars, checked by which documents the grammar admits (through {@link GbnfMatcher}). */
class JsonGrammarTest {

    /** A schema from alternating keys and values (keeps the order, as parsed JSON does). */
    private static Map<String, Object> obj(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    private static GbnfMatcher grammar(Object schema) {
        return new GbnfMatcher(JsonGrammar.fromSchema(schema));
    }

    private static void admits(GbnfMatcher g, String... docs) {
        for (String d : docs) {
            assertTrue(g.matches(d), "should admit " + d);
        }
    }

    private static void refuses(GbnfMatcher g, String... docs) {
        for (String d : docs) {
            assertFalse(g.matches(d), "should refuse " + d);
        }
    }

    /** Text before a grammar's documents, and documents after their own texts (Command's and Mistral's calls). */
    @Test
    void prefixedAndAlternativeDocuments() {
        GbnfMatcher any = new GbnfMatcher(JsonGrammar.prefixed(JsonGrammar.anyObject(), "<|END_THINKING|>"));
        assertTrue(any.matches("<|END_THINKING|>{\"a\": 1}"));
        assertFalse(any.matches("{\"a\": 1}"));
        GbnfMatcher alt = new GbnfMatcher(JsonGrammar.alternatives(java.util.Map.of(), java.util.List.of("A", "B"),
                java.util.List.of(java.util.Map.of("type", "integer"), java.util.Map.of("type", "string"))));
        assertTrue(alt.matches("A12"));
        assertTrue(alt.matches("B\"x\""));
        assertFalse(alt.matches("A\"x\""));
    }

    @Test
    void anyObjectIsWhatFormatJsonMeans() {
        GbnfMatcher g = new GbnfMatcher(JsonGrammar.anyObject());
        admits(g, "{}", "{\"a\":1}", "{\"a\": [1, 2.5, -3e2, true, null, \"x\\\"y\"], \"b\": {\"c\": {}}}",
                "{\n  \"name\": \"Tom\",\n  \"age\": 3\n}");
        // the document starts at its brace, as with Ollama's grammar: no space or newline before it
        refuses(g, " {}", "\n{}", "[]", "1", "\"s\"", "{\"a\":1} trailing", "{\"a\":}", "{a:1}", "{\"a\":01}", "{\"a\":1,}",
                "{\"a\":\"tab\tinside\"}");
    }

    @Test
    void whitespaceIsBounded() {
        GbnfMatcher g = new GbnfMatcher(JsonGrammar.anyObject());
        admits(g, "{\n" + " ".repeat(JsonGrammar.MAX_INDENT) + "\"a\": 1}", "{\n\t\"a\": 1\n}");
        refuses(g, "{\n" + " ".repeat(JsonGrammar.MAX_INDENT + 1) + "\"a\": 1}", "{\n\n}", "{ \n}");
    }

    @Test
    void requiredAndOptionalPropertiesInOrder() {
        GbnfMatcher g = grammar(obj("type", "object",
                "properties", obj("name", obj("type", "string"), "age", obj("type", "integer"),
                        "pet", obj("type", "boolean")),
                "required", List.of("age")));
        admits(g, "{\"age\":1}", "{\"name\":\"a\",\"age\":1}", "{\"age\":1,\"pet\":true}",
                "{ \"name\" : \"a\" , \"age\" : -2 , \"pet\" : false }");
        refuses(g, "{}", "{\"name\":\"a\"}", "{\"age\":1.5}", "{\"age\":1,\"other\":1}", "{\"pet\":true,\"age\":1}",
                "{\"age\":\"1\"}", "{,\"age\":1}");
    }

    @Test
    void allOptionalPropertiesMayAllBeLeftOut() {
        GbnfMatcher g = grammar(obj("properties", obj("a", obj("type", "null"), "b", obj("type", "number"))));
        admits(g, "{}", "{\"a\":null}", "{\"b\":2}", "{\"a\":null,\"b\":0.5}");
        refuses(g, "{\"b\":2,\"a\":null}", "{\"a\":null,}", "{,}");
    }

    @Test
    void additionalPropertiesWhenAllowed() {
        GbnfMatcher g = grammar(obj("type", "object", "properties", obj("id", obj("type", "integer")),
                "additionalProperties", obj("type", "string")));
        admits(g, "{}", "{\"id\":1}", "{\"id\":1,\"x\":\"y\"}", "{\"x\":\"y\",\"z\":\"w\"}");
        refuses(g, "{\"x\":1}", "{\"id\":1,\"x\":2}");
        GbnfMatcher any = grammar(obj("type", "object", "additionalProperties", true, "required", List.of("k")));
        admits(any, "{\"k\":[1]}", "{\"k\":1,\"j\":{}}");
        refuses(any, "{}");
    }

    @Test
    void aBareObjectTypeIsAnyObject() {
        admits(grammar(obj("type", "object")), "{}", "{\"a\":{\"b\":[]}}");
        admits(grammar(obj("type", "object", "properties", obj())), "{}");
        refuses(grammar(obj("type", "object", "properties", obj())), "{\"a\":1}");
    }

    @Test
    void arraysWithItemBounds() {
        GbnfMatcher g = grammar(obj("type", "array", "items", obj("type", "integer"), "minItems", 1, "maxItems", 3));
        admits(g, "[1]", "[1,2]", "[ 1 , 2 , 3 ]");
        refuses(g, "[]", "[1,2,3,4]", "[\"a\"]", "[1,]");
        admits(grammar(obj("type", "array")), "[]", "[1,\"a\",{}]");
        admits(grammar(obj("type", "array", "maxItems", 0)), "[]", "[ ]");
        refuses(grammar(obj("type", "array", "maxItems", 0)), "[1]");
        GbnfMatcher atLeastTwo = grammar(obj("type", "array", "items", obj("type", "boolean"), "minItems", 2));
        admits(atLeastTwo, "[true,false]", "[true,false,true,true]");
        refuses(atLeastTwo, "[true]");
    }

    @Test
    void enumsAndConsts() {
        GbnfMatcher g = grammar(obj("enum", List.of("red", "green", 3, true, new ArrayList<>(List.of(1)))));
        admits(g, "\"red\"", "\"green\"", "3", "true", "[1]");
        refuses(g, "\"blue\"", "4", "\"red \"");
        admits(grammar(obj("const", "a\"b\\c\nd")), "\"a\\\"b\\\\c\\nd\"");
        admits(grammar(obj("const", obj("k", List.of(1, 2)))), "{\"k\":[1,2]}");
    }

    @Test
    void stringLengths() {
        GbnfMatcher g = grammar(obj("type", "string", "minLength", 2, "maxLength", 4));
        admits(g, "\"ab\"", "\"abcd\"", "\"a\\nb\"", "\"\u00e9t\u00e9\"");
        refuses(g, "\"a\"", "\"abcde\"", "\"\"");
    }

    @Test
    void stringFormats() {
        admits(grammar(obj("type", "string", "format", "date")), "\"2024-02-29\"");
        refuses(grammar(obj("type", "string", "format", "date")), "\"2024-13-01\"", "\"24-01-01\"");
        admits(grammar(obj("type", "string", "format", "date-time")), "\"2024-02-29T12:30:00Z\"",
                "\"2024-02-29T12:30:00.123+02:00\"");
        admits(grammar(obj("type", "string", "format", "uuid")), "\"123e4567-e89b-12d3-a456-426614174000\"");
        admits(grammar(obj("type", "string", "format", "email")), "\"anything\""); // an annotation: ignored
    }

    @Test
    void numbersAndIntegers() {
        GbnfMatcher n = grammar(obj("type", "number"));
        admits(n, "0", "-1", "3.25", "1e5", "-2.5E-3");
        refuses(n, "01", "1.", ".5", "+1", "1e", "NaN");
        GbnfMatcher range = grammar(obj("type", "integer", "minimum", -2, "maximum", 12));
        admits(range, "-2", "0", "7", "12");
        refuses(range, "-3", "13", "1.0");
        GbnfMatcher exclusive = grammar(obj("type", "integer", "exclusiveMinimum", 0, "exclusiveMaximum", 3));
        admits(exclusive, "1", "2");
        refuses(exclusive, "0", "3");
        admits(grammar(obj("type", "integer", "minimum", 0)), "0", "42");
        refuses(grammar(obj("type", "integer", "minimum", 0)), "-1");
        refuses(grammar(obj("type", "integer", "minimum", 1)), "0", "-1");
        admits(grammar(obj("type", "number", "minimum", 0)), "0.5", "7");
        refuses(grammar(obj("type", "number", "minimum", 0)), "-0.5");
    }

    @Test
    void typeListsAndCombinators() {
        GbnfMatcher nullable = grammar(obj("type", List.of("string", "null"), "maxLength", 2));
        admits(nullable, "null", "\"ab\"");
        refuses(nullable, "\"abc\"", "1");
        GbnfMatcher any = grammar(obj("anyOf", List.of(obj("type", "integer"), obj("type", "array",
                "items", obj("type", "string")))));
        admits(any, "1", "[\"x\"]");
        refuses(any, "\"x\"", "[1]");
        admits(grammar(obj("oneOf", List.of(obj("const", "a"), obj("const", "b")))), "\"a\"", "\"b\"");
        admits(grammar(obj("allOf", List.of(obj("type", "boolean")))), "false");
        admits(grammar(obj()), "1", "{}", "\"x\"", "null");
        admits(grammar(true), "[]");
    }

    @Test
    void definitionsAndRecursiveReferences() {
        Map<String, Object> node = obj("type", "object",
                "properties", obj("name", obj("type", "string", "maxLength", 3),
                        "children", obj("type", "array", "items", obj("$ref", "#/$defs/node"), "maxItems", 2)),
                "required", List.of("name"));
        GbnfMatcher g = grammar(obj("$ref", "#/$defs/node", "$defs", obj("node", node)));
        admits(g, "{\"name\":\"a\"}", "{\"name\":\"a\",\"children\":[{\"name\":\"b\",\"children\":[]},{\"name\":\"c\"}]}");
        refuses(g, "{\"name\":\"a\",\"children\":[{}]}", "{\"name\":\"abcd\"}");
        GbnfMatcher old = grammar(obj("type", "object", "properties", obj("p", obj("$ref", "#/definitions/Point")),
                "required", List.of("p"), "definitions", obj("Point", obj("type", "array",
                        "items", obj("type", "integer"), "minItems", 2, "maxItems", 2))));
        admits(old, "{\"p\":[1,2]}");
        refuses(old, "{\"p\":[1]}");
        GbnfMatcher self = grammar(obj("type", "array", "items", obj("$ref", "#"), "maxItems", 1));
        admits(self, "[]", "[[]]", "[[[]]]");
    }

    @Test
    void propertyNamesAreEscaped() {
        GbnfMatcher g = grammar(obj("type", "object", "properties", obj("we\"ird key", obj("type", "integer"),
                "\u00fcber", obj("type", "integer")), "required", List.of("we\"ird key", "\u00fcber")));
        admits(g, "{\"we\\\"ird key\":1,\"\u00fcber\":2}");
    }

    @Test
    void unsupportedKeywordsAreRefusedWithTheirPlace() {
        SchemaException e = assertThrows(SchemaException.class, () -> JsonGrammar.fromSchema(obj("type", "object",
                "properties", obj("code", obj("type", "string", "pattern", "^[A-Z]+$")))));
        assertTrue(e.getMessage().contains("pattern") && e.getMessage().contains("#/properties/code"), e.getMessage());
        for (Map<String, Object> s : List.of(obj("not", obj("type", "null")), obj("type", "integer", "multipleOf", 2),
                obj("type", "array", "uniqueItems", true), obj("allOf", List.of(obj(), obj())),
                obj("type", "number", "maximum", 1), obj("type", "integer", "minimum", 5),
                obj("$ref", "https://example.invalid/schema"), obj("type", "array", "items", List.of(obj())),
                obj("type", "object", "anyOf", List.of(obj())))) {
            assertThrows(SchemaException.class, () -> JsonGrammar.fromSchema(s), s.toString());
        }
    }

    @Test
    void invalidSchemasAreRefused() {
        for (Object s : List.of("string", 3, obj("type", "text"), obj("type", 1), obj("enum", List.of()),
                obj("type", "string", "maxLength", -1), obj("type", "string", "minLength", 3, "maxLength", 2),
                obj("properties", List.of()), obj("required", "a"), obj("$ref", "#/$defs/missing"),
                obj("type", "integer", "minimum", 3, "maximum", 1), false,
                obj("type", "object", "required", List.of("x"), "properties", obj()))) {
            SchemaException e = assertThrows(SchemaException.class, () -> JsonGrammar.fromSchema(s), String.valueOf(s));
            assertFalse(e.getMessage().isBlank());
        }
    }

    @Test
    void theRootRuleComesFirstAndIdenticalRulesAreShared() {
        String g = JsonGrammar.fromSchema(obj("type", "object", "properties", obj(
                "a", obj("type", "string", "maxLength", 5), "b", obj("type", "string", "maxLength", 5)),
                "required", List.of("a", "b")));
        assertTrue(g.startsWith("root ::= "), g);
        assertFalse(g.startsWith("root ::= ws"), "no space before the document: " + g);
        assertEquals(1, g.lines().filter(l -> l.contains("char{0,5}")).count(), g);
    }
}
