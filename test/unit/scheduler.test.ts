import { describe, expect, it } from 'vitest';
import { ArrivalSchedule, TokenDealer, tokenWeights } from '../../src/coordinator/scheduler.ts';
import { gammaCdf, ksCritical01, ksStatistic } from '../support/stats.ts';

function gapsUs(options: {
  ratePerSec: number;
  burstiness: number;
  seed: number;
  durationSec: number;
}): number[] {
  const schedule = new ArrivalSchedule({ ...options, durationUs: options.durationSec * 1e6 });
  const offsets = schedule.take(Number.MAX_SAFE_INTEGER);
  return offsets.slice(1).map((offset, i) => offset - offsets[i]!);
}

describe('ArrivalSchedule', () => {
  it('gaps are exponential at burstiness 1', () => {
    const gaps = gapsUs({ ratePerSec: 500, burstiness: 1, seed: 42, durationSec: 10 });
    const meanUs = 1e6 / 500;

    expect(gaps.length).toBeGreaterThan(4800);
    const d = ksStatistic(gaps, (x) => 1 - Math.exp(-x / meanUs));
    expect(d).toBeLessThan(ksCritical01(gaps.length));
  });

  it.each([0.25, 0.5, 2, 4])('gaps follow the gamma at burstiness %s', (burstiness) => {
    const gaps = gapsUs({ ratePerSec: 500, burstiness, seed: 7, durationSec: 10 });
    const scaleUs = 1e6 / 500 / burstiness;

    const d = ksStatistic(gaps, (x) => gammaCdf(x, burstiness, scaleUs));
    expect(d).toBeLessThan(ksCritical01(gaps.length));
  });

  it('gamma gaps are not exponential', () => {
    // The KS check must be able to tell the shapes apart, or the tests above prove nothing.
    const gaps = gapsUs({ ratePerSec: 500, burstiness: 4, seed: 7, durationSec: 10 });
    const d = ksStatistic(gaps, (x) => 1 - Math.exp(-x / 2000));
    expect(d).toBeGreaterThan(ksCritical01(gaps.length));
  });

  it('mean rate matches the target', () => {
    const schedule = new ArrivalSchedule({
      ratePerSec: 500,
      burstiness: 1,
      seed: 1,
      durationUs: 60e6,
    });
    const count = schedule.take(Number.MAX_SAFE_INTEGER).length;
    // Poisson count over 60 s has standard deviation sqrt(30000) = 173, so 1% is 1.7 sigma.
    expect(Math.abs(count - 30_000) / 30_000).toBeLessThan(0.01);
  });

  it('same seed gives the same schedule', () => {
    const a = new ArrivalSchedule({ ratePerSec: 300, burstiness: 0.5, seed: 99, durationUs: 5e6 });
    const b = new ArrivalSchedule({ ratePerSec: 300, burstiness: 0.5, seed: 99, durationUs: 5e6 });
    const c = new ArrivalSchedule({ ratePerSec: 300, burstiness: 0.5, seed: 100, durationUs: 5e6 });

    const all = a.take(Number.MAX_SAFE_INTEGER);
    expect(b.take(Number.MAX_SAFE_INTEGER)).toEqual(all);
    expect(c.take(Number.MAX_SAFE_INTEGER)).not.toEqual(all);
  });

  it('taking in ticks equals taking at once', () => {
    const whole = new ArrivalSchedule({
      ratePerSec: 1000,
      burstiness: 1,
      seed: 5,
      durationUs: 2e6,
    });
    const ticked = new ArrivalSchedule({
      ratePerSec: 1000,
      burstiness: 1,
      seed: 5,
      durationUs: 2e6,
    });

    const pieces: number[] = [];
    for (let untilUs = 100_000; !ticked.ended && untilUs < 10e6; untilUs += 100_000)
      pieces.push(...ticked.take(untilUs));
    expect(pieces).toEqual(whole.take(Number.MAX_SAFE_INTEGER));
    expect(ticked.ended).toBe(true);
  });

  it('stops at maxArrivals', () => {
    const schedule = new ArrivalSchedule({
      ratePerSec: 1000,
      burstiness: 1,
      seed: 5,
      durationUs: 60e6,
      maxArrivals: 123,
    });
    expect(schedule.take(Number.MAX_SAFE_INTEGER)).toHaveLength(123);
    expect(schedule.ended).toBe(true);
  });

  it('offsets stay inside the duration', () => {
    const schedule = new ArrivalSchedule({
      ratePerSec: 1000,
      burstiness: 1,
      seed: 5,
      durationUs: 1e6,
    });
    const offsets = schedule.take(Number.MAX_SAFE_INTEGER);
    expect(Math.max(...offsets)).toBeLessThan(1e6);
    expect([...offsets].sort((a, b) => a - b)).toEqual(offsets);
  });

  it('starts late at startUs', () => {
    // As an agent's holdover does: its own arrivals from 3 s into the task.
    const schedule = new ArrivalSchedule({
      ratePerSec: 200,
      burstiness: 1,
      seed: 5,
      startUs: 3_000_000,
      durationUs: 13_000_000,
    });

    const offsets = schedule.take(8_000_000);
    expect(schedule.ended).toBe(false);
    expect(offsets[0]).toBeGreaterThanOrEqual(3_000_000);
    expect(offsets.at(-1)).toBeLessThan(8_000_000);
    // 5 s at 200 per second: 1000 arrivals, give or take 3 standard deviations.
    expect(Math.abs(offsets.length - 1000)).toBeLessThan(3 * Math.sqrt(1000));
  });

  it('ends a late start at the duration', () => {
    const schedule = new ArrivalSchedule({
      ratePerSec: 100,
      burstiness: 1,
      seed: 5,
      startUs: 1_000_000,
      durationUs: 2_000_000,
    });

    const offsets = schedule.take(60_000_000);
    expect(schedule.ended).toBe(true);
    expect(offsets.at(-1)).toBeLessThan(2_000_000);
    expect(schedule.take(70_000_000)).toEqual([]);
  });
});

describe('TokenDealer', () => {
  it('equal weights deal evenly', () => {
    const hands = new TokenDealer([1, 1, 1]).deal(Array.from({ length: 300 }, (_, i) => i));
    expect(hands.map((h) => h.length)).toEqual([100, 100, 100]);
  });

  it('weights set the shares', () => {
    const hands = new TokenDealer([3, 1]).deal(Array.from({ length: 400 }, (_, i) => i));
    expect(hands.map((h) => h.length)).toEqual([300, 100]);
  });

  it('every offset is dealt once', () => {
    const offsets = Array.from({ length: 101 }, (_, i) => i * 7);
    const hands = new TokenDealer([1, 2, 5]).deal(offsets);
    expect(hands.flat().sort((a, b) => a - b)).toEqual(offsets);
  });

  it('weights agents by free capacity', () => {
    const agents = [{ freeCapacity: 0.9 }, { freeCapacity: 0.3 }, { freeCapacity: 0 }, {}];
    expect(tokenWeights(agents)).toEqual([0.9, 0.3, 0.05, 1]);

    const hands = new TokenDealer(tokenWeights(agents.slice(0, 2))).deal(
      Array.from({ length: 1200 }, (_, i) => i),
    );
    expect(hands.map((h) => h.length)).toEqual([900, 300]);
  });
});
