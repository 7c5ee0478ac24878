/** CPU use of the server process and of the client core during a benchmark run, from /proc. */
import { readFile } from 'node:fs/promises';

/** Kernel clock ticks per second in /proc CPU times (USER_HZ, 100 on Linux for x86 and arm64). */
const CLOCK_TICKS_PER_SEC = 100;
const SAMPLE_INTERVAL_MS = 500;
/** Intervals in which the server used less than this much of a core had no load running. */
const LOADED_MIN_SERVER_PCT = 5;

/** Median CPU use over the loaded intervals of one run, in percent of one core. */
export interface CpuUse {
  serverPct: number;
  /** The whole core the tools run on: the tool and any other process scheduled there. */
  clientCorePct: number;
  /** The tool's own process with all its threads, or undefined when it was never sampled under load. */
  toolPct: number | undefined;
}

interface Counters {
  atMs: number;
  serverTicks: number;
  coreTicks: number;
  /** Undefined before the tool starts and after it exits. */
  toolTicks: number | undefined;
}

interface Interval {
  serverPct: number;
  corePct: number;
  toolPct: number | undefined;
}

/**
 * Samples the CPU time of the server and of the tool, and the busy time of the client core,
 * every 500 ms. Only intervals in which the server was busy count, so that a tool's start-up
 * (loadmesh compiles its TypeScript) and exit do not dilute the figures.
 */
export class CpuSampler {
  #serverPid: number;
  #clientCore: number;
  #toolPid: number | undefined;
  #last: Counters | undefined;
  #timer: NodeJS.Timeout | undefined;
  #pending: Promise<void> | undefined;
  #intervals: Interval[] = [];

  constructor(serverPid: number, clientCore: number) {
    this.#serverPid = serverPid;
    this.#clientCore = clientCore;
  }

  async start(): Promise<void> {
    this.#last = await this.#read();
    this.#timer = setInterval(() => {
      this.#pending ??= this.#sample().finally(() => (this.#pending = undefined));
    }, SAMPLE_INTERVAL_MS);
  }

  /** Adds the tool's process to the samples once it has started. */
  watchTool(pid: number): void {
    this.#toolPid = pid;
  }

  /** Returns the medians over the loaded intervals, 0 (or undefined for the tool) when none was. */
  async stop(): Promise<CpuUse> {
    clearInterval(this.#timer);
    await this.#pending;

    const loaded = this.#intervals.filter((s) => s.serverPct >= LOADED_MIN_SERVER_PCT);
    const toolPcts = loaded.flatMap((s) => (s.toolPct === undefined ? [] : [s.toolPct]));
    return {
      serverPct: median(loaded.map((s) => s.serverPct)),
      clientCorePct: median(loaded.map((s) => s.corePct)),
      toolPct: toolPcts.length > 0 ? median(toolPcts) : undefined,
    };
  }

  async #sample(): Promise<void> {
    const now = await this.#read();
    const last = this.#last!;
    this.#last = now;

    const ticks = ((now.atMs - last.atMs) / 1000) * CLOCK_TICKS_PER_SEC;
    const pct = (before: number | undefined, after: number | undefined): number | undefined =>
      before === undefined || after === undefined ? undefined : (100 * (after - before)) / ticks;
    this.#intervals.push({
      serverPct: pct(last.serverTicks, now.serverTicks)!,
      corePct: pct(last.coreTicks, now.coreTicks)!,
      toolPct: pct(last.toolTicks, now.toolTicks),
    });
  }

  async #read(): Promise<Counters> {
    const toolPid = this.#toolPid;
    const [serverTicks, coreTicks, toolTicks] = await Promise.all([
      readProcessCpuTicks(this.#serverPid),
      readCoreBusyTicks(this.#clientCore),
      // The tool may have exited since its pid was set.
      toolPid === undefined ? undefined : readProcessCpuTicks(toolPid).catch(() => undefined),
    ]);
    return { atMs: performance.now(), serverTicks, coreTicks, toolTicks };
  }
}

/** Measures how busy each core is over `durationMs`, in percent, to spot other load on the machine. */
export async function measureCoreBusyPct(cores: number[], durationMs: number): Promise<number[]> {
  const before = await Promise.all(cores.map(readCoreBusyTicks));
  const startMs = performance.now();
  await new Promise((resolve) => setTimeout(resolve, durationMs));
  const after = await Promise.all(cores.map(readCoreBusyTicks));

  const ticks = ((performance.now() - startMs) / 1000) * CLOCK_TICKS_PER_SEC;
  return cores.map((_, i) => (100 * (after[i]! - before[i]!)) / ticks);
}

/** User plus system CPU time of a process, in clock ticks, from /proc/PID/stat. */
async function readProcessCpuTicks(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // utime is the 12th field after the command name, which is in brackets and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** Busy time of one core (user, nice, system, irq and softirq), in clock ticks, from /proc/stat. */
async function readCoreBusyTicks(core: number): Promise<number> {
  const stat = await readFile('/proc/stat', 'utf8');
  const line = stat.split('\n').find((l) => l.startsWith(`cpu${core} `));
  if (!line) throw new Error(`/proc/stat has no line for cpu${core}`);

  const ticks = line.split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] = ticks;
  return user + nice + system + irq + softirq;
}

/** Median of the values; 0 for none. */
export function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
