/**
 * JSON bodies and SSE events of the mock, in the shapes vLLM's OpenAI server sends. Chunks are
 * built from a per-request prefix string so that each chunk costs one concatenation.
 */
import type { Endpoint, FinishReason } from './request.ts';

/**
 * Text of one generated token. Llama 3's tokenizer encodes it as one token (id 24748) and a
 * run of N of them as N tokens, so a client's tokenizer count of the output equals max_tokens.
 */
export const GENERATED_TOKEN_TEXT = ' hello';

export interface ResponseIdentity {
  id: string;
  /** Unix time in seconds. */
  created: number;
  model: string;
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
}

/** Formats one SSE event carrying `data`. */
export function sseEvent(data: string): string {
  return `data: ${data}\n\n`;
}

export const DONE_EVENT = sseEvent('[DONE]');

/** Returns the text of `tokenCount` generated tokens. */
export function generatedText(tokenCount: number): string {
  return GENERATED_TOKEN_TEXT.repeat(tokenCount);
}

/** Builds streamed chunks of one request. */
export class ChunkBuilder {
  readonly #endpoint: Endpoint;
  readonly #identity: ResponseIdentity;
  readonly #choicePrefix: string;

  constructor(endpoint: Endpoint, identity: ResponseIdentity) {
    this.#endpoint = endpoint;
    this.#identity = identity;
    const object = endpoint === 'chat' ? 'chat.completion.chunk' : 'text_completion';
    this.#choicePrefix =
      `{"id":${JSON.stringify(identity.id)},"object":"${object}","created":${identity.created},` +
      `"model":${JSON.stringify(identity.model)},"choices":[{"index":0,`;
  }

  /** Builds the first chat chunk: the assistant role with empty content, which carries no text. */
  roleChunk(): string {
    return `${this.#choicePrefix}"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}`;
  }

  textChunk(tokenCount: number, finishReason: FinishReason | null): string {
    const text = JSON.stringify(generatedText(tokenCount));
    const finish = finishReason === null ? 'null' : `"${finishReason}"`;
    const field = this.#endpoint === 'chat' ? `"delta":{"content":${text}}` : `"text":${text}`;
    return `${this.#choicePrefix}${field},"logprobs":null,"finish_reason":${finish}}]}`;
  }

  /** Builds the final usage chunk: empty choices and the token counts. */
  usageChunk(usage: Usage): string {
    const { id, created, model } = this.#identity;
    return JSON.stringify({
      id,
      object: this.#endpoint === 'chat' ? 'chat.completion.chunk' : 'text_completion',
      created,
      model,
      choices: [],
      usage: usageFields(usage),
    });
  }
}

/** Builds the whole JSON response to a request with `stream: false`. */
export function completionBody(
  endpoint: Endpoint,
  identity: ResponseIdentity,
  outputTokens: number,
  finishReason: FinishReason,
  usage: Usage | undefined,
): string {
  const text = generatedText(outputTokens);
  const choice =
    endpoint === 'chat'
      ? {
          index: 0,
          message: { role: 'assistant', content: text },
          logprobs: null,
          finish_reason: finishReason,
        }
      : { index: 0, text, logprobs: null, finish_reason: finishReason };
  return JSON.stringify({
    id: identity.id,
    object: endpoint === 'chat' ? 'chat.completion' : 'text_completion',
    created: identity.created,
    model: identity.model,
    choices: [choice],
    ...(usage === undefined ? {} : { usage: usageFields(usage) }),
  });
}

/** Builds an OpenAI-style error object: `{"error": {message, type, param, code}}`. */
export function errorBody(
  status: number,
  type: string,
  message: string,
  param: string | null = null,
): string {
  return JSON.stringify({ error: { message, type, param, code: status } });
}

/** Builds the GET /v1/models response, which lists the one served model. */
export function modelsBody(model: string, created: number, maxModelLen: number): string {
  return JSON.stringify({
    object: 'list',
    data: [
      {
        id: model,
        object: 'model',
        created,
        owned_by: 'loadmesh-mock',
        root: model,
        max_model_len: maxModelLen,
      },
    ],
  });
}

function usageFields(usage: Usage): Record<string, number> {
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.promptTokens + usage.completionTokens,
  };
}
