package dev.gantry.models.template;

import java.time.LocalDateTime;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * A parsed Jinja chat template (the GGUF's {@code tokenizer.chat_template}), rendered the way Hugging Face's
 * {@code apply_chat_template} renders it: {@code trim_blocks} and {@code lstrip_blocks} on, no autoescaping, and
 * the globals {@code raise_exception}, {@code strftime_now}, {@code namespace} and {@code range}.
 *
 * <p>Context values are plain Java values: {@code null}, {@link Boolean}, {@link Number}, {@link String},
 * {@link List} and {@link Map} (use mutable, insertion-ordered collections if the template may modify them).
 * Parse once, render many times: a template is immutable and thread-safe.
 */
public final class JinjaTemplate {
    private final List<JinjaNode> body;
    private final Supplier<LocalDateTime> clock;

    private JinjaTemplate(List<JinjaNode> body, Supplier<LocalDateTime> clock) {
        this.body = body;
        this.clock = clock;
    }

    /** Parses {@code source}; throws {@link TemplateException} on a syntax error. */
    public static JinjaTemplate parse(String source) {
        return new JinjaTemplate(JinjaParser.parse(source), LocalDateTime::now);
    }

    /** The same template with a fixed clock for {@code strftime_now} (tests compare output). */
    public JinjaTemplate withClock(Supplier<LocalDateTime> clock) {
        return new JinjaTemplate(body, clock);
    }

    /** Renders with the given variables; throws {@link TemplateException} on an error or a raised exception. */
    public String render(Map<String, ?> context) {
        JinjaRenderer.Frame globals = new JinjaRenderer.Frame(null);
        globals.vars.putAll(JinjaBuiltins.globals(clock));
        JinjaRenderer.Frame frame = new JinjaRenderer.Frame(globals);
        frame.vars.putAll(context);
        StringBuilder out = new StringBuilder();
        try {
            new JinjaRenderer().render(body, frame, out);
        } catch (StackOverflowError e) {
            throw new TemplateException("the template recursed too deeply");
        }
        return out.toString();
    }
}
