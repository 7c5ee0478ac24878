/**
 * Sends one accepted generation: a stream of SSE chunks at scheduled times, or one JSON body
 * when the last token would have been generated.
 */
import type { ServerResponse } from 'node:http';

import type { RandomSource } from '../llm/random.ts';
import type { GenerationRequest } from './request.ts';
import {
  ChunkBuilder,
  DONE_EVENT,
  completionBody,
  sseEvent,
  type ResponseIdentity,
  type Usage,
} from './responses.ts';
import { chunkOffsetMs, chunkTokenCount, countChunks, type StreamTiming } from './schedule.ts';

/** A response being generated, with its pending timer, which is cleared when the client leaves. */
export interface ActiveResponse {
  response: ServerResponse;
  timer: NodeJS.Timeout | undefined;
}

export interface GenerationContext {
  timing: StreamTiming;
  /** Whether the server reports usage at all (the `usage` option). */
  usage: boolean;
  identity: ResponseIdentity;
  /** performance.now() when the request arrived: every due time is an offset from it. */
  arrivalMs: number;
  random: RandomSource;
}

/** Count, mean and maximum of the delays between chunks' due times and their sends. */
export class SendDelayStats {
  #chunkCount = 0;
  #totalMs = 0;
  #maxMs = 0;

  get chunkCount(): number {
    return this.#chunkCount;
  }

  get meanMs(): number {
    return this.#chunkCount === 0 ? 0 : this.#totalMs / this.#chunkCount;
  }

  get maxMs(): number {
    return this.#maxMs;
  }

  /** Records one chunk; a chunk sent within the early tolerance counts as on time. */
  record(delayMs: number): void {
    const clampedMs = Math.max(0, delayMs);
    this.#chunkCount++;
    this.#totalMs += clampedMs;
    if (clampedMs > this.#maxMs) this.#maxMs = clampedMs;
  }
}

/** A time within which a chunk counts as due, because Node's timers may wake a little early. */
const EARLY_SEND_TOLERANCE_MS = 0.5;

const MID_STREAM_ERROR_EVENT = sseEvent(
  JSON.stringify({
    error: {
      object: 'error',
      message: 'mock LLM: injected mid-stream error',
      type: 'InternalServerError',
      param: null,
      code: 500,
    },
  }),
);

/**
 * Streams the chunks, each at its absolute offset from the request's arrival. When the event
 * loop wakes late, every chunk already due goes out in one write. With `midStreamError`, an
 * error object and `[DONE]` replace the chunks from the middle one on.
 */
export function streamCompletion(
  active: ActiveResponse,
  generation: GenerationRequest,
  context: GenerationContext,
  midStreamError: boolean,
  sendDelays: SendDelayStats,
): void {
  const { response } = active;
  const { timing, arrivalMs, random } = context;
  const builder = new ChunkBuilder(generation.endpoint, context.identity);
  const chunkCount = countChunks(generation.outputTokens, timing.tokensPerChunk);
  const errorChunkIndex = midStreamError ? Math.floor(chunkCount / 2) : -1;
  // Every chunk but the last has the same tokens and no finish_reason, so its event is built once.
  const middleEvent = sseEvent(builder.textChunk(timing.tokensPerChunk, null));
  let chunkIndex = 0;
  let dueMs = chunkOffsetMs(0, timing, 0, random);

  response.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
  });
  // vLLM sends the role chunk as soon as the request is scheduled, well before the first token.
  if (generation.endpoint === 'chat') response.write(sseEvent(builder.roleChunk()));
  else response.flushHeaders();

  const sendDueChunks = (): void => {
    active.timer = undefined;
    if (response.destroyed) return;

    const elapsedMs = performance.now() - arrivalMs;
    let output = '';
    while (chunkIndex < chunkCount && dueMs <= elapsedMs + EARLY_SEND_TOLERANCE_MS) {
      if (chunkIndex === errorChunkIndex) {
        response.end(output + MID_STREAM_ERROR_EVENT + DONE_EVENT);
        return;
      }

      sendDelays.record(elapsedMs - dueMs);
      const isLast = chunkIndex === chunkCount - 1;
      if (isLast) {
        const tokenCount = chunkTokenCount(
          chunkIndex,
          generation.outputTokens,
          timing.tokensPerChunk,
        );
        output += sseEvent(builder.textChunk(tokenCount, generation.finishReason));
      } else {
        output += middleEvent;
      }
      chunkIndex++;
      if (!isLast) dueMs = chunkOffsetMs(chunkIndex, timing, dueMs, random);
    }

    if (chunkIndex === chunkCount) {
      if (context.usage && generation.includeUsage) {
        output += sseEvent(builder.usageChunk(usageOf(generation)));
      }
      response.end(output + DONE_EVENT);
      return;
    }

    if (output.length > 0) response.write(output);
    active.timer = setTimeout(sendDueChunks, Math.max(1, Math.round(dueMs - elapsedMs)));
  };

  sendDueChunks();
}

/** Sends the response to `stream: false` as one JSON body when the last chunk would be due. */
export function answerWhole(
  active: ActiveResponse,
  generation: GenerationRequest,
  context: GenerationContext,
  sendJson: (response: ServerResponse, status: number, body: string) => void,
): void {
  const { timing, arrivalMs } = context;
  const lastChunkIndex = countChunks(generation.outputTokens, timing.tokensPerChunk) - 1;
  const dueMs = chunkOffsetMs(lastChunkIndex, timing, 0, context.random);
  const usage = context.usage ? usageOf(generation) : undefined;

  const send = (): void => {
    active.timer = undefined;
    if (active.response.destroyed) return;
    const { endpoint, outputTokens, finishReason } = generation;
    sendJson(
      active.response,
      200,
      completionBody(endpoint, context.identity, outputTokens, finishReason, usage),
    );
  };
  active.timer = setTimeout(send, Math.max(0, dueMs - (performance.now() - arrivalMs)));
}

function usageOf(generation: GenerationRequest): Usage {
  return { promptTokens: generation.promptTokens, completionTokens: generation.outputTokens };
}
