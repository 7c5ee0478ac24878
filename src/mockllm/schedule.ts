/**
 * When each chunk of a mock stream is due, as an offset from the request's arrival. Offsets
 * are absolute, so a late timer delays one chunk and never shifts the ones after it.
 */
import type { RandomSource } from '../llm/random.ts';

export interface StreamTiming {
  ttftMs: number;
  interTokenLatencyMs: number;
  jitterMs: number;
  tokensPerChunk: number;
}

export function countChunks(outputTokens: number, tokensPerChunk: number): number {
  return Math.ceil(outputTokens / tokensPerChunk);
}

/** Returns the number of tokens in chunk `index`: tokensPerChunk, fewer in the last chunk. */
export function chunkTokenCount(
  index: number,
  outputTokens: number,
  tokensPerChunk: number,
): number {
  return Math.min(tokensPerChunk, outputTokens - index * tokensPerChunk);
}

/**
 * Returns when chunk `index` is due, in ms after the request arrived: the first at ttftMs,
 * each later one tokensPerChunk × interTokenLatencyMs after the one before, moved by a uniform
 * jitter in [-jitterMs, +jitterMs] drawn from `random`. The result never precedes
 * `previousOffsetMs`, so chunks stay in order.
 */
export function chunkOffsetMs(
  index: number,
  timing: StreamTiming,
  previousOffsetMs: number,
  random: RandomSource,
): number {
  const plannedMs = timing.ttftMs + index * timing.tokensPerChunk * timing.interTokenLatencyMs;
  const jitterMs = timing.jitterMs === 0 ? 0 : (random() * 2 - 1) * timing.jitterMs;
  return Math.max(previousOffsetMs, plannedMs + jitterMs, 0);
}
