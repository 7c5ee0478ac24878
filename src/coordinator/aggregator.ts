import {
  addCounters,
  createLatencyHistogram,
  addSparseCounts,
  decodeHistogram,
  decodeSparseCounts,
  emptyCounters,
  emptyLlmCounts,
  encodeHistogram,
  summarizeLatency,
  type Histogram,
  type LatencySummary,
  type LlmWindow,
  type MetricWindow,
  type SparseCounts,
  type WindowCounters,
} from '../protocol/index.ts';

/** Latency metrics that a window may carry, each an encoded histogram in microseconds. */
export const LATENCY_METRICS = [
  'rtUs',
  'serviceUs',
  'waitUs',
  'ttftUs',
  'tpotUs',
  'itlUs',
  'e2eUs',
] as const;

export type LatencyMetric = (typeof LATENCY_METRICS)[number];

export type LlmCounts = ReturnType<typeof emptyLlmCounts>;

/** The merged measurements of one window over all agents. */
export interface WindowRow {
  tick: number;
  counters: WindowCounters;
  /** Present when the task streams LLM responses. */
  llm?: LlmCounts;
  /** Latency summaries of the metrics that the window carried. */
  latency: Partial<Record<LatencyMetric, LatencySummary>>;
  /** Agents whose window for this tick has been merged. */
  agents: number;
}

/** One agent's share of the task so far. */
export interface AgentTotals {
  sent: number;
  completed: number;
  failed: number;
  /** Failure kind to count, as in WindowCounters.errors. */
  errors: Record<string, number>;
  /** Tick of the agent's newest window, -1 before the first. */
  lastTick: number;
}

function emptyAgentTotals(): AgentTotals {
  return { sent: 0, completed: 0, failed: 0, errors: {}, lastTick: -1 };
}

type Histograms = Partial<Record<LatencyMetric, Histogram>>;

interface TickState {
  counters: WindowCounters;
  llm?: LlmCounts;
  agents: Set<string>;
  /** Live histograms while the tick is open; undefined once sealed. */
  live?: Histograms;
  /** Encoded merged histograms of a sealed tick, kept small for late windows. */
  sealed?: Partial<Record<LatencyMetric, string>>;
  row?: WindowRow;
}

/**
 * Merges agents' windows by tick sequence. Whole-task numbers come from merged histograms of
 * fixed size; each tick keeps live histograms only while open and a compressed copy after, so
 * memory stays flat over long tasks. A window is merged once, however often it arrives.
 */
export class Aggregator {
  /** Whole-task histograms of the sealed ticks: seal every tick before reading them at the end. */
  readonly totals: Histograms = {};
  readonly counters: WindowCounters = emptyCounters();
  /** Whole-task LLM counts, once any window carried them. */
  llm: LlmCounts | undefined;
  #ticks = new Map<number, TickState>();
  #merged = new Set<string>();
  #agents = new Map<string, AgentTotals>();
  #lateWindows = 0;
  #duplicateWindows = 0;

  get lateWindows(): number {
    return this.#lateWindows;
  }

  get duplicateWindows(): number {
    return this.#duplicateWindows;
  }

  /** Returns what one agent's windows added up to, or zeros before its first window. */
  agentTotals(agentId: string): AgentTotals {
    return this.#agents.get(agentId) ?? emptyAgentTotals();
  }

  /** Returns the whole-task summary of a metric; empty when no window carried it. */
  total(metric: LatencyMetric): LatencySummary {
    return summarizeLatency(this.totals[metric] ?? createLatencyHistogram());
  }

  /** Merges one window; returns false for a window already merged. */
  add(window: MetricWindow): boolean {
    const key = `${window.agentId}\u0000${window.tick}`;
    if (this.#merged.has(key)) {
      this.#duplicateWindows += 1;
      return false;
    }
    this.#merged.add(key);

    const agent = this.#agents.get(window.agentId) ?? emptyAgentTotals();
    agent.sent += window.counters.sent;
    agent.completed += window.counters.completed;
    agent.failed += window.counters.failed;
    for (const [kind, count] of Object.entries(window.counters.errors))
      agent.errors[kind] = (agent.errors[kind] ?? 0) + count;
    agent.lastTick = Math.max(agent.lastTick, window.tick);
    this.#agents.set(window.agentId, agent);

    const decoded = decodeWindow(window);
    const peakInFlight = this.counters.maxInFlight;
    addCounters(this.counters, window.counters);
    if (window.llm) this.llm = addLlmCounts(this.llm, window.llm);

    const state = this.#tick(window.tick);
    addCounters(state.counters, window.counters);
    // NOTE: agents' peaks in one tick are summed, exact for closed loops (every agent keeps its
    // concurrency) and an upper bound for open loops, where the peaks may fall at other moments.
    this.counters.maxInFlight = Math.max(peakInFlight, state.counters.maxInFlight);
    if (window.llm) state.llm = addLlmCounts(state.llm, window.llm);
    state.agents.add(window.agentId);

    if (state.live) {
      addWindowCounts(state.live, decoded);
    } else {
      // A late window for a sealed tick: reopen its copy, merge, and seal it again. The tick's
      // earlier windows are in the totals already, so only this one is added to them.
      this.#lateWindows += 1;
      state.live = decodeAll(state.sealed ?? {});
      state.sealed = undefined;
      addWindowCounts(state.live, decoded);
      addWindowCounts(this.totals, decoded);
      this.#seal(state, window.tick, false);
    }
    state.row = undefined;
    return true;
  }

  /** Seals every open tick before `beforeTick`: its row is computed and its live histograms freed. */
  sealBefore(beforeTick: number): void {
    for (const [tick, state] of this.#ticks) {
      if (tick < beforeTick && state.live) this.#seal(state, tick);
    }
  }

  row(tick: number): WindowRow | undefined {
    const state = this.#ticks.get(tick);
    if (!state) return undefined;
    if (!state.row) {
      const histograms = state.live ?? decodeAll(state.sealed ?? {});
      const latency: WindowRow['latency'] = {};
      for (const [metric, histogram] of Object.entries(histograms)) {
        latency[metric as LatencyMetric] = summarizeLatency(histogram);
      }
      state.row = {
        tick,
        counters: state.counters,
        ...(state.llm ? { llm: state.llm } : {}),
        latency,
        agents: state.agents.size,
      };
    }
    return state.row;
  }

  /** Returns every tick's row in order, including ticks with no windows between the first and last. */
  rows(): WindowRow[] {
    const ticks = [...this.#ticks.keys()];
    if (ticks.length === 0) return [];
    const last = Math.max(...ticks);
    const rows: WindowRow[] = [];
    for (let tick = 0; tick <= last; tick++) {
      rows.push(this.row(tick) ?? { tick, counters: emptyCounters(), latency: {}, agents: 0 });
    }
    return rows;
  }

  #tick(tick: number): TickState {
    let state = this.#ticks.get(tick);
    if (!state) {
      state = { counters: emptyCounters(), agents: new Set(), live: {} };
      this.#ticks.set(tick, state);
    }
    return state;
  }

  /** Computes the tick's row, adds its histograms to the totals once, and keeps a compressed copy. */
  #seal(state: TickState, tick: number, addToTotals = true): void {
    const live = state.live!;
    if (addToTotals) addHistograms(this.totals, live);
    state.row = undefined;
    state.row = this.row(tick);
    const sealed: TickState['sealed'] = {};
    for (const [metric, histogram] of Object.entries(live)) {
      sealed[metric as LatencyMetric] = encodeHistogram(histogram);
    }
    state.sealed = sealed;
    state.live = undefined;
  }
}

/** A window's histogram per metric: bucket counts, or a whole histogram of another layout. */
type WindowCounts = Partial<Record<LatencyMetric, SparseCounts | Histogram>>;

function decodeWindow(window: MetricWindow): WindowCounts {
  const encoded: Partial<Record<LatencyMetric, string>> = {
    rtUs: window.rtUs,
    serviceUs: window.serviceUs,
    waitUs: window.waitUs,
  };
  if (window.llm) {
    encoded.ttftUs = window.llm.ttftUs;
    encoded.tpotUs = window.llm.tpotUs;
    encoded.itlUs = window.llm.itlUs;
    encoded.e2eUs = window.llm.e2eUs;
  }
  const counts: WindowCounts = {};
  for (const [metric, text] of Object.entries(encoded)) {
    counts[metric as LatencyMetric] = decodeSparseCounts(text) ?? decodeHistogram(text);
  }
  return counts;
}

function addWindowCounts(into: Histograms, from: WindowCounts): void {
  for (const [metric, counts] of Object.entries(from)) {
    const histogram = (into[metric as LatencyMetric] ??= createLatencyHistogram());
    if ('indexes' in counts) addSparseCounts(histogram, counts);
    else histogram.add(counts);
  }
}

function decodeAll(encoded: Partial<Record<LatencyMetric, string>>): Histograms {
  const histograms: Histograms = {};
  for (const [metric, text] of Object.entries(encoded))
    histograms[metric as LatencyMetric] = decodeHistogram(text);
  return histograms;
}

function addHistograms(into: Histograms, from: Histograms): void {
  for (const [metric, histogram] of Object.entries(from)) {
    const key = metric as LatencyMetric;
    if (into[key]) into[key].add(histogram);
    else {
      const copy = createLatencyHistogram();
      copy.add(histogram);
      into[key] = copy;
    }
  }
}

function addLlmCounts(into: LlmCounts | undefined, from: LlmWindow): LlmCounts {
  const counts = into ?? emptyLlmCounts();
  counts.inputTokens += from.inputTokens;
  counts.outputTokens += from.outputTokens;
  counts.usageCounted += from.usageCounted;
  counts.tokenizerCounted += from.tokenizerCounted;
  counts.good += from.good;
  return counts;
}
