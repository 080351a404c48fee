package dev.gantry.models.template;

/**
 * Jinja's undefined value: what a missing variable, key or attribute evaluates to. It renders as nothing, is
 * false, iterates as empty and stays undefined through further attribute access, so templates that probe optional
 * fields ({@code message.tool_calls is defined}) work; {@code name} says what was missing, for error messages.
 */
record Undefined(String name) {
    static final Undefined ANY = new Undefined("value");
}
