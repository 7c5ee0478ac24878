import { createServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/loadmesh-cli.ts';
import { startNats, type NatsServer } from '../support/nats.ts';
import { freePort } from '../support/ports.ts';
import { stopChild } from '../support/nginx.ts';
import { startCli, type CliProcess } from '../support/processes.ts';

let nats: NatsServer | undefined;
let supervisor: CliProcess | undefined;
let agentPids: number[] = [];

afterEach(async () => {
  if (supervisor) await stopChild(supervisor.child, 'SIGKILL');
  for (const pid of agentPids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  await nats?.stop();
  nats = undefined;
  supervisor = undefined;
  agentPids = [];
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits up to `timeoutMs` for every process in `pids` to end; returns those still running. */
async function waitForExit(pids: number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some(isAlive) && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 100));
  return pids.filter(isAlive);
}

/** Starts `loadmesh agent --processes 2` and returns the pids of its two agent processes. */
async function startAgents(url: string): Promise<number[]> {
  supervisor = startCli(['agent', '--nats', url, '--processes', '2', '--id', 'sd']);
  await supervisor.waitFor('"agentId":"sd-1","nats"');
  await supervisor.waitFor('"agentId":"sd-2","nats"');

  const running = supervisor
    .output()
    .split('\n')
    .filter((line) => line.includes('"msg":"agent running"'));
  return running.map((line) => (JSON.parse(line) as { pid: number }).pid);
}

describe('agent processes', () => {
  it('stop on SIGTERM while NATS is down', async () => {
    nats = await startNats();
    agentPids = await startAgents(nats.url);
    expect(agentPids).toHaveLength(2);

    await nats.stop();
    nats = undefined;
    supervisor!.child.kill('SIGTERM');

    expect(await waitForExit([supervisor!.child.pid!, ...agentPids], 8_000)).toEqual([]);
    expect(supervisor!.output()).not.toContain('internal error');
  }, 30_000);

  it('exit 2 when none can reach NATS', async () => {
    const port = await freePort('127.0.0.1');

    const result = await runCli(
      ['agent', '--nats', `nats://127.0.0.1:${port}`, '--processes', '2', '--id', 'gone'],
      { timeoutMs: 30_000 },
    );

    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`cannot connect to NATS at nats://127.0.0.1:${port}`);
    expect(result.stderr).toContain('error: agent process gone-1 exited (code 2)');
    expect(result.stderr).toContain('error: agent process gone-2 exited (code 2)');
  }, 60_000);

  it('stop when their supervisor is killed', async () => {
    nats = await startNats();
    agentPids = await startAgents(nats.url);

    supervisor!.child.kill('SIGKILL');

    expect(await waitForExit(agentPids, 8_000)).toEqual([]);
  }, 30_000);
});

describe('loadmesh ls', () => {
  it('gives up on a port that is not NATS', async () => {
    // A server that accepts connections and never sends NATS's INFO line.
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    try {
      const started = performance.now();
      const result = await runCli(['ls', '--nats', `nats://127.0.0.1:${port}`], {
        timeoutMs: 30_000,
      });

      expect(result.code).toBe(2);
      expect(result.stderr).toContain(
        `cannot connect to NATS at nats://127.0.0.1:${port}: timeout`,
      );
      expect(performance.now() - started).toBeLessThan(15_000);
    } finally {
      silent.close();
    }
  }, 60_000);
});
