import { describe, expect, it } from 'vitest';

import { readPlainChunkText } from '../../src/llm/plain-chunk.ts';
import { createRandom, randomInt } from '../../src/llm/random.ts';
import { StreamConsumer } from '../../src/llm/stream.ts';

/** Chunks in the layouts that servers send for each generated piece of text. */
const PLAIN: Array<[string, string, string]> = [
  [
    'vLLM chat',
    '{"id":"chatcmpl-9f2","object":"chat.completion.chunk","created":1733300000,"model":"meta-llama/Llama-3.1-8B-Instruct","choices":[{"index":0,"delta":{"content":" hello"},"logprobs":null,"finish_reason":null}]}',
    ' hello',
  ],
  [
    'vLLM completions',
    '{"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":" world","logprobs":null,"finish_reason":null,"stop_reason":null}]}',
    ' world',
  ],
  [
    'SGLang chat',
    '{"id":"a1","object":"chat.completion.chunk","created":1,"model":"default","choices":[{"index":0,"delta":{"role":null,"content":" the","reasoning_content":null,"tool_calls":null},"logprobs":null,"finish_reason":null,"matched_stop":null}],"usage":null}',
    ' the',
  ],
  [
    'OpenAI first chunk',
    '{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]}',
    '',
  ],
  [
    'Python spacing',
    '{"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": null}]}',
    'Hi',
  ],
  [
    'escapes',
    '{"choices":[{"index":0,"delta":{"content":"line\\n\\"quoted\\" \\u00e9 \\ud83d\\ude80 \\\\"}}]}',
    'line\n"quoted" é 🚀 \\',
  ],
  ['raw unicode', '{"choices":[{"index":0,"delta":{"content":"日本語 🚀"}}]}', '日本語 🚀'],
];

/** Chunks that carry more than plain text, or are not valid JSON, so they need the full parse. */
const NOT_PLAIN: Array<[string, string]> = [
  ['finish reason', '{"choices":[{"index":0,"delta":{"content":"."},"finish_reason":"stop"}]}'],
  ['usage', '{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":9,"total_tokens":14}}'],
  ['error object type', '{"object":"error","choices":[{"index":0,"delta":{"content":"a"}}]}'],
  ['error field', '{"error":"overloaded","choices":[{"index":0,"delta":{"content":"a"}}]}'],
  ['reasoning', '{"choices":[{"index":0,"delta":{"content":"","reasoning_content":"hm"}}]}'],
  ['tool calls', '{"choices":[{"index":0,"delta":{"content":"","tool_calls":[]}}]}'],
  ['two choices', '{"choices":[{"index":0,"text":"a"},{"index":1,"text":"b"}]}'],
  ['null content', '{"choices":[{"index":0,"delta":{"content":null}}]}'],
  ['content key twice', '{"choices":[{"index":0,"delta":{"content":"a","content":null}}]}'],
  ['choices key twice', '{"choices":[{"index":0,"text":"a"}],"choices":[]}'],
  ['bad escape', '{"choices":[{"index":0,"delta":{"content":"\\x41"}}]}'],
  ['control character', '{"choices":[{"index":0,"delta":{"content":"a\u0001"}}]}'],
  ['leading zero', '{"created":01,"choices":[{"index":0,"text":"a"}]}'],
  ['unclosed', '{"choices":[{"index":0,"delta":{"content":"a"}}]'],
];

/** Reads one SSE event with `data` through a consumer with or without the plain-chunk path. */
function consume(data: string, plainChunkFastPath: boolean) {
  const consumer = new StreamConsumer({ clockUs: () => 1, plainChunkFastPath });
  consumer.push(Buffer.from(`data: ${data}\n\ndata: [DONE]\n\n`));
  const result = consumer.end();
  return {
    ok: result.ok,
    failure: result.failure?.kind,
    text: result.text,
    textChunks: result.textChunkTimesUs.length,
    usage: result.usage,
    finishReason: result.finishReason,
  };
}

/** Changes one to three characters of `text` at random, toward the characters JSON cares about. */
function mutate(text: string, random: () => number): string {
  const alphabet = [
    '"',
    '\\',
    ',',
    ':',
    '{',
    '}',
    '[',
    ']',
    ' ',
    'n',
    'u',
    '0',
    '1',
    'e',
    '\u0001',
  ];
  let mutated = text;
  for (let edits = 1 + randomInt(random, 3); edits > 0; edits--) {
    const at = randomInt(random, mutated.length);
    const char = alphabet[randomInt(random, alphabet.length)]!;
    const kind = randomInt(random, 3);
    if (kind === 0) mutated = mutated.slice(0, at) + char + mutated.slice(at + 1);
    else if (kind === 1) mutated = mutated.slice(0, at) + char + mutated.slice(at);
    else mutated = mutated.slice(0, at) + mutated.slice(at + 1);
  }
  return mutated;
}

describe('plain chunk fast path', () => {
  it.each(PLAIN)('reads %s', (_name, data, text) => {
    expect(readPlainChunkText(data)).toBe(text);
    expect(consume(data, true)).toEqual(consume(data, false));
  });

  it.each(NOT_PLAIN)('leaves %s to the full parse', (_name, data) => {
    expect(readPlainChunkText(data)).toBeUndefined();
  });

  it('agrees with the full parse on mutated chunks', () => {
    const random = createRandom(20261204);
    const samples = [...PLAIN.map(([, data]) => data), ...NOT_PLAIN.map(([, data]) => data)];
    let fastReads = 0;

    for (let i = 0; i < 20_000; i++) {
      const data = mutate(samples[i % samples.length]!, random);
      if (readPlainChunkText(data) !== undefined) fastReads++;
      expect(consume(data, true), data).toEqual(consume(data, false));
    }

    // Enough mutants still take the fast path for the comparison to mean something.
    expect(fastReads).toBeGreaterThan(500);
  });
});
