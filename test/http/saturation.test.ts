import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTask } from '../support/loadmesh-cli.ts';
import { startNginx, type NginxServer } from '../support/nginx.ts';

let nginx: NginxServer;

beforeAll(async () => {
  nginx = await startNginx({ locations: 'location / { return 200 "ok\\n"; }' });
});

afterAll(async () => {
  await nginx?.stop();
});

describe('load-generator warning', () => {
  it('flags a saturated agent', async () => {
    // One agent thread with 32 users against nginx on loopback spends nearly all its time
    // sending and reading, which keeps its event loop above 90% for the whole run.
    const args = ['--url', `${nginx.url}/`, '--concurrency', '32', '--duration', '13'];
    const { summary, stderr } = await runTask([...args, '--no-preflight', '--log-level', 'warn'], {
      timeoutMs: 60_000,
    });

    const cpuWarnings = summary.warnings.filter((w) => w.includes('90% CPU'));
    expect(cpuWarnings).toEqual([
      `agent embedded-1 on ${hostname()} used more than 90% CPU for 10 s or more: the load generator, not the target, may be the limit`,
    ]);
    expect(stderr).toContain('agent CPU above 90% for 10 s');
  }, 60_000);

  it('stays quiet for a light load', async () => {
    const args = ['--url', `${nginx.url}/`, '--rate', '50', '--duration', '12'];
    const { summary } = await runTask([...args, '--no-preflight'], { timeoutMs: 60_000 });

    expect(summary.totals.ok).toBeGreaterThan(0);
    expect(summary.warnings.filter((w) => w.includes('90% CPU'))).toEqual([]);
  }, 60_000);
});
