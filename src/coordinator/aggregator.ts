import {
  addCounters,
  createLatencyHistogram,
  decodeHistogram,
  emptyCounters,
  encodeHistogram,
  summarizeLatency,
  type Histogram,
  type LatencySummary,
  type MetricWindow,
  type WindowCounters,
} from '../protocol/index.ts';

/** The merged measurements of one window over all agents. */
export interface WindowRow {
  tick: number;
  counters: WindowCounters;
  rtUs: LatencySummary;
  serviceUs: LatencySummary;
  /** Agents whose window for this tick has been merged. */
  agents: number;
}

interface TickState {
  counters: WindowCounters;
  agents: Set<string>;
  /** Live histograms while the tick is open; undefined once sealed. */
  live?: { rt: Histogram; service: Histogram };
  /** Encoded merged histograms of a sealed tick, kept small for late windows. */
  sealed?: { rt: string; service: string };
  row?: WindowRow;
}

export interface LatencyTotals {
  rtUs: Histogram;
  serviceUs: Histogram;
  waitUs: Histogram;
}

/**
 * Merges agents' windows by tick sequence. Whole-task numbers come from merged histograms of
 * fixed size; each tick keeps live histograms only while open and a compressed copy after, so
 * memory stays flat over long tasks. A window is merged once, however often it arrives.
 */
export class Aggregator {
  readonly totals: LatencyTotals = {
    rtUs: createLatencyHistogram(),
    serviceUs: createLatencyHistogram(),
    waitUs: createLatencyHistogram(),
  };
  readonly counters: WindowCounters = emptyCounters();
  #ticks = new Map<number, TickState>();
  #merged = new Set<string>();
  #lateWindows = 0;
  #duplicateWindows = 0;

  get lateWindows(): number {
    return this.#lateWindows;
  }

  get duplicateWindows(): number {
    return this.#duplicateWindows;
  }

  /** Merges one window; returns false for a window already merged. */
  add(window: MetricWindow): boolean {
    const key = `${window.agentId}\u0000${window.tick}`;
    if (this.#merged.has(key)) {
      this.#duplicateWindows += 1;
      return false;
    }
    this.#merged.add(key);

    const rt = decodeHistogram(window.rtUs);
    const service = decodeHistogram(window.serviceUs);
    const wait = decodeHistogram(window.waitUs);
    this.totals.rtUs.add(rt);
    this.totals.serviceUs.add(service);
    this.totals.waitUs.add(wait);
    addCounters(this.counters, window.counters);

    const state = this.#tick(window.tick);
    addCounters(state.counters, window.counters);
    state.agents.add(window.agentId);

    if (state.live) {
      state.live.rt.add(rt);
      state.live.service.add(service);
    } else {
      // A late window for a sealed tick: reopen its copy, merge, and seal it again.
      this.#lateWindows += 1;
      const reopened = this.#reopen(state);
      reopened.rt.add(rt);
      reopened.service.add(service);
      this.#seal(window.tick);
    }
    state.row = undefined;
    return true;
  }

  /** Seals every open tick before `beforeTick`: its row is computed and its live histograms freed. */
  sealBefore(beforeTick: number): void {
    for (const [tick, state] of this.#ticks) {
      if (tick < beforeTick && state.live) this.#seal(tick);
    }
  }

  row(tick: number): WindowRow | undefined {
    const state = this.#ticks.get(tick);
    if (!state) return undefined;
    if (!state.row) {
      const histograms = state.live ?? this.#decodeSealed(state);
      state.row = {
        tick,
        counters: state.counters,
        rtUs: summarizeLatency(histograms.rt),
        serviceUs: summarizeLatency(histograms.service),
        agents: state.agents.size,
      };
    }
    return state.row;
  }

  /** Every tick's row in order, including ticks with no windows between the first and last. */
  rows(): WindowRow[] {
    const ticks = [...this.#ticks.keys()];
    if (ticks.length === 0) return [];
    const last = Math.max(...ticks);
    const rows: WindowRow[] = [];
    for (let tick = 0; tick <= last; tick++) rows.push(this.row(tick) ?? emptyRow(tick));
    return rows;
  }

  #tick(tick: number): TickState {
    let state = this.#ticks.get(tick);
    if (!state) {
      state = {
        counters: emptyCounters(),
        agents: new Set(),
        live: { rt: createLatencyHistogram(), service: createLatencyHistogram() },
      };
      this.#ticks.set(tick, state);
    }
    return state;
  }

  #seal(tick: number): void {
    const state = this.#ticks.get(tick)!;
    const live = state.live!;
    state.row = undefined;
    state.row = this.row(tick);
    state.sealed = { rt: encodeHistogram(live.rt), service: encodeHistogram(live.service) };
    state.live = undefined;
  }

  #reopen(state: TickState): { rt: Histogram; service: Histogram } {
    state.live = this.#decodeSealed(state);
    state.sealed = undefined;
    return state.live;
  }

  #decodeSealed(state: TickState): { rt: Histogram; service: Histogram } {
    return {
      rt: decodeHistogram(state.sealed!.rt),
      service: decodeHistogram(state.sealed!.service),
    };
  }
}

function emptyRow(tick: number): WindowRow {
  const empty = summarizeLatency(createLatencyHistogram());
  return { tick, counters: emptyCounters(), rtUs: empty, serviceUs: empty, agents: 0 };
}
