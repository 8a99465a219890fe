// Streams each request given on stdin through the official `openai` package's stream helper
// and prints, per request, the helper's finalChatCompletion() beside what the raw chunk deltas
// rebuild (text concatenated, tool-call fragments joined by index), as a user of either would.
// Input:  {"baseURL": "...", "apiKey": "...", "requests": [<chat.completions body>, ...]}
// Output: [{"final": <ChatCompletion>, "deltas": {"content": str, "toolCalls": [...]}, "chunks": n}, ...]
import OpenAI from 'openai';

async function readStdin() {
  let text = '';
  for await (const piece of process.stdin) text += piece;
  return JSON.parse(text);
}

async function streamOne(client, body) {
  const stream = client.chat.completions.stream(body);
  let content = '';
  const toolCalls = [];
  let chunks = 0;
  for await (const chunk of stream) {
    chunks += 1;
    for (const choice of chunk.choices) {
      if (choice.index !== 0) continue;
      content += choice.delta.content ?? '';
      for (const fragment of choice.delta.tool_calls ?? []) {
        // Only the opening fragment names the call; later ones add argument text.
        const call = (toolCalls[fragment.index] ??= { id: null, name: null, arguments: '' });
        call.id = fragment.id ?? call.id;
        call.name = fragment.function?.name ?? call.name;
        call.arguments += fragment.function?.arguments ?? '';
      }
    }
  }
  return { final: await stream.finalChatCompletion(), deltas: { content, toolCalls }, chunks };
}

const input = await readStdin();
const client = new OpenAI({ baseURL: input.baseURL, apiKey: input.apiKey, maxRetries: 0 });
const results = [];
for (const body of input.requests) results.push(await streamOne(client, body));
process.stdout.write(JSON.stringify(results));
