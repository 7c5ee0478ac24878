import type { LlmTokenizer } from '../../llm/tokenizer.ts';
import { SeededRandom } from '../../protocol/index.ts';
import { DatasetError, type PromptSample } from './prompt.ts';

export interface ShareGptBounds {
  /** Prompts and replies shorter than this, in tokens, are skipped. */
  minSequenceTokens: number;
  maxPromptTokens: number;
  /** Prompt plus reply longer than this, in tokens, is skipped. */
  maxTotalTokens: number;
}

interface Turn {
  from?: unknown;
  value?: unknown;
}

/**
 * Samples prompts from a ShareGPT conversation file: the first human turn is the prompt and the
 * reply's token count is max_tokens. Pairs outside the bounds are skipped, as vLLM's benchmark
 * does (4, 1024 and 2048 tokens by default). Conversations are shuffled with the seed and
 * tokenized only until `count` prompts are found, so a large file is not tokenized whole.
 */
export function sampleShareGpt(
  text: string,
  source: string,
  tokenizer: LlmTokenizer,
  bounds: ShareGptBounds,
  options: { count?: number; seed: number },
): PromptSample[] {
  const pairs = extractPairs(parseConversations(text, source));
  if (pairs.length === 0) {
    throw new DatasetError(
      `${source} has no conversation with a human turn followed by a gpt turn. Fix: give a ShareGPT file ({"conversations": [{"from": "human", "value": ...}, {"from": "gpt", ...}]})`,
    );
  }
  shuffle(pairs, options.seed);

  const samples: PromptSample[] = [];
  for (const [prompt, reply] of pairs) {
    if (options.count !== undefined && samples.length >= options.count) break;
    const inputTokens = tokenizer.countTokens(prompt);
    const outputTokens = tokenizer.countTokens(reply);
    if (!withinBounds(inputTokens, outputTokens, bounds)) continue;
    samples.push({ prompt, inputTokens, outputTokens });
  }

  if (samples.length === 0) {
    throw new DatasetError(
      `${source}: none of ${pairs.length} conversations is within the bounds (prompt and reply at least ${bounds.minSequenceTokens} tokens, prompt at most ${bounds.maxPromptTokens}, both at most ${bounds.maxTotalTokens}). Fix: widen llm.minSequenceTokens, llm.maxPromptTokens or llm.maxTotalTokens`,
    );
  }
  return samples;
}

export function withinBounds(
  inputTokens: number,
  outputTokens: number,
  bounds: ShareGptBounds,
): boolean {
  if (inputTokens < bounds.minSequenceTokens || outputTokens < bounds.minSequenceTokens)
    return false;
  if (inputTokens > bounds.maxPromptTokens) return false;
  return inputTokens + outputTokens <= bounds.maxTotalTokens;
}

function parseConversations(text: string, source: string): unknown[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new DatasetError(
      `${source} is not valid JSON: ${(error as Error).message}. Fix: give a ShareGPT JSON file (a list of conversations); for JSONL use llm.dataset custom`,
      { cause: error },
    );
  }
  if (!Array.isArray(data)) {
    throw new DatasetError(
      `${source} is not a JSON list of conversations. Fix: give a ShareGPT JSON file, a list of {"conversations": [...]}`,
    );
  }
  return data;
}

/** Returns [prompt, reply] for each conversation whose first human turn has a gpt reply. */
function extractPairs(conversations: unknown[]): [string, string][] {
  const pairs: [string, string][] = [];
  for (const item of conversations) {
    const turns = (item as { conversations?: unknown })?.conversations;
    if (!Array.isArray(turns)) continue;

    const index = turns.findIndex((turn: Turn) => turn?.from === 'human');
    const prompt = (turns[index] as Turn | undefined)?.value;
    const next = turns[index + 1] as Turn | undefined;
    if (index < 0 || next?.from !== 'gpt') continue;
    if (typeof prompt !== 'string' || typeof next.value !== 'string') continue;
    pairs.push([prompt, next.value]);
  }
  return pairs;
}

/** Fisher-Yates shuffle with a seeded generator, so a seed picks the same prompts every run. */
function shuffle<T>(items: T[], seed: number): void {
  const random = new SeededRandom(seed);
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random.next() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
}
