package dev.gantry.server.api.ollama;

/**
 * What an answer reports of its prompt besides the generation, for OpenAI's {@code echo}: with {@code echo}
 * the prompt is never cut to fit the context (a 400 instead: the answer starts with the prompt as sent), and a
 * prompt of token ids comes back as text ({@code prompt_text}); {@code logprobs}, each prompt token's log
 * probability given the tokens before it ({@code prompt_logprobs}, the first token's null); {@code only},
 * nothing generated (the answer ends at its length once the prompt is decoded, and the prompt may fill the
 * whole context). Those fields are not Ollama's: only OpenAI's completions ask for them, and take them out.
 */
public record PromptReport(boolean echo, boolean logprobs, boolean only) {
    public static final PromptReport NONE = new PromptReport(false, false, false);
}
