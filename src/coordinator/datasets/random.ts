import { createRandom, deriveSeed } from '../../llm/random.ts';
import type { LlmTokenizer } from '../../llm/tokenizer.ts';
import { DatasetError, type PromptSample } from './prompt.ts';

export interface RandomDatasetOptions {
  count: number;
  /** Prompt length in tokens, the shared prefix included. */
  inputLength: number;
  outputLength: number;
  /** Lengths are drawn uniformly from length * (1 - ratio) to length * (1 + ratio). */
  rangeRatio: number;
  /** Tokens at the start of every prompt that are the same for all, to exercise prefix caching. */
  prefixLength: number;
  seed: number;
}

const MAX_FIT_ATTEMPTS = 8;

/** Builds prompts of exact token counts from the tokenizer's vocabulary, the same for a seed. */
export function generateRandomPrompts(
  tokenizer: LlmTokenizer,
  options: RandomDatasetOptions,
): PromptSample[] {
  const prefix =
    options.prefixLength > 0
      ? tokenizer.buildExactLengthPrompt(options.prefixLength, createRandom(options.seed))
      : '';
  const samples: PromptSample[] = [];

  for (let i = 0; i < options.count; i++) {
    const random = createRandom(deriveSeed(options.seed, i + 1));
    const inputTokens = Math.max(
      options.prefixLength + 1,
      drawLength(options.inputLength, options.rangeRatio, random),
    );
    const outputTokens = Math.max(1, drawLength(options.outputLength, options.rangeRatio, random));
    samples.push({
      prompt: fitPrompt(tokenizer, prefix, inputTokens, options.prefixLength, random),
      inputTokens,
      outputTokens,
    });
  }
  return samples;
}

function drawLength(length: number, ratio: number, random: () => number): number {
  const low = Math.floor(length * (1 - ratio));
  const high = Math.ceil(length * (1 + ratio));
  return low + Math.floor(random() * (high - low + 1));
}

/** Joins the prefix and a body so that the whole prompt encodes to exactly `total` tokens. */
function fitPrompt(
  tokenizer: LlmTokenizer,
  prefix: string,
  total: number,
  prefixTokens: number,
  random: () => number,
): string {
  if (prefix === '') return tokenizer.buildExactLengthPrompt(total, random);

  let bodyTokens = total - prefixTokens;
  for (let attempt = 0; attempt < MAX_FIT_ATTEMPTS && bodyTokens > 0; attempt++) {
    const prompt = `${prefix} ${tokenizer.buildExactLengthPrompt(bodyTokens, random)}`;
    const count = tokenizer.countTokens(prompt);
    if (count === total) return prompt;
    bodyTokens += total - count;
  }
  throw new DatasetError(
    `cannot build a random prompt of exactly ${total} tokens with a ${prefixTokens}-token shared prefix for ${tokenizer.modelId}. Fix: try another llm.prefixLength or llm.inputLength`,
  );
}
