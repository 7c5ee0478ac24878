import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArrivalSchedule } from '../../src/coordinator/scheduler.ts';
import type { RequestRecord } from '../../src/protocol/index.ts';
import { runTask } from '../support/loadmesh-cli.ts';
import { startNginx, waitForAccessLog, type NginxServer } from '../support/nginx.ts';
import { gammaCdf, ksCritical01, ksStatistic } from '../support/stats.ts';

/** Reads the intended send times of a run's requests.jsonl, in µs from the start, sorted. */
async function intendedUs(out: string): Promise<number[]> {
  const lines = (await readFile(join(out, 'requests.jsonl'), 'utf8')).trim().split('\n');
  const records = lines.map((line) => JSON.parse(line) as RequestRecord);
  return records.map((r) => Math.round(r.intendedMs * 1000)).sort((a, b) => a - b);
}

function gaps(times: number[]): number[] {
  return times.slice(1).map((time, i) => time - times[i]!);
}

let nginx: NginxServer;

beforeAll(async () => {
  nginx = await startNginx({ locations: 'location / { return 200 "ok\\n"; }' });
});

afterAll(async () => {
  await nginx?.stop();
});

describe('open loop against nginx', () => {
  it('achieves 500 rps for 10 s', async () => {
    const seed = 1234;
    const { summary, out } = await runTask([
      '--url',
      `${nginx.url}/`,
      '--rate',
      '500',
      '--duration',
      '10',
      '--seed',
      String(seed),
      '--agents',
      '2',
      '--no-preflight',
      '--save-requests',
    ]);

    // A Poisson schedule's count over 10 s varies by about 1.4% (sqrt(5000) / 5000), so the
    // achieved rate is checked against the schedule itself, and the schedule against the target.
    const scheduled = new ArrivalSchedule({
      ratePerSec: 500,
      burstiness: 1,
      seed,
      durationUs: 10e6,
    }).take(Infinity).length;
    expect(Math.abs(scheduled - 5000)).toBeLessThan(3 * Math.sqrt(5000));

    expect(summary.totals.sent).toBe(scheduled);
    expect(summary.totals.ok).toBe(scheduled);
    expect(summary.totals.dropped).toBe(0);
    expect(summary.warnings).toEqual([]);
    const achievedPerSec = summary.totals.completed / summary.durationSec;
    expect(Math.abs(achievedPerSec - scheduled / 10) / (scheduled / 10)).toBeLessThan(0.02);
    // This seed's schedule is 1.5% above the target, so the target is met within 2% too.
    expect(Math.abs(achievedPerSec - 500) / 500).toBeLessThan(0.02);

    // The intended send times that both agents recorded are the schedule, and their gaps are
    // exponential with a mean of 2 ms.
    const intended = await intendedUs(out);
    const offsets = new ArrivalSchedule({ ratePerSec: 500, burstiness: 1, seed, durationUs: 10e6 })
      .take(Infinity)
      .map((offset) => Math.round(offset));
    expect(intended).toHaveLength(scheduled);
    for (const [i, time] of intended.entries())
      expect(Math.abs(time - offsets[i]!)).toBeLessThanOrEqual(1);
    const d = ksStatistic(gaps(intended), (x) => 1 - Math.exp(-x / 2_000));
    expect(d).toBeLessThan(ksCritical01(intended.length - 1));

    const perSecond = summary.series.slice(0, 10).map((row) => row.counters.sent);
    expect(Math.min(...perSecond)).toBeGreaterThan(400);
    expect(summary.endReason).toBe('duration');

    // nginx writes a line after it sends the response, through a buffer flushed every 100 ms.
    const served = (await waitForAccessLog(nginx, scheduled)).length;
    expect(served).toBe(scheduled);
  }, 40_000);

  it('sends gamma gaps at burstiness 4', async () => {
    const args = ['--url', `${nginx.url}/`, '--rate', '500', '--duration', '4'];
    const { summary, out } = await runTask([
      ...args,
      '--burstiness',
      '4',
      '--no-preflight',
      '--save-requests',
    ]);

    const intended = await intendedUs(out);
    expect(intended).toHaveLength(summary.totals.sent);
    const scaleUs = 2_000 / 4;
    const d = ksStatistic(gaps(intended), (x) => gammaCdf(x, 4, scaleUs));
    expect(d).toBeLessThan(ksCritical01(intended.length - 1));
    // The same gaps fail against the exponential, so the check above can fail.
    const exponential = ksStatistic(gaps(intended), (x) => 1 - Math.exp(-x / 2_000));
    expect(exponential).toBeGreaterThan(ksCritical01(intended.length - 1));
  }, 30_000);

  it('client wait stays small while the target keeps up', async () => {
    const { summary } = await runTask([
      '--url',
      `${nginx.url}/`,
      '--rate',
      '200',
      '--duration',
      '3',
      '--no-preflight',
    ]);

    // Latency starts at the intended send time; a pacer that sends late shows here first.
    expect(summary.latency.waitUs.p50Us).toBeLessThan(2_000);
    expect(summary.latency.rtUs.count).toBe(summary.totals.ok);
  }, 30_000);
});
