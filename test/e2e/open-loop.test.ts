import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArrivalSchedule } from '../../src/coordinator/scheduler.ts';
import { runTask } from '../support/loadmesh-cli.ts';
import { startNginx, waitForAccessLog, type NginxServer } from '../support/nginx.ts';

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
    const { summary } = await runTask([
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

    const perSecond = summary.series.slice(0, 10).map((row) => row.counters.sent);
    expect(Math.min(...perSecond)).toBeGreaterThan(400);
    expect(summary.endReason).toBe('duration');

    // nginx writes a line after it sends the response, through a buffer flushed every 100 ms.
    const served = (await waitForAccessLog(nginx, scheduled)).length;
    expect(served).toBe(scheduled);
  }, 40_000);

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
