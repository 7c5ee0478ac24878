/** CPU use above which an agent counts as saturated, in percent of one core. */
export const HIGH_CPU_PERCENT = 90;
/** How long an agent stays above HIGH_CPU_PERCENT during a task before the warning. */
export const HIGH_CPU_WARN_MS = 10_000;

/**
 * Watches the CPU use that a task's agents report, and flags each agent once per task when it
 * has stayed above HIGH_CPU_PERCENT for HIGH_CPU_WARN_MS. Time before `fromMs`, the task's
 * start, does not count.
 */
export class CpuWatch {
  #highSinceMs = new Map<string, number>();
  #warned = new Set<string>();

  constructor(private readonly fromMs: number) {}

  /** Records one heartbeat; returns true when this one completes the agent's first long streak. */
  observe(agentId: string, cpuPercent: number, nowMs: number): boolean {
    if (cpuPercent <= HIGH_CPU_PERCENT) {
      this.#highSinceMs.delete(agentId);
      return false;
    }
    const sinceMs = this.#highSinceMs.get(agentId) ?? Math.max(nowMs, this.fromMs);
    this.#highSinceMs.set(agentId, sinceMs);
    if (this.#warned.has(agentId) || nowMs - sinceMs < HIGH_CPU_WARN_MS) return false;

    this.#warned.add(agentId);
    return true;
  }
}
