/** One LLM request before it becomes a body: the prompt, its length and the output to ask for. */
export interface PromptSample {
  /** Plain prompt text; chat requests send it as one user message. */
  prompt?: string;
  /** Chat messages as given by a custom dataset line. */
  messages?: unknown[];
  /** A whole request body from a custom dataset, sent as it is. */
  body?: Record<string, unknown>;
  inputTokens: number;
  /** max_tokens of the request; undefined leaves the server's default. */
  outputTokens?: number;
}

/** A dataset that cannot be read or yields no usable prompt: names the source, the line and the fix. */
export class DatasetError extends Error {
  override readonly name = 'DatasetError';
  readonly code = 'ERR_INVALID_DATASET';
}
