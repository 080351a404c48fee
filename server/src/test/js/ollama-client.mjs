// Ollama's own JavaScript client against a live Gantry. Run by JsClientsTest, which installs the pinned client
// next to this file and reads one JSON line per check: {"check": name, ...what the client returned}, or
// {"check": name, "error": message} when the call threw. The assertions are in the Java test.
//   GANTRY_URL       the server, e.g. http://127.0.0.1:11434
//   GANTRY_MODEL     the tiny model's name
//   GANTRY_PULL      a model name on the test's registry (plain HTTP)
import { Ollama } from 'ollama';

const url = process.env.GANTRY_URL;
const model = process.env.GANTRY_MODEL;
const ollama = new Ollama({ host: url });
const options = { temperature: 0, seed: 7, num_predict: 8 };

async function check(name, fn) {
  try {
    console.log(JSON.stringify({ check: name, ...(await fn()) }));
  } catch (e) {
    console.log(JSON.stringify({ check: name, error: String(e?.message ?? e), status: e?.status_code ?? null }));
  }
}

async function collect(stream) {
  const parts = [];
  for await (const part of stream) parts.push(part);
  return parts;
}

await check('version', async () => ({ version: (await ollama.version()).version }));

await check('list', async () => {
  const r = await ollama.list();
  const tiny = r.models.find((m) => m.name === `${model}:latest`);
  return { names: r.models.map((m) => m.name), family: tiny?.details?.family, size: tiny?.size,
    digest: tiny?.digest, modified: String(tiny?.modified_at) };
});

await check('show', async () => {
  const r = await ollama.show({ model });
  return { capabilities: r.capabilities, family: r.details?.family, format: r.details?.format,
    embeddingLength: r.model_info?.['llama.embedding_length'], modelfile: r.modelfile?.length ?? 0,
    tokens: r.model_info?.['tokenizer.ggml.tokens'] };
});

await check('show-verbose', async () => {
  const r = await ollama.show({ model, verbose: true });
  const tokens = r.model_info?.['tokenizer.ggml.tokens'];
  return { tokens: tokens?.length, first: tokens?.[0] };
});

await check('generate', async () => {
  const r = await ollama.generate({ model, prompt: 'Once upon a time', options });
  return { response: r.response, done: r.done, doneReason: r.done_reason, evalCount: r.eval_count,
    promptEvalCount: r.prompt_eval_count, totalDuration: r.total_duration };
});

await check('generate-stream', async () => {
  const parts = await collect(await ollama.generate({ model, prompt: 'Once upon a time', options, stream: true }));
  const last = parts.at(-1);
  return { parts: parts.length, response: parts.map((p) => p.response).join(''), done: last.done,
    doneReason: last.done_reason, evalCount: last.eval_count };
});

const messages = [{ role: 'system', content: 'You tell short stories.' }, { role: 'user', content: 'Once upon a time' }];

await check('chat', async () => {
  const r = await ollama.chat({ model, messages, options });
  return { role: r.message.role, content: r.message.content, done: r.done, doneReason: r.done_reason,
    evalCount: r.eval_count, promptEvalCount: r.prompt_eval_count };
});

await check('chat-stream', async () => {
  const parts = await collect(await ollama.chat({ model, messages, options, stream: true }));
  const last = parts.at(-1);
  return { parts: parts.length, content: parts.map((p) => p.message.content).join(''), done: last.done,
    doneReason: last.done_reason, evalCount: last.eval_count };
});

await check('embed', async () => {
  const r = await ollama.embed({ model, input: ['The cat sat', 'Lily had a ball'] });
  const norm = Math.sqrt(r.embeddings[0].reduce((s, x) => s + x * x, 0));
  return { count: r.embeddings.length, dims: r.embeddings[0].length, norm, promptEvalCount: r.prompt_eval_count };
});

await check('embeddings', async () => ({ dims: (await ollama.embeddings({ model, prompt: 'The cat sat' })).embedding.length }));

await check('ps', async () => {
  const r = await ollama.ps();
  const tiny = r.models.find((m) => m.name === `${model}:latest`);
  return { names: r.models.map((m) => m.name), contextLength: tiny?.context_length, expires: String(tiny?.expires_at) };
});

await check('pull', async () => {
  const parts = await collect(await ollama.pull({ model: process.env.GANTRY_PULL, insecure: true, stream: true }));
  const r = await ollama.generate({ model: process.env.GANTRY_PULL, prompt: 'Once', options });
  return { statuses: [...new Set(parts.map((p) => p.status))], last: parts.at(-1).status,
    completed: Math.max(...parts.map((p) => p.completed ?? 0)), generated: r.response };
});

await check('pull-not-streamed', async () => ({
  status: (await ollama.pull({ model: process.env.GANTRY_PULL, insecure: true })).status }));

await check('create', async () => {
  const parts = await collect(await ollama.create({ model: 'js-teller', from: model, system: 'You tell stories.',
    parameters: { temperature: 0, num_predict: 5 }, stream: true }));
  const show = await ollama.show({ model: 'js-teller' });
  const r = await ollama.generate({ model: 'js-teller', prompt: 'Once' });
  return { statuses: parts.map((p) => p.status), system: show.system, parameters: show.parameters,
    evalCount: r.eval_count };
});

await check('copy', async () => {
  const r = await ollama.copy({ source: 'js-teller', destination: 'js-teller-copy:v1' });
  const names = (await ollama.list()).models.map((m) => m.name);
  return { status: r.status, names };
});

await check('delete', async () => {
  await ollama.delete({ model: 'js-teller' });
  await ollama.delete({ model: 'js-teller-copy:v1' });
  return { names: (await ollama.list()).models.map((m) => m.name) };
});

await check('not-found', async () => {
  await ollama.show({ model: 'no-such-model' });
  return {};
});

await check('abort', async () => {
  const stream = await ollama.generate({ model, prompt: 'Once upon a time', stream: true,
    options: { num_predict: -1, ignore_eos: true } }); // to the context's end: it is still running at the abort
  let seen = 0;
  try {
    for await (const part of stream) {
      if (++seen === 2) stream.abort();
    }
  } catch (e) {
    if (e.name !== 'AbortError') throw e;
  }
  const after = await ollama.generate({ model, prompt: 'Once', options });
  return { seen, after: after.response, afterDone: after.done };
});
