/** Options of the mock OpenAI-compatible server, their defaults and their validation. */

export interface MockLlmOptions {
  /** Address to listen on; default 127.0.0.1. */
  host?: string;
  /** Port to listen on; default 0, a free port chosen by the system. */
  port?: number;
  /** Model name served and checked against each request's `model`; default `mock-llm`. */
  model?: string;
  /** Time from the request's arrival to the first generated token, in ms; default 50. */
  ttftMs?: number;
  /** Time between consecutive generated tokens, in ms; default 10. */
  interTokenLatencyMs?: number;
  /** Each chunk's send time moves by a seeded uniform amount in [-jitterMs, +jitterMs]; default 0. */
  jitterMs?: number;
  /** Seed (0..2^32-1) of error injection and jitter; default 0. */
  seed?: number;
  /** Generated tokens per SSE chunk; default 1. */
  tokensPerChunk?: number;
  /** Output length when a request has no max_tokens, where the mock "emits EOS"; default 128. */
  defaultOutputTokens?: number;
  /** Context length: prompt plus output tokens may not exceed it; default 8192. */
  maxModelLen?: number;
  /** Whether responses carry usage (streams only when stream_options.include_usage); default true. */
  usage?: boolean;
  /** Fraction (0..1) of generation requests that get an HTTP 500 response; default 0. */
  errorRate?: number;
  /** Fraction (0..1) of streams that send an error object halfway through; default 0. */
  midStreamErrorRate?: number;
  /** Whether to reject requests with stream_options with HTTP 400, as some servers do; default false. */
  rejectStreamOptions?: boolean;
  /** Counts prompt tokens; default: whitespace-separated words of the prompt text. */
  countPromptTokens?: (text: string) => number;
  /** Largest request body accepted, in bytes; default 16 MiB. */
  maxBodyBytes?: number;
}

export type ResolvedMockLlmOptions = Required<MockLlmOptions>;

/** The options were invalid; `problems` lists every invalid option with its value. */
export class MockLlmOptionsError extends Error {
  readonly code = 'ERR_MOCK_LLM_OPTIONS';

  constructor(readonly problems: string[]) {
    super(`invalid mock LLM options:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'MockLlmOptionsError';
  }
}

/** Counts whitespace-separated words: the mock's default prompt token count. */
export function countWords(text: string): number {
  let count = 0;
  let inWord = false;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    const isSpace = code === 0x20 || (code >= 0x09 && code <= 0x0d) || code === 0xa0;
    if (!isSpace && !inWord) count++;
    inWord = !isSpace;
  }
  return count;
}

/** Fills in defaults and throws MockLlmOptionsError listing every invalid option. */
export function resolveMockLlmOptions(options: MockLlmOptions): ResolvedMockLlmOptions {
  const resolved: ResolvedMockLlmOptions = {
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 0,
    model: options.model ?? 'mock-llm',
    ttftMs: options.ttftMs ?? 50,
    interTokenLatencyMs: options.interTokenLatencyMs ?? 10,
    jitterMs: options.jitterMs ?? 0,
    seed: options.seed ?? 0,
    tokensPerChunk: options.tokensPerChunk ?? 1,
    defaultOutputTokens: options.defaultOutputTokens ?? 128,
    maxModelLen: options.maxModelLen ?? 8192,
    usage: options.usage ?? true,
    errorRate: options.errorRate ?? 0,
    midStreamErrorRate: options.midStreamErrorRate ?? 0,
    rejectStreamOptions: options.rejectStreamOptions ?? false,
    countPromptTokens: options.countPromptTokens ?? countWords,
    maxBodyBytes: options.maxBodyBytes ?? 16 * 1024 * 1024,
  };

  const problems: string[] = [];
  const checkInteger = (name: keyof ResolvedMockLlmOptions, min: number, max: number): void => {
    const value = resolved[name];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name} is ${String(value)}: expected an integer from ${min} to ${max}`);
    }
  };
  const checkNumber = (name: keyof ResolvedMockLlmOptions, min: number, max: number): void => {
    const value = resolved[name];
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
      problems.push(`${name} is ${String(value)}: expected a number from ${min} to ${max}`);
    }
  };

  if (resolved.host === '') problems.push('host is empty: expected an address such as 127.0.0.1');
  if (resolved.model === '') problems.push('model is empty: expected the model name to serve');
  checkInteger('port', 0, 65_535);
  checkNumber('ttftMs', 0, 3_600_000);
  checkNumber('interTokenLatencyMs', 0, 3_600_000);
  checkNumber('jitterMs', 0, 3_600_000);
  checkInteger('seed', 0, 0xffff_ffff);
  checkInteger('tokensPerChunk', 1, 1_000_000);
  checkInteger('defaultOutputTokens', 1, 10_000_000);
  checkInteger('maxModelLen', 2, 10_000_000);
  checkNumber('errorRate', 0, 1);
  checkNumber('midStreamErrorRate', 0, 1);
  checkInteger('maxBodyBytes', 1, 1024 * 1024 * 1024);

  if (problems.length > 0) throw new MockLlmOptionsError(problems);
  return resolved;
}
