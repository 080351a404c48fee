package dev.gantry.runtime.grammar;

/**
 * A JSON Schema that is malformed, or that uses a keyword {@link JsonGrammar} cannot enforce. The message names the
 * place in the schema and is meant for the client (the server answers it with a 400).
 */
public final class SchemaException extends IllegalArgumentException {
    public SchemaException(String message) {
        super(message);
    }
}
