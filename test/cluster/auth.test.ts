import { afterEach, describe, expect, it } from 'vitest';
import { runCli, runTask } from '../support/loadmesh-cli.ts';
import { startNats, type NatsServer } from '../support/nats.ts';
import { startNginx, stopChild, type NginxServer } from '../support/nginx.ts';
import { startCli, type CliProcess } from '../support/processes.ts';

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Starts nats-server with `serverArgs`, nginx, and one coordinator and agent with `clientArgs`. */
async function cluster(
  serverArgs: string[],
  clientArgs: string[],
): Promise<{ nats: NatsServer; nginx: NginxServer }> {
  const nats = await startNats('127.0.0.1', serverArgs);
  cleanups.push(() => nats.stop());
  const nginx = await startNginx({ locations: 'location / { return 200 "ok\\n"; }' });
  cleanups.push(() => nginx.stop());

  const processes: CliProcess[] = [
    startCli(['coordinator', '--nats', nats.url, ...clientArgs]),
    startCli(['agent', '--nats', nats.url, '--id', 'auth-agent', ...clientArgs]),
  ];
  cleanups.push(async () => {
    for (const process of processes) await stopChild(process.child, 'SIGTERM');
  });
  await processes[0]!.waitFor('coordinator running');
  await processes[1]!.waitFor('agent running');
  return { nats, nginx };
}

describe('NATS authentication', () => {
  it('passes user and password through', async () => {
    const credentials = ['--nats-user', 'loadmesh', '--nats-pass', 's3cret'];
    const { nats, nginx } = await cluster(['--user', 'loadmesh', '--pass', 's3cret'], credentials);

    const { summary } = await runTask([
      '--nats',
      nats.url,
      ...credentials,
      '--url',
      `${nginx.url}/`,
      '--requests',
      '20',
      '--no-preflight',
    ]);
    expect(summary.totals.ok).toBe(20);
  }, 60_000);

  it('passes a token through', async () => {
    const token = ['--nats-token', 't0ken'];
    const { nats, nginx } = await cluster(['--auth', 't0ken'], token);

    const { summary } = await runTask([
      '--nats',
      nats.url,
      ...token,
      '--url',
      `${nginx.url}/`,
      '--requests',
      '20',
      '--no-preflight',
    ]);
    expect(summary.totals.ok).toBe(20);
  }, 60_000);

  it('reports a wrong password', async () => {
    const { nats, nginx } = await cluster(
      ['--user', 'loadmesh', '--pass', 's3cret'],
      ['--nats-user', 'loadmesh', '--nats-pass', 's3cret'],
    );

    const result = await runCli(
      [
        'run',
        '--nats',
        nats.url,
        '--nats-user',
        'loadmesh',
        '--nats-pass',
        'wrong',
        '--url',
        `${nginx.url}/`,
        '--requests',
        '5',
        '--quiet',
      ],
      { timeoutMs: 30_000 },
    );
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/authoriz/i);
  }, 60_000);
});
