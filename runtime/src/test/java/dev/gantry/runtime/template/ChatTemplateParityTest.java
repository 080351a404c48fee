package dev.gantry.runtime.template;

import dev.gantry.llama.LlamaException;
import dev.gantry.llama.LlamaModelHandle;
import dev.gantry.models.chat.ChatMessage;
import dev.gantry.models.chat.PromptBuilder;
import dev.gantry.runtime.testing.TestModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * For every template of llama.cpp's collection that llama.cpp's built-in renderer also recognises, the Jinja
 * engine and the built-in renderer give the same text for a system+user+assistant+user conversation. The
 * built-in renderers know only role and content, never emit the BOS token (the tokenizer adds it), and some
 * differ on purpose; those are listed in {@link #EXCEPTIONS} with the reason.
 */
class ChatTemplateParityTest {
    /** Templates whose built-in renderer legitimately differs from the Jinja text, and why. */
    static final Map<String, String> EXCEPTIONS = Map.ofEntries(
            Map.entry("Cohere2MoE",
                    "the template adds Cohere's safety preamble and START_TEXT/START_THINKING markers; the built-in renders bare turns"),
            Map.entry("CohereForAI-c4ai-command-r-plus-tool_use",
                    "the tool-use template adds Cohere's preambles and an Action instruction turn"),
            Map.entry("CohereForAI-c4ai-command-r7b-12-2024-tool_use",
                    "the template adds Cohere's system preambles and response/thinking markers"),
            Map.entry("GLM-4.6",
                    "the template writes an empty <think></think> into past assistant turns"),
            Map.entry("GLM-4.7-Flash",
                    "the template has no newline after the role tags (the built-in is GLM-4's) and adds </think>/<think>"),
            Map.entry("HuggingFaceTB-SmolLM3-3B",
                    "the template adds a metadata block (knowledge cutoff, reasoning mode) to the system turn"),
            Map.entry("Kimi-K2-Thinking",
                    "the template writes an empty <think></think> into past assistant turns"),
            Map.entry("Mistral-Small-3.2-24B-Instruct-2506",
                    "the built-in (mistral-v7) puts a space after [SYSTEM_PROMPT] and [INST]; the template does not"),
            Map.entry("mistralai-Ministral-3-14B-Reasoning-2512",
                    "the built-in (mistral-v7) puts a space after [SYSTEM_PROMPT] and [INST]; the template does not"),
            Map.entry("unsloth-mistral-Devstral-Small-2507",
                    "the built-in (mistral-v7) puts a space after [SYSTEM_PROMPT] and [INST]; the template does not"),
            Map.entry("NVIDIA-Nemotron-3-Nano-30B-A3B-BF16",
                    "the template writes an empty <think></think> into past assistant turns"),
            Map.entry("NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use",
                    "the tool-use template always writes its function-calling system prompt"),
            Map.entry("NousResearch-Hermes-3-Llama-3.1-8B-tool_use",
                    "the tool-use template always writes its function-calling system prompt"),
            Map.entry("Qwen-QwQ-32B",
                    "the template opens the generation with <think>; the built-in is plain ChatML"),
            Map.entry("Qwen3.5-4B",
                    "the template opens the generation with <think>; the built-in is plain ChatML"),
            Map.entry("StepFun3.5-Flash",
                    "the template opens the generation with <think>; the built-in is plain ChatML"),
            Map.entry("deepseek-ai-DeepSeek-R1-Distill-Llama-8B",
                    "the built-in puts a blank line after the system prompt; the template does not"),
            Map.entry("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B",
                    "the built-in puts a blank line after the system prompt; the template does not"),
            Map.entry("deepseek-ai-DeepSeek-V3.1",
                    "the built-in puts a blank line after the system prompt; the template adds think tags"),
            Map.entry("deepseek-ai-DeepSeek-V3.2",
                    "the built-in puts a blank line after the system prompt; the template adds think tags"),
            Map.entry("deepseek-ai-DeepSeek-V4",
                    "the built-in puts a blank line after the system prompt; the template adds think tags"),
            Map.entry("deepseek-ai-DeepSeek-V4-Flash-0731",
                    "the built-in puts a blank line after the system prompt; the template adds think tags"),
            Map.entry("llama-cpp-deepseek-r1",
                    "the template closes each user turn with <｜end▁of▁sentence｜>; the built-in does not"),
            Map.entry("fireworks-ai-llama-3-firefunction-v2",
                    "the template adds its function-calling instructions to the system turn"),
            Map.entry("inclusionai-ling-3.0-flash",
                    "the template appends 'detailed thinking on' to the system turn"),
            Map.entry("meetkai-functionary-medium-v3.1",
                    "the template writes its own system turn (knowledge date, tools) before the user's"),
            Map.entry("meetkai-functionary-medium-v3.2",
                    "the template writes its own system turn (function instructions) before the user's"),
            Map.entry("meta-llama-Llama-3.1-8B-Instruct",
                    "the template adds 'Cutting Knowledge Date' and today's date to the system turn"),
            Map.entry("meta-llama-Llama-3.2-3B-Instruct",
                    "the template adds 'Cutting Knowledge Date' and today's date to the system turn"),
            Map.entry("meta-llama-Llama-3.3-70B-Instruct",
                    "the template adds 'Cutting Knowledge Date' and today's date to the system turn"),
            Map.entry("mistralai-Mistral-Nemo-Instruct-2407",
                    "the template puts the system prompt into the last user turn; the built-in into the first"),
            Map.entry("openai-gpt-oss-120b",
                    "the template writes the harmony system header (model identity, dates, channels)"),
            Map.entry("unsloth-Apriel-1.5",
                    "the template writes Apriel's reasoning system prompt before the user's"),
            Map.entry("upstage-Solar-Open-100B",
                    "the template writes its provider system prompt before the user's"));

    @BeforeAll
    static void llama() {
        TestModels.llama();
    }

    @Test
    void jinjaMatchesLlamaCppsBuiltInRenderers() throws IOException {
        Path dir = TestModels.sharedDir().resolve("llama-data/chat-templates");
        assumeTrue(Files.isDirectory(dir), "no chat templates in " + dir);
        List<Path> all;
        try (Stream<Path> files = Files.list(dir)) {
            all = files.filter(p -> p.toString().endsWith(".jinja")).sorted().toList();
        }
        List<LlamaModelHandle.ChatMessage> chat = List.of(
                new LlamaModelHandle.ChatMessage("system", "You are a helpful assistant."),
                new LlamaModelHandle.ChatMessage("user", "Hello, how are you?"),
                new LlamaModelHandle.ChatMessage("assistant", "I am fine, thank you."),
                new LlamaModelHandle.ChatMessage("user", "What is the capital of France?"));
        List<String> compared = new ArrayList<>();
        List<String> mismatches = new ArrayList<>();
        for (Path p : all) {
            String name = p.getFileName().toString().replace(".jinja", "");
            String source = Files.readString(p);
            String expected;
            try {
                expected = LlamaModelHandle.applyChatTemplate(source, chat, true);
            } catch (LlamaException unknown) {
                continue;
            }
            compared.add(name);
            SpecialTokens tokens = SpecialTokens.guess(source);
            List<ChatMessage> messages = chat.stream().map(m -> ChatMessage.of(m.role(), m.content())).toList();
            // No built-in fallback here: what is compared is the Jinja engine's text.
            PromptBuilder.Prompt prompt = new PromptBuilder(new PromptBuilder.Tokens(tokens.bos(), tokens.eos()), null)
                    .build(new PromptBuilder.Request(source, null, null, messages, List.of(), null));
            String actual = prompt.source() == PromptBuilder.Source.JINJA ? prompt.text() : "(Jinja render failed)";
            if (EXCEPTIONS.containsKey(name) && actual.equals(expected)) {
                mismatches.add(name + " is listed as an exception but matches: drop it from the list");
            }
            if (!actual.equals(expected) && !EXCEPTIONS.containsKey(name)) {
                int at = 0;
                while (at < Math.min(actual.length(), expected.length()) && actual.charAt(at) == expected.charAt(at)) {
                    at++;
                }
                mismatches.add(name + " differs at " + at + ": llama.cpp " + excerpt(expected, at) + " jinja "
                        + excerpt(actual, at));
            }
        }
        System.out.println("compared with llama.cpp: " + compared);
        assertTrue(compared.size() >= 10, "llama.cpp recognised only " + compared);
        assertEquals(List.of(), mismatches, String.join("\n", mismatches));
    }

    private static String excerpt(String s, int at) {
        return "[" + s.substring(Math.max(0, at - 30), Math.min(s.length(), at + 50)).replace("\n", "\\n") + "]";
    }

    /** BOS/EOS token text for a template, from the tokens its family is known to use. */
    record SpecialTokens(String bos, String eos) {
        static SpecialTokens guess(String source) {
            if (source.contains("<|start_header_id|>")) {
                return new SpecialTokens("<|begin_of_text|>", "<|eot_id|>");
            }
            if (source.contains("<start_of_turn>")) {
                return new SpecialTokens("<bos>", "<eos>");
            }
            if (source.contains("<|im_start|>")) {
                return new SpecialTokens("", "<|im_end|>");
            }
            if (source.contains("<｜User｜>")) {
                return new SpecialTokens("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>");
            }
            return new SpecialTokens("<s>", "</s>");
        }
    }
}
