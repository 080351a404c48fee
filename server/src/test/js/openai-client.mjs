// The OpenAI JavaScript SDK against a live Gantry's /v1 API. Run by JsClientsTest, which installs the pinned SDK
// next to this file and reads one JSON line per check: {"check": name, ...what the SDK returned}, or
// {"check": name, "error": message, "status": http status} when the call threw. The assertions are in the Java test.
//   GANTRY_URL       the server, e.g. http://127.0.0.1:11434
//   GANTRY_MODEL     the tiny model's name
import OpenAI from 'openai';

const model = process.env.GANTRY_MODEL;
const openai = new OpenAI({ baseURL: `${process.env.GANTRY_URL}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 60000 });
const messages = [{ role: 'system', content: 'You tell short stories.' }, { role: 'user', content: 'Once upon a time there was a little girl named Lily. She loved to play in the park with her dog.' }];
const sampling = { temperature: 0, seed: 7, max_tokens: 8 };

async function check(name, fn) {
  try {
    console.log(JSON.stringify({ check: name, ...(await fn()) }));
  } catch (e) {
    console.log(JSON.stringify({ check: name, error: String(e?.message ?? e), status: e?.status ?? null }));
  }
}

await check('models-list', async () => {
  const ids = [];
  for await (const m of openai.models.list()) ids.push({ id: m.id, object: m.object, owned_by: m.owned_by });
  return { models: ids };
});

await check('models-retrieve', async () => {
  const m = await openai.models.retrieve(model);
  return { id: m.id, object: m.object, created: m.created, owned_by: m.owned_by };
});

await check('chat', async () => {
  const r = await openai.chat.completions.create({ model, messages, ...sampling });
  return { id: r.id, object: r.object, model: r.model, choices: r.choices.length, role: r.choices[0].message.role,
    content: r.choices[0].message.content, finishReason: r.choices[0].finish_reason, usage: r.usage };
});

await check('chat-stream', async () => {
  const stream = await openai.chat.completions.create({ model, messages, ...sampling, stream: true,
    stream_options: { include_usage: true } });
  let content = '';
  let chunks = 0;
  let finishReason = null;
  let usage = null;
  let object = null;
  for await (const chunk of stream) {
    chunks++;
    object = chunk.object;
    if (chunk.choices.length > 0) {
      content += chunk.choices[0].delta?.content ?? '';
      finishReason = chunk.choices[0].finish_reason ?? finishReason;
    }
    if (chunk.usage) usage = chunk.usage;
  }
  return { chunks, object, content, finishReason, usage };
});

await check('chat-stream-helper', async () => {
  const runner = openai.chat.completions.stream({ model, messages, ...sampling });
  const done = await runner.finalChatCompletion();
  return { content: done.choices[0].message.content, finishReason: done.choices[0].finish_reason };
});

await check('completions', async () => {
  const r = await openai.completions.create({ model, prompt: 'Once upon a time', ...sampling });
  return { id: r.id, object: r.object, text: r.choices[0].text, finishReason: r.choices[0].finish_reason,
    usage: r.usage };
});

await check('completions-stream', async () => {
  const stream = await openai.completions.create({ model, prompt: 'Once upon a time', ...sampling, stream: true });
  let text = '';
  let finishReason = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.text ?? '';
    finishReason = chunk.choices[0]?.finish_reason ?? finishReason;
  }
  return { text, finishReason };
});

await check('embeddings', async () => {
  // the SDK asks for base64 unless told otherwise, and decodes it
  const r = await openai.embeddings.create({ model, input: 'The cat sat' });
  const v = r.data[0].embedding;
  return { object: r.object, count: r.data.length, dims: v.length, norm: Math.sqrt(v.reduce((s, x) => s + x * x, 0)),
    usage: r.usage, first: v[0] };
});

await check('embeddings-float', async () => {
  const r = await openai.embeddings.create({ model, input: ['The cat sat', 'Lily had a ball'], encoding_format: 'float' });
  return { count: r.data.length, dims: r.data[0].embedding.length, indexes: r.data.map((d) => d.index),
    first: r.data[0].embedding[0] };
});

await check('not-found', async () => {
  await openai.models.retrieve('no-such-model');
  return {};
});

await check('chat-not-found', async () => {
  await openai.chat.completions.create({ model: 'no-such-model', messages });
  return {};
});
