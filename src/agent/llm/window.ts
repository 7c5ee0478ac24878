import {
  createLatencyHistogram,
  emptyLlmCounts,
  encodeHistogram,
  recordLatencyUs,
  type Histogram,
  type LlmWindow,
} from '../../protocol/index.ts';
import type { RequestOutcome } from '../outcome.ts';

/** Service-level objectives in milliseconds; a request meeting every one given is goodput. */
export interface Slo {
  ttftMs?: number;
  tpotMs?: number;
  e2eMs?: number;
}

/** The LLM measurements of one window: TTFT, TPOT, ITL and E2E histograms and token counts. */
export class LlmWindowState {
  #ttftUs: Histogram = createLatencyHistogram();
  #tpotUs: Histogram = createLatencyHistogram();
  #itlUs: Histogram = createLatencyHistogram();
  #e2eUs: Histogram = createLatencyHistogram();
  #counts = emptyLlmCounts();

  /** Records a request that streamed text; TTFT and E2E start at the intended send time. */
  record(outcome: RequestOutcome, slo: Slo | undefined): void {
    const llm = outcome.llm!;
    const ttftMs = llm.firstTextMs - outcome.intendedMs;
    const e2eMs = outcome.endMs - outcome.intendedMs;
    recordLatencyUs(this.#ttftUs, ttftMs * 1000);
    recordLatencyUs(this.#e2eUs, e2eMs * 1000);
    for (const gapUs of llm.interChunkUs) recordLatencyUs(this.#itlUs, gapUs);

    let tpotMs: number | undefined;
    if (llm.outputTokens > 1) {
      tpotMs = (e2eMs - ttftMs) / (llm.outputTokens - 1);
      recordLatencyUs(this.#tpotUs, tpotMs * 1000);
    }

    this.#counts.inputTokens += llm.inputTokens;
    this.#counts.outputTokens += llm.outputTokens;
    if (llm.tokenSource === 'usage') this.#counts.usageCounted += 1;
    else this.#counts.tokenizerCounted += 1;
    if (slo && meetsSlo(slo, ttftMs, tpotMs, e2eMs)) this.#counts.good += 1;
  }

  encode(): LlmWindow {
    return {
      ttftUs: encodeHistogram(this.#ttftUs),
      tpotUs: encodeHistogram(this.#tpotUs),
      itlUs: encodeHistogram(this.#itlUs),
      e2eUs: encodeHistogram(this.#e2eUs),
      ...this.#counts,
    };
  }
}

/** Checks the objectives; a request without a TPOT (one output token) meets a TPOT objective, as in vLLM's goodput. */
function meetsSlo(slo: Slo, ttftMs: number, tpotMs: number | undefined, e2eMs: number): boolean {
  if (slo.ttftMs !== undefined && ttftMs > slo.ttftMs) return false;
  if (slo.tpotMs !== undefined && tpotMs !== undefined && tpotMs > slo.tpotMs) return false;
  if (slo.e2eMs !== undefined && e2eMs > slo.e2eMs) return false;
  return true;
}
