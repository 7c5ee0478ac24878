/**
 * The ShareGPT and random datasets, checked against token counts made here with the
 * @huggingface/tokenizers package directly on Llama 3's tokenizer.json, apart from
 * loadmesh's own tokenizer wrapper.
 */
import { readFile } from 'node:fs/promises';

import { Tokenizer } from '@huggingface/tokenizers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { generateRandomPrompts } from '../../src/coordinator/datasets/random.ts';
import { loadTokenizer, type LlmTokenizer } from '../../src/llm/tokenizer.ts';
import { makeScratch, type Scratch } from '../support/cli-process.ts';
import {
  MODEL_ID,
  REPO_ROOT,
  TOKENIZER_DIR,
  TOKENIZER_JSON,
  runLlmTask,
  startMockProcess,
  type LlmRun,
  type MockProcess,
} from './support.ts';

const SHAREGPT_PATH = `${REPO_ROOT}examples/data/sharegpt-fastchat-dummy.json`;

interface Turn {
  from: string;
  value: string;
}

const human = (value: string): Turn => ({ from: 'human', value });
const gpt = (value: string): Turn => ({ from: 'gpt', value });
/** Returns `count` words that Llama 3 encodes as `count` tokens: "hello", then " hello". */
const words = (count: number): string => Array.from({ length: count }, () => 'hello').join(' ');

/**
 * Conversations at and beyond each bound, appended to the sample, whose conversations all
 * pass every bound. Each comment gives the prompt and reply lengths in tokens.
 */
const BOUNDARY_CONVERSATIONS: { conversations?: Turn[] }[] = [
  // 3 and 10: the prompt is one token too short.
  { conversations: [human(words(3)), gpt(words(10))] },
  // 4 and 4: both at the minimum, kept.
  { conversations: [human(words(4)), gpt(words(4))] },
  // 10 and 3: the reply is one token too short.
  { conversations: [human(words(10)), gpt(words(3))] },
  // 1024 and 1024: the prompt and the total at their maximums, kept.
  { conversations: [human(words(1024)), gpt(words(1024))] },
  // 1025 and 10: the prompt is one token too long.
  { conversations: [human(words(1025)), gpt(words(10))] },
  // 1000 and 1049: the total is one token too long.
  { conversations: [human(words(1000)), gpt(words(1049))] },
  // 10 and 10 after a gpt turn: the first human turn is the prompt, kept.
  { conversations: [gpt(words(5)), human(words(10)), gpt(words(10))] },
  // The first human turn is followed by another human turn, so it has no reply.
  { conversations: [human(words(10)), human(words(10)), gpt(words(10))] },
  // No turns at all.
  {},
];

const RANDOM_REQUESTS = 30;
const RANDOM_INPUT_TOKENS = 48;
const RANDOM_PREFIX_TOKENS = 16;

let tokenizer: Tokenizer;
const mocks: MockProcess[] = [];
let scratch: Scratch;
/** The sample's conversations followed by BOUNDARY_CONVERSATIONS, as JSON. */
let shareGptText: string;
let shareGptRun: LlmRun;
let randomRun: LlmRun;

beforeAll(async () => {
  const tokenizerJson = JSON.parse(await readFile(TOKENIZER_JSON, 'utf8')) as object;
  tokenizer = new Tokenizer(tokenizerJson, {});
  scratch = await makeScratch();
  const sample = JSON.parse(await readFile(SHAREGPT_PATH, 'utf8')) as unknown[];
  shareGptText = JSON.stringify([...sample, ...BOUNDARY_CONVERSATIONS]);
  const shareGptPath = await scratch.write('sharegpt.json', shareGptText);

  // The two runs check counts, not timings, so they run at the same time to save wall time.
  [shareGptRun, randomRun] = await Promise.all([runShareGpt(shareGptPath), runRandom()]);
}, 90_000);

afterAll(async () => {
  await Promise.all(mocks.map((mock) => mock.close()));
  await scratch?.remove();
});

async function runShareGpt(path: string): Promise<LlmRun> {
  // No time between tokens: some replies are a thousand tokens long.
  const mock = await startMockProcess({ ttftMs: 0, interTokenLatencyMs: 0 });
  mocks.push(mock);
  // Usage off, so input tokens are loadmesh's own count of each prompt.
  return runLlmTask(mock.url, [
    '--dataset',
    'sharegpt',
    '--dataset-path',
    path,
    '--concurrency',
    '16',
    '--no-usage',
  ]);
}

async function runRandom(): Promise<LlmRun> {
  // The mock counts each prompt it receives with the Llama 3 tokenizer and reports the count
  // as usage, so the records show the length of what was sent.
  const mock = await startMockProcess(
    { ttftMs: 5, interTokenLatencyMs: 1 },
    { countPromptsWithTokenizer: true },
  );
  mocks.push(mock);
  return runLlmTask(mock.url, [
    '--dataset',
    'random',
    '--input-len',
    String(RANDOM_INPUT_TOKENS),
    '--prefix-len',
    String(RANDOM_PREFIX_TOKENS),
    '--range-ratio',
    '0',
    '--output-len',
    '8',
    '--requests',
    String(RANDOM_REQUESTS),
    '--concurrency',
    '10',
    '--save-requests',
  ]);
}

function encode(text: string): number[] {
  return tokenizer.encode(text, { add_special_tokens: false }).ids;
}

interface ShareGptPair {
  promptTokens: number;
  replyTokens: number;
}

/**
 * Returns the token counts of each conversation's first human turn and the gpt turn right
 * after it, for the conversations that have one, in file order.
 */
function shareGptPairs(text: string): ShareGptPair[] {
  const conversations = JSON.parse(text) as { conversations?: Turn[] }[];
  const pairs: ShareGptPair[] = [];
  for (const { conversations: turns = [] } of conversations) {
    const humanIndex = turns.findIndex((turn) => turn.from === 'human');
    const reply = turns[humanIndex + 1];
    if (humanIndex < 0 || reply?.from !== 'gpt') continue;
    pairs.push({
      promptTokens: encode(turns[humanIndex]!.value).length,
      replyTokens: encode(reply.value).length,
    });
  }
  return pairs;
}

describe('ShareGPT dataset', () => {
  let withinBounds: ShareGptPair[];

  beforeAll(() => {
    const pairs = shareGptPairs(shareGptText);
    // vLLM's benchmark bounds: prompt and reply at least 4 tokens, prompt at most 1024,
    // prompt and reply together at most 2048.
    withinBounds = pairs.filter(
      ({ promptTokens, replyTokens }) =>
        promptTokens >= 4 &&
        replyTokens >= 4 &&
        promptTokens <= 1024 &&
        promptTokens + replyTokens <= 2048,
    );
  });

  it('boundary conversations sit at the bounds', () => {
    // The cases only test the bounds if their words are the token counts that they claim.
    for (const count of [3, 4, 1000, 1024, 1025, 1049]) {
      expect(encode(words(count))).toHaveLength(count);
    }
  });

  it('sends the independent count of prompts', () => {
    // Every conversation of the sample is within the bounds, and three boundary cases are.
    expect(withinBounds).toHaveLength(500 + 3);
    expect(shareGptRun.summary.totals.sent).toBe(withinBounds.length);
    expect(shareGptRun.llm.successfulRequests).toBe(withinBounds.length);
    expect(shareGptRun.llm.failedRequests).toBe(0);
  });

  it('input tokens sum the prompt counts', () => {
    const promptTokens = withinBounds.reduce((sum, pair) => sum + pair.promptTokens, 0);

    expect(shareGptRun.llm.inputTokens).toBe(promptTokens);
  });

  it('output tokens sum the reply counts', () => {
    // Each request's max_tokens is its reply's token count, and the mock generates exactly that.
    const replyTokens = withinBounds.reduce((sum, pair) => sum + pair.replyTokens, 0);

    expect(shareGptRun.llm.outputTokens).toBe(replyTokens);
    expect(shareGptRun.llm.outputTokensCountedBy).toEqual({
      usage: 0,
      tokenizer: withinBounds.length,
    });
  });
});

describe('random dataset', () => {
  let llmTokenizer: LlmTokenizer;

  beforeAll(async () => {
    llmTokenizer = await loadTokenizer({ modelId: MODEL_ID, tokenizerPath: TOKENIZER_DIR });
  });

  it('prompts have the exact input length', () => {
    for (const inputLength of [1, 7, 64, 500]) {
      const samples = generateRandomPrompts(llmTokenizer, {
        count: 10,
        inputLength,
        outputLength: 16,
        rangeRatio: 0,
        prefixLength: 0,
        seed: inputLength,
      });

      expect(samples).toHaveLength(10);
      for (const sample of samples) {
        expect(encode(sample.prompt!)).toHaveLength(inputLength);
        expect(sample.inputTokens).toBe(inputLength);
        expect(sample.outputTokens).toBe(16);
      }
    }
  });

  it('prompts share the exact prefix', () => {
    const prefixLength = 24;
    const inputLength = 80;
    const samples = generateRandomPrompts(llmTokenizer, {
      count: 10,
      inputLength,
      outputLength: 16,
      rangeRatio: 0,
      prefixLength,
      seed: 11,
    });

    const prefixIds = encode(samples[0]!.prompt!).slice(0, prefixLength);
    for (const sample of samples) {
      const ids = encode(sample.prompt!);
      expect(ids).toHaveLength(inputLength);
      expect(ids.slice(0, prefixLength)).toEqual(prefixIds);
    }
    // Only the prefix is shared: the rest of each prompt is drawn apart.
    const bodies = new Set(
      samples.map((sample) => encode(sample.prompt!).slice(prefixLength).join()),
    );
    expect(bodies.size).toBe(samples.length);
  });

  it('sent prompts have the exact length', () => {
    expect(randomRun.llm.successfulRequests).toBe(RANDOM_REQUESTS);
    expect(randomRun.llm.inputTokens).toBe(RANDOM_REQUESTS * RANDOM_INPUT_TOKENS);
    expect(randomRun.records).toHaveLength(RANDOM_REQUESTS);
    for (const record of randomRun.records) {
      expect(record.tokenSource).toBe('usage');
      expect(record.inputTokens).toBe(RANDOM_INPUT_TOKENS);
    }
  });
});
