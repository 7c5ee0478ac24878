import {
  createLatencyHistogram,
  emptyCounters,
  encodeHistogram,
  recordLatencyUs,
  type Histogram,
  type MetricWindow,
  type WindowCounters,
} from '../protocol/index.ts';
import { LlmWindowState, type Slo } from './llm/window.ts';
import type { RequestOutcome } from './outcome.ts';

interface WindowState {
  counters: WindowCounters;
  rtUs: Histogram;
  serviceUs: Histogram;
  waitUs: Histogram;
  llm?: LlmWindowState;
}

/**
 * Records outcomes into per-window counters and HDR histograms. A request belongs to the window
 * in which it ended; a send belongs to the window in which it left.
 */
export class WindowRecorder {
  #windows = new Map<number, WindowState>();
  /** Ticks before this one were taken: a result recorded late goes to this tick instead. */
  #firstOpenTick = 0;
  #startMs: number;
  #windowMs: number;
  #inFlight = 0;
  #lastBytesSent = 0;
  #lastBytesReceived = 0;

  #slo: Slo | undefined;

  /** `slo` is given for LLM tasks with objectives; goodput counts requests that meet them. */
  constructor(startMs: number, windowMs: number, slo?: Slo) {
    this.#startMs = startMs;
    this.#windowMs = windowMs;
    this.#slo = slo;
  }

  tickAt(nowMs: number): number {
    return Math.max(0, Math.floor((nowMs - this.#startMs) / this.#windowMs));
  }

  recordSend(nowMs: number): void {
    const counters = this.#window(this.tickAt(nowMs)).counters;
    counters.sent += 1;
    this.#inFlight += 1;
    if (this.#inFlight > counters.maxInFlight) counters.maxInFlight = this.#inFlight;
  }

  recordDrop(nowMs: number): void {
    this.#window(this.tickAt(nowMs)).counters.dropped += 1;
  }

  /** Records a finished request; one cut off by the drain only leaves the in-flight count. */
  recordOutcome(outcome: RequestOutcome): void {
    this.recordEnd();
    this.recordResult(outcome);
  }

  /** Takes a request that ended off the in-flight count, before its result is complete. */
  recordEnd(): void {
    this.#inFlight -= 1;
  }

  /**
   * Records the result of a request already counted by `recordEnd`. A result whose window was
   * already taken goes to the oldest open window, since a window is never sent twice.
   */
  recordResult(outcome: RequestOutcome): void {
    if (outcome.error === 'incomplete') return;

    const window = this.#window(Math.max(this.#firstOpenTick, this.tickAt(outcome.endMs)));
    const { counters } = window;
    counters.completed += 1;
    if (outcome.status !== undefined) {
      const code = String(outcome.status);
      counters.statusCodes[code] = (counters.statusCodes[code] ?? 0) + 1;
    }

    if (outcome.error) {
      counters.failed += 1;
      counters.errors[outcome.error] = (counters.errors[outcome.error] ?? 0) + 1;
    } else {
      counters.ok += 1;
    }

    if (outcome.llm && !outcome.error)
      (window.llm ??= new LlmWindowState()).record(outcome, this.#slo);

    // Latencies cover every request that got a whole response, error statuses included;
    // a transport failure has no response time.
    if (outcome.error !== undefined && outcome.error !== 'status') return;
    recordLatencyUs(window.rtUs, (outcome.endMs - outcome.intendedMs) * 1000);
    recordLatencyUs(window.serviceUs, (outcome.endMs - outcome.sentMs) * 1000);
    recordLatencyUs(window.waitUs, Math.max(0, outcome.sentMs - outcome.intendedMs) * 1000);
  }

  /**
   * Removes and encodes every window before `beforeTick`. The bytes counted since the last call
   * go to the newest of them, since sockets are read per window and not per request.
   */
  takeWindows(
    beforeTick: number,
    bytes: { sent: number; received: number },
    ids: { taskId: string; agentId: string },
  ): MetricWindow[] {
    const ticks = [...this.#windows.keys()].filter((t) => t < beforeTick).sort((a, b) => a - b);
    this.#firstOpenTick = Math.max(this.#firstOpenTick, beforeTick);
    const bytesTick = ticks.length > 0 ? ticks[ticks.length - 1]! : beforeTick - 1;
    if (
      bytesTick >= 0 &&
      (bytes.sent !== this.#lastBytesSent || bytes.received !== this.#lastBytesReceived)
    ) {
      const counters = this.#window(bytesTick).counters;
      counters.bytesSent += bytes.sent - this.#lastBytesSent;
      counters.bytesReceived += bytes.received - this.#lastBytesReceived;
      this.#lastBytesSent = bytes.sent;
      this.#lastBytesReceived = bytes.received;
      if (!ticks.includes(bytesTick)) ticks.push(bytesTick);
    }

    return ticks.map((tick) => {
      const window = this.#windows.get(tick)!;
      this.#windows.delete(tick);
      return {
        type: 'window',
        ...ids,
        tick,
        counters: window.counters,
        rtUs: encodeHistogram(window.rtUs),
        serviceUs: encodeHistogram(window.serviceUs),
        waitUs: encodeHistogram(window.waitUs),
        ...(window.llm ? { llm: window.llm.encode() } : {}),
      };
    });
  }

  #window(tick: number): WindowState {
    let window = this.#windows.get(tick);
    if (!window) {
      window = {
        counters: emptyCounters(),
        rtUs: createLatencyHistogram(),
        serviceUs: createLatencyHistogram(),
        waitUs: createLatencyHistogram(),
      };
      window.counters.maxInFlight = this.#inFlight;
      this.#windows.set(tick, window);
    }
    return window;
  }
}
