import { StreamConsumer } from '../../llm/stream.ts';
import type { RequestEntry } from '../../protocol/index.ts';
import type { ResponseReader } from '../http/driver.ts';
import type { LlmOutcome, RequestOutcome } from '../outcome.ts';

const nowUs = (): number => performance.now() * 1000;

/** Returns a factory of stream readers, one per request. */
export function llmReaderFactory(entries: RequestEntry[]): (entryIndex: number) => ResponseReader {
  return (entryIndex) => new LlmStreamReader(entries[entryIndex]?.inputTokens);
}

/**
 * Reads one OpenAI streaming response into the LLM part of the request's outcome. Without usage
 * from the server, the outcome carries the generated text for counting off the timing path.
 */
export class LlmStreamReader implements ResponseReader {
  #consumer = new StreamConsumer({ clockUs: nowUs });
  #inputTokens: number | undefined;

  constructor(inputTokens: number | undefined) {
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

    const usage = result.usage;
    const llm: LlmOutcome = {
      firstTextMs: result.firstTextUs! / 1000,
      interChunkUs,
      inputTokens: usage?.promptTokens ?? this.#inputTokens ?? 0,
      outputTokens: usage?.completionTokens ?? 0,
      tokenSource: usage ? 'usage' : 'tokenizer',
      // Counted once on the whole text, never chunk by chunk, so merges across chunks are right.
      ...(usage ? {} : { uncountedText: result.text }),
    };
    return { llm };
  }
}
