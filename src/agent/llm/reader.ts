import { StreamConsumer } from '../../llm/stream.ts';
import { loadTokenizer, type LlmTokenizer } from '../../llm/tokenizer.ts';
import type { LlmConfig, RequestEntry } from '../../protocol/index.ts';
import type { ResponseReader } from '../http/driver.ts';
import type { LlmOutcome, RequestOutcome } from '../outcome.ts';

const nowUs = (): number => performance.now() * 1000;

/**
 * Loads the model's tokenizer and returns a factory of stream readers, one per request. The
 * tokenizer counts output tokens only when the server sends no usage.
 */
export async function llmReaderFactory(
  llm: LlmConfig,
  entries: RequestEntry[],
): Promise<(entryIndex: number) => ResponseReader> {
  const tokenizer = await loadTokenizer({ modelId: llm.modelId, tokenizerPath: llm.tokenizer });
  return (entryIndex) => new LlmStreamReader(tokenizer, entries[entryIndex]?.inputTokens);
}

/** Reads one OpenAI streaming response into the LLM part of the request's outcome. */
export class LlmStreamReader implements ResponseReader {
  #consumer = new StreamConsumer({ clockUs: nowUs });
  #tokenizer: LlmTokenizer;
  #inputTokens: number | undefined;

  constructor(tokenizer: LlmTokenizer, inputTokens: number | undefined) {
    this.#tokenizer = tokenizer;
    this.#inputTokens = inputTokens;
  }

  onData(chunk: Buffer): void {
    this.#consumer.push(chunk);
  }

  end(): Pick<RequestOutcome, 'error' | 'detail' | 'llm'> {
    const result = this.#consumer.end();
    if (!result.ok) return { error: result.failure.kind, detail: result.failure.message };

    const times = result.textChunkTimesUs;
    const interChunkUs: number[] = [];
    for (let i = 1; i < times.length; i++) interChunkUs.push(times[i]! - times[i - 1]!);

    // Counted once on the whole text, never chunk by chunk, so merges across chunks are right.
    const usage = result.usage;
    const llm: LlmOutcome = {
      firstTextMs: result.firstTextUs! / 1000,
      interChunkUs,
      inputTokens: usage?.promptTokens ?? this.#inputTokens ?? 0,
      outputTokens: usage ? usage.completionTokens : this.#tokenizer.countTokens(result.text),
      tokenSource: usage ? 'usage' : 'tokenizer',
    };
    return { llm };
  }
}
