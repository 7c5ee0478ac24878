import type { LlmTokenizer } from '../../llm/tokenizer.ts';
import { DatasetError, type PromptSample } from './prompt.ts';

/**
 * Reads a JSONL dataset. A line is either a whole request body, which must carry
 * "stream": true, or an object with "prompt" (text) or "messages" (chat), and optionally
 * "max_tokens". Blank lines are skipped; a bad line is reported with its number.
 */
export function readCustomJsonl(
  text: string,
  source: string,
  tokenizer: LlmTokenizer,
): PromptSample[] {
  const samples: PromptSample[] = [];
  const lines = text.split(/\r?\n/);

  lines.forEach((line, index) => {
    if (line.trim() === '') return;
    const where = `${source} line ${index + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new DatasetError(
        `${where} is not valid JSON: ${(error as Error).message}. Fix: write one JSON object per line`,
        { cause: error },
      );
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new DatasetError(
        `${where} is not a JSON object. Fix: write {"prompt": "..."} or a whole request body`,
      );
    }
    samples.push(toSample(value as Record<string, unknown>, where, tokenizer));
  });

  if (samples.length === 0)
    throw new DatasetError(`${source} has no requests. Fix: write one JSON object per line`);
  return samples;
}

function toSample(
  line: Record<string, unknown>,
  where: string,
  tokenizer: LlmTokenizer,
): PromptSample {
  const maxTokens = line.max_tokens ?? line.max_completion_tokens;
  if (maxTokens !== undefined && (!Number.isInteger(maxTokens) || (maxTokens as number) < 1)) {
    throw new DatasetError(
      `${where}: max_tokens ${JSON.stringify(maxTokens)} is not a positive integer. Fix: give the output length in tokens`,
    );
  }
  const outputTokens = maxTokens as number | undefined;

  if ('stream' in line) {
    if (line.stream !== true) {
      throw new DatasetError(
        `${where}: "stream" is ${JSON.stringify(line.stream)}, but token metrics need a streamed response. Fix: set "stream": true`,
      );
    }
    const text = promptText(line, where);
    return { body: line, inputTokens: tokenizer.countTokens(text), outputTokens };
  }

  if (typeof line.prompt === 'string')
    return { prompt: line.prompt, inputTokens: tokenizer.countTokens(line.prompt), outputTokens };
  if (Array.isArray(line.messages)) {
    return {
      messages: line.messages,
      inputTokens: tokenizer.countTokens(promptText(line, where)),
      outputTokens,
    };
  }
  throw new DatasetError(
    `${where} has neither "prompt", "messages" nor "stream". Fix: write {"prompt": "..."}, {"messages": [...]} or a whole request body with "stream": true`,
  );
}

/** Returns the text a request sends as its prompt: `prompt`, or the contents of `messages`. */
function promptText(line: Record<string, unknown>, where: string): string {
  if (typeof line.prompt === 'string') return line.prompt;
  if (!Array.isArray(line.messages)) {
    throw new DatasetError(
      `${where} has no "prompt" text or "messages" list. Fix: add one of them`,
    );
  }
  return line.messages
    .map((message) => {
      const content = (message as { content?: unknown })?.content;
      if (typeof content === 'string') return content;
      if (Array.isArray(content))
        return content
          .map((part) => (part as { text?: unknown })?.text)
          .filter((t) => typeof t === 'string')
          .join('\n');
      return '';
    })
    .join('\n');
}
