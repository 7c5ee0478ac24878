/**
 * Validation of chat and completions requests, and the output length the mock generates,
 * following vLLM's OpenAI server: max_tokens, ignore_eos, the context length limit and
 * stream_options only with stream.
 */
import type { ResolvedMockLlmOptions } from './options.ts';

export type Endpoint = 'chat' | 'completions';

export type FinishReason = 'stop' | 'length';

export interface GenerationRequest {
  endpoint: Endpoint;
  stream: boolean;
  /** Whether the request had a stream_options object at all. */
  hasStreamOptions: boolean;
  /** stream_options.include_usage: the client asks for a final usage chunk. */
  includeUsage: boolean;
  promptTokens: number;
  outputTokens: number;
  finishReason: FinishReason;
}

/** An OpenAI-style error response for a request the mock does not serve. */
export interface RequestRejection {
  status: number;
  type: string;
  message: string;
  param: string | null;
}

export type ParsedRequest =
  { ok: true; request: GenerationRequest } | { ok: false; rejection: RequestRejection };

/**
 * Checks a request body and works out how many tokens to generate. With max_tokens, that many
 * (finish_reason `length`). Without it, `defaultOutputTokens` as if the model emitted EOS
 * (`stop`), or with ignore_eos the rest of the context (`length`).
 */
export function parseGenerationRequest(
  endpoint: Endpoint,
  body: unknown,
  options: ResolvedMockLlmOptions,
): ParsedRequest {
  if (!isRecord(body)) return badRequest('request body must be a JSON object', null);

  const model = body['model'];
  if (model !== undefined && typeof model !== 'string')
    return badRequest('model must be a string', 'model');
  if (model !== undefined && model !== options.model) {
    return reject(404, 'NotFoundError', `The model \`${model}\` does not exist.`, 'model');
  }

  const prompt =
    endpoint === 'chat'
      ? readChatPrompt(body['messages'], options)
      : readCompletionPrompt(body['prompt'], options);
  if (typeof prompt === 'string')
    return badRequest(prompt, endpoint === 'chat' ? 'messages' : 'prompt');
  const promptTokens = prompt.tokenCount;

  const stream = body['stream'] ?? false;
  if (typeof stream !== 'boolean') return badRequest('stream must be a boolean', 'stream');

  const streamOptions = body['stream_options'] ?? undefined;
  if (streamOptions !== undefined && !isRecord(streamOptions)) {
    return badRequest('stream_options must be an object', 'stream_options');
  }
  if (streamOptions !== undefined && !stream) {
    return badRequest('Stream options can only be defined when `stream=True`.', 'stream_options');
  }
  const includeUsage = streamOptions?.['include_usage'] ?? false;
  if (typeof includeUsage !== 'boolean') {
    return badRequest('stream_options.include_usage must be a boolean', 'stream_options');
  }

  const choiceCount = body['n'] ?? 1;
  if (choiceCount !== 1)
    return badRequest(`n is ${JSON.stringify(choiceCount)}: the mock generates one choice`, 'n');

  const ignoreEos = body['ignore_eos'] ?? false;
  if (typeof ignoreEos !== 'boolean')
    return badRequest('ignore_eos must be a boolean', 'ignore_eos');

  // Chat requests may use the newer max_completion_tokens, which wins over max_tokens.
  const maxTokensParam =
    endpoint === 'chat' && body['max_completion_tokens'] != null
      ? 'max_completion_tokens'
      : 'max_tokens';
  const maxTokens = body[maxTokensParam] ?? undefined;
  if (
    maxTokens !== undefined &&
    (typeof maxTokens !== 'number' || !Number.isInteger(maxTokens) || maxTokens < 1)
  ) {
    return badRequest(
      `${maxTokensParam} must be at least 1, got ${JSON.stringify(maxTokens)}.`,
      maxTokensParam,
    );
  }

  const roomTokens = options.maxModelLen - promptTokens;
  if (maxTokens !== undefined ? maxTokens > roomTokens : roomTokens < 1) {
    const requested = promptTokens + (maxTokens ?? 1);
    return badRequest(
      `This model's maximum context length is ${options.maxModelLen} tokens. However, you requested ` +
        `${requested} tokens (${promptTokens} in the messages, ${maxTokens ?? 1} in the completion). ` +
        'Please reduce the length of the messages or completion.',
      maxTokensParam,
    );
  }

  let outputTokens: number;
  let finishReason: FinishReason;
  if (maxTokens !== undefined) {
    outputTokens = maxTokens;
    finishReason = 'length';
  } else if (ignoreEos) {
    outputTokens = roomTokens;
    finishReason = 'length';
  } else {
    outputTokens = Math.min(options.defaultOutputTokens, roomTokens);
    finishReason = outputTokens === options.defaultOutputTokens ? 'stop' : 'length';
  }

  return {
    ok: true,
    request: {
      endpoint,
      stream,
      hasStreamOptions: streamOptions !== undefined,
      includeUsage,
      promptTokens,
      outputTokens,
      finishReason,
    },
  };
}

interface Prompt {
  tokenCount: number;
}

/** Returns the prompt's token count, or a message saying why the messages are invalid. */
function readChatPrompt(messages: unknown, options: ResolvedMockLlmOptions): Prompt | string {
  if (!Array.isArray(messages) || messages.length === 0)
    return 'messages must be a non-empty array';

  const texts: string[] = [];
  for (const [index, message] of messages.entries()) {
    if (!isRecord(message) || typeof message['role'] !== 'string') {
      return `messages[${index}] must be an object with a role`;
    }
    const content = message['content'];
    if (typeof content === 'string') {
      texts.push(content);
    } else if (Array.isArray(content)) {
      for (const part of content) {
        if (isRecord(part) && typeof part['text'] === 'string') texts.push(part['text']);
      }
    } else if (content !== null && content !== undefined) {
      return `messages[${index}].content must be a string, an array of parts or null`;
    }
  }
  return { tokenCount: options.countPromptTokens(texts.join('\n')) };
}

/** Returns the prompt's token count, or a message saying why the prompt is invalid. */
function readCompletionPrompt(prompt: unknown, options: ResolvedMockLlmOptions): Prompt | string {
  // A batch of exactly one prompt is the same request as that prompt.
  const single =
    Array.isArray(prompt) && prompt.length === 1 && typeof prompt[0] !== 'number'
      ? prompt[0]
      : prompt;

  if (typeof single === 'string') return { tokenCount: options.countPromptTokens(single) };
  if (
    Array.isArray(single) &&
    single.length > 0 &&
    single.every((id) => Number.isInteger(id) && id >= 0)
  ) {
    return { tokenCount: single.length };
  }
  return 'prompt must be a string or an array of token ids; the mock serves one prompt per request';
}

function badRequest(message: string, param: string | null): ParsedRequest {
  return reject(400, 'BadRequestError', message, param);
}

function reject(
  status: number,
  type: string,
  message: string,
  param: string | null,
): ParsedRequest {
  return { ok: false, rejection: { status, type, message, param } };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
