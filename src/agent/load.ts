import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';

/** An agent's load over the interval since the previous reading. */
export interface LoadReading {
  /** The agent's CPU use, in percent of one core. */
  cpuPercent: number;
  /** Share of one core the agent can still use, from 0 to 1, bounded by the host's idle cores. */
  freeCapacity: number;
}

/**
 * Measures how busy an agent is. An agent in a process of its own reports that process's CPU
 * time. An agent on a worker thread shares the process's CPU time with the other threads, so it
 * reports how busy its own event loop was instead, since Node 20 has no CPU clock per thread.
 */
export class LoadProbe {
  #lastCpu = process.cpuUsage();
  #lastLoop = performance.eventLoopUtilization();
  #lastHost = hostTimes();
  #lastAtMs = performance.now();

  read(): LoadReading {
    const nowMs = performance.now();
    const elapsedMs = Math.max(1, nowMs - this.#lastAtMs);
    this.#lastAtMs = nowMs;

    const cpu = process.cpuUsage();
    const cpuMs = (cpu.user + cpu.system - this.#lastCpu.user - this.#lastCpu.system) / 1000;
    this.#lastCpu = cpu;
    const loop = performance.eventLoopUtilization();
    const loopBusy = performance.eventLoopUtilization(loop, this.#lastLoop).utilization;
    this.#lastLoop = loop;
    const cpuPercent = isMainThread ? (cpuMs / elapsedMs) * 100 : loopBusy * 100;

    const host = hostTimes();
    const totalMs = host.totalMs - this.#lastHost.totalMs;
    const idleCores =
      totalMs > 0 ? ((host.idleMs - this.#lastHost.idleMs) / totalMs) * host.cores : 1;
    this.#lastHost = host;

    const ownFree = Math.max(0, 1 - cpuPercent / 100);
    return {
      cpuPercent: Math.round(cpuPercent * 10) / 10,
      freeCapacity: Math.round(Math.min(ownFree, idleCores) * 100) / 100,
    };
  }
}

/** Sums the idle and total time of every core of the host since boot. */
function hostTimes(): { idleMs: number; totalMs: number; cores: number } {
  let idleMs = 0;
  let totalMs = 0;
  for (const { times } of cpus()) {
    idleMs += times.idle;
    totalMs += times.user + times.nice + times.sys + times.idle + times.irq;
  }
  return { idleMs, totalMs, cores: cpus().length };
}
