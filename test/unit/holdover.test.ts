import { describe, expect, it } from 'vitest';
import { Holdover } from '../../src/agent/holdover.ts';

describe('Holdover', () => {
  it('draws arrivals from its start at the share rate', () => {
    const holdover = new Holdover({
      ratePerSec: 200,
      burstiness: 1,
      seed: 5,
      fromUs: 3_000_000,
      durationUs: 13_000_000,
    });

    const { offsetsUs, ended } = holdover.take(8_000_000);
    expect(ended).toBe(false);
    expect(offsetsUs[0]).toBeGreaterThanOrEqual(3_000_000);
    expect(offsetsUs.at(-1)).toBeLessThan(8_000_000);
    // 5 s at 200 per second: 1000 arrivals, give or take 3 standard deviations.
    expect(Math.abs(offsetsUs.length - 1000)).toBeLessThan(3 * Math.sqrt(1000));
  });

  it('ends at the task duration', () => {
    const holdover = new Holdover({
      ratePerSec: 100,
      burstiness: 1,
      seed: 5,
      fromUs: 1_000_000,
      durationUs: 2_000_000,
    });

    const { offsetsUs, ended } = holdover.take(60_000_000);
    expect(ended).toBe(true);
    expect(offsetsUs.at(-1)).toBeLessThan(2_000_000);
    expect(holdover.take(70_000_000).offsetsUs).toEqual([]);
  });
});
