import { describe, expect, it } from 'vitest';
import { CpuWatch } from '../../src/coordinator/cpu-watch.ts';

/** Feeds one heartbeat a second per agent from `fromSec` for `seconds`; returns flagged agents. */
function beat(
  watch: CpuWatch,
  agents: Record<string, number>,
  fromSec: number,
  seconds: number,
): string[] {
  const flagged: string[] = [];
  for (let s = fromSec; s < fromSec + seconds; s++) {
    for (const [agentId, cpu] of Object.entries(agents))
      if (watch.observe(agentId, cpu, s * 1_000)) flagged.push(agentId);
  }
  return flagged;
}

describe('CpuWatch', () => {
  it('flags once after 10 s above 90%', () => {
    const watch = new CpuWatch(0);
    expect(beat(watch, { busy: 95, calm: 50 }, 0, 10)).toEqual([]);
    expect(beat(watch, { busy: 95, calm: 50 }, 10, 1)).toEqual(['busy']);
    expect(beat(watch, { busy: 95, calm: 50 }, 11, 20)).toEqual([]);
  });

  it('resets the streak below 90%', () => {
    const watch = new CpuWatch(0);
    expect(beat(watch, { spiky: 95 }, 0, 8)).toEqual([]);
    expect(beat(watch, { spiky: 40 }, 8, 1)).toEqual([]);
    expect(beat(watch, { spiky: 95 }, 9, 8)).toEqual([]);
  });

  it('counts only time after the task start', () => {
    // The agent was already saturated for 30 s when this task started at 30 s.
    const watch = new CpuWatch(30_000);
    expect(beat(watch, { busy: 95 }, 0, 39)).toEqual([]);
    expect(beat(watch, { busy: 95 }, 39, 2)).toEqual(['busy']);
  });
});
