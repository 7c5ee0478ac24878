import { once } from 'node:events';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArrivalSchedule, tokenWeights } from '../../src/coordinator/scheduler.ts';
import { readSummary } from '../support/cli-process.ts';
import { runCli, runTask } from '../support/loadmesh-cli.ts';
import { startNats, type NatsServer } from '../support/nats.ts';
import { startNginx, waitForAccessLog, type NginxServer } from '../support/nginx.ts';
import { stopChild } from '../support/nginx.ts';
import { startHttpServer } from '../support/http-server.ts';
import { startCli, type CliProcess } from '../support/processes.ts';

let nats: NatsServer;
let nginx: NginxServer;
let coordinator: CliProcess;
const agents = new Map<string, CliProcess>();

async function startAgent(id: string): Promise<void> {
  const agent = startCli(['agent', '--nats', nats.url, '--id', id, '--log-level', 'info']);
  agents.set(id, agent);
  await agent.waitFor('agent running');
}

/** Starts a server that responds after 20 ms and counts the requests it served. */
async function startSlowServer(): Promise<{
  url: string;
  served: () => number;
  stop: () => Promise<void>;
}> {
  let served = 0;
  const server = await startHttpServer((_request, _body, response) => {
    served += 1;
    setTimeout(() => response.end('ok'), 20);
  });
  return { url: server.url, served: () => served, stop: () => server.stop() };
}

/** Starts a closed-loop run on the 3 agents, for the test to disturb while it runs. */
function startClosedLoop(
  url: string,
  concurrency: number,
  durationSec: number,
  extra: string[] = [],
) {
  const args = ['--nats', nats.url, '--url', `${url}/`, '--concurrency', String(concurrency)];
  return runTask(
    [...args, '--agents', '3', '--duration', String(durationSec), '--no-preflight', ...extra],
    { timeoutMs: 60_000 },
  );
}

/** Starts `loadmesh run --nats` against nginx with `args`, for a test that acts while it runs. */
async function startBackgroundRun(args: string[]): Promise<{ run: CliProcess; out: string }> {
  const out = await mkdtemp(join(tmpdir(), 'loadmesh-results-'));
  const target = ['--url', `${nginx.url}/`, '--no-preflight', '--out', out];
  return { run: startCli(['run', '--nats', nats.url, ...target, ...args]), out };
}

/** Returns the id of the one running task, from `loadmesh ls`. */
async function runningTaskId(): Promise<string> {
  const listed = await runCli(['ls', '--nats', nats.url]);
  const running = listed.stdout.split('\n').filter((line) => line.includes(' Running '));
  expect(running, listed.stdout).toHaveLength(1);
  return running[0]!.split(/\s+/)[1]!;
}

/** Waits until a run started now is about 3 s into its load; a task starts about 1 s after the command. */
function intoTheLoad(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 4_000));
}

beforeAll(async () => {
  nats = await startNats();
  nginx = await startNginx({ locations: 'location / { return 200 "ok\\n"; }' });
  coordinator = startCli(['coordinator', '--nats', nats.url, '--log-level', 'info']);
  await coordinator.waitFor('coordinator running');
  await Promise.all(['a1', 'a2', 'a3'].map((id) => startAgent(id)));
  await coordinator.waitFor('"agentId":"a3"');

  // One short run warms the agents' JIT and connections, as a first run on any host would.
  await runTask([
    '--nats',
    nats.url,
    '--url',
    `${nginx.url}/`,
    '--rate',
    '600',
    '--duration',
    '2',
    '--agents',
    '3',
    '--no-preflight',
  ]);
}, 90_000);

afterAll(async () => {
  for (const agent of agents.values()) await stopChild(agent.child, 'SIGTERM');
  if (coordinator) await stopChild(coordinator.child, 'SIGTERM');
  await nginx?.stop();
  await nats?.stop();
});

describe('cluster over NATS', () => {
  it('3 agents share 3000 rps', async () => {
    const seed = 77;
    const logged = (await nginx.accessLog()).length;
    const { summary } = await runTask(
      [
        '--nats',
        nats.url,
        '--url',
        `${nginx.url}/`,
        '--rate',
        '3000',
        '--duration',
        '5',
        '--seed',
        String(seed),
        '--agents',
        '3',
        '--no-preflight',
      ],
      { timeoutMs: 60_000 },
    );

    const scheduled = new ArrivalSchedule({
      ratePerSec: 3000,
      burstiness: 1,
      seed,
      durationUs: 5e6,
    }).take(Infinity).length;
    const perAgent = summary.agents.map((a) => a.sent);
    expect(summary.agents).toHaveLength(3);
    expect(perAgent.reduce((a, b) => a + b, 0)).toBe(summary.totals.sent);
    expect(summary.totals.sent).toBe(scheduled);
    // nginx served every request that the agents counted, and no other.
    const served = await waitForAccessLog(nginx, logged + summary.totals.completed);
    expect(served.length - logged).toBe(summary.totals.completed);

    // Rate tokens follow each agent's free capacity at the start.
    const weights = tokenWeights(summary.agents);
    const totalWeight = weights.reduce((a, b) => a + b, 0);
    for (const [i, agent] of summary.agents.entries()) {
      expect(agent.freeCapacity).toBeGreaterThan(0);
      expect(agent.freeCapacity).toBeLessThanOrEqual(1);
      const expected = (scheduled * weights[i]!) / totalWeight;
      expect(Math.abs(agent.sent - expected)).toBeLessThan(scheduled * 0.01);
    }

    const achievedPerSec = summary.totals.completed / summary.durationSec;
    expect(Math.abs(achievedPerSec - scheduled / 5) / (scheduled / 5)).toBeLessThan(0.02);
    expect(summary.totals.ok).toBe(summary.totals.completed);
  }, 60_000);

  it('moves a killed agent share', async () => {
    // A 20 ms response keeps every closed-loop user busy, so each second's peak in flight equals
    // the concurrency in force, at a load that two cores carry.
    const slow = await startSlowServer();
    const run = startClosedLoop(slow.url, 4, 9);

    await intoTheLoad();
    agents.get('a2')!.child.kill('SIGKILL');
    const { summary } = await run;
    await slow.stop();

    const lost = summary.agents.filter((a) => a.lost);
    expect(lost.map((a) => a.agentId)).toEqual(['a2']);
    expect(summary.warnings.some((w) => w.includes('agent a2 was lost'))).toBe(true);
    expect(summary.endReason).toBe('duration');

    // Within 3 s of noticing the loss, the other two agents hold all 12 requests in flight.
    const lostTick = lost[0]!.lastTick;
    const after = summary.series.filter((row) => row.tick >= lostTick + 5 && row.tick <= 8);
    expect(after.length).toBeGreaterThan(0);
    for (const row of after) expect(row.counters.maxInFlight).toBe(12);
    for (const row of after) expect(row.agents).toBe(2);
  }, 60_000);

  it('moves a killed agent rate share', async () => {
    await startAgent('a2');
    const seed = 5;
    const args = [
      '--nats',
      nats.url,
      '--url',
      `${nginx.url}/`,
      '--rate',
      '300',
      '--seed',
      String(seed),
    ];
    const run = runTask([...args, '--agents', '3', '--duration', '9', '--no-preflight'], {
      timeoutMs: 60_000,
    });

    await intoTheLoad();
    agents.get('a2')!.child.kill('SIGKILL');
    const { summary } = await run;

    const lost = summary.agents.filter((a) => a.lost);
    expect(lost.map((a) => a.agentId)).toEqual(['a2']);
    // Once the loss is noticed (3 s), the two remaining agents take all the arrivals: each second
    // then sends about 300, where a share left with the dead agent would leave about 200.
    const after = summary.series.filter(
      (row) => row.tick >= lost[0]!.lastTick + 5 && row.tick <= 8,
    );
    expect(after.length).toBeGreaterThan(0);
    for (const row of after) expect(row.counters.sent).toBeGreaterThan(250);
    for (const row of after) expect(row.agents).toBe(2);
    // The tokens dealt to a2 before its loss was noticed never went out, and the report warns of it.
    expect(summary.warnings.some((w) => w.includes('scheduled sends never went out'))).toBe(true);
  }, 60_000);

  it('survives a NATS restart', async () => {
    const slow = await startSlowServer();
    await startAgent('a2');
    const run = startClosedLoop(slow.url, 2, 8);

    // A 4 s outage, longer than the 3 s of silence after which an agent counts as lost: the
    // coordinator was cut off too, so it must not mark the agents lost.
    await intoTheLoad();
    await nats.restart(4_000);
    const { summary } = await run;
    await slow.stop();

    // A window whose acknowledgement was lost in the outage comes again and is dropped as a
    // duplicate (seen 0 to 3 times here). The count equal to what the server handled shows
    // that no window was lost or merged twice.
    expect(summary.agents.filter((a) => a.lost)).toEqual([]);
    expect(summary.totals.completed).toBe(slow.served());
    const ticks = summary.series.filter((row) => row.tick < 8);
    expect(ticks).toHaveLength(8);
    for (const row of ticks) expect(row.agents).toBe(3);
  }, 60_000);

  it('stops a lost agent that comes back', async () => {
    const slow = await startSlowServer();
    const run = startClosedLoop(slow.url, 2, 10);

    // A frozen agent misses its heartbeats and is marked lost, as behind a network partition.
    // Once thawed, it reads the stop addressed to it instead of sending its old share again.
    await intoTheLoad();
    const frozen = agents.get('a3')!.child;
    frozen.kill('SIGSTOP');
    await new Promise((resolve) => setTimeout(resolve, 4_500));
    frozen.kill('SIGCONT');
    const { summary } = await run;
    await slow.stop();

    expect(summary.agents.filter((a) => a.lost).map((a) => a.agentId)).toEqual(['a3']);
    expect(summary.totals.completed).toBe(slow.served());
    // After the thaw, the two agents left hold all 6 requests in flight and a3 sends nothing.
    const late = summary.series.filter((row) => row.tick >= 8 && row.tick <= 9);
    expect(late.length).toBe(2);
    for (const row of late) expect(row.counters.maxInFlight).toBe(6);
  }, 60_000);

  it('resumes after a coordinator restart', async () => {
    const slow = await startSlowServer();
    const run = startClosedLoop(slow.url, 2, 8, ['--save-requests']);

    // A load change made before the restart is kept by the new coordinator.
    await intoTheLoad();
    const update = ['update', await runningTaskId(), '--nats', nats.url, '--concurrency', '3'];
    expect((await runCli(update)).code).toBe(0);
    coordinator.child.kill('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    coordinator = startCli(['coordinator', '--nats', nats.url, '--log-level', 'info']);
    await coordinator.waitFor('resuming a running task');
    const { summary, out } = await run;
    await slow.stop();

    expect(summary.totals.completed).toBe(slow.served());
    // Records reach the client through both coordinators, each batch once.
    const lines = (await readFile(join(out, 'requests.jsonl'), 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(slow.served());
    const ticks = summary.series.filter((row) => row.tick < 8);
    expect(ticks).toHaveLength(8);
    for (const row of ticks) expect(row.agents).toBe(3);
    for (const row of ticks) expect(row.counters.completed).toBeGreaterThan(0);
    expect(summary.config.optional.concurrency).toBe(3);
    expect(summary.changes?.map((c) => c.concurrency)).toEqual([3]);
    expect(ticks.at(-1)!.counters.maxInFlight).toBe(9);
  }, 60_000);

  it('keeps an open loop going through a coordinator restart', async () => {
    const slow = await startSlowServer();
    const target = ['--url', `${slow.url}/`, '--rate', '150', '--duration', '9', '--agents', '3'];
    const args = ['--nats', nats.url, ...target, '--seed', '11', '--no-preflight'];
    const run = runTask(args, { timeoutMs: 60_000 });

    await intoTheLoad();
    coordinator.child.kill('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    coordinator = startCli(['coordinator', '--nats', nats.url, '--log-level', 'info']);
    await coordinator.waitFor('resuming a running task');
    const { summary } = await run;
    await slow.stop();

    expect(summary.totals.completed).toBe(slow.served());
    // Tokens are dealt 0.5 s ahead, and 0.3 s past that an agent paces its share itself, so
    // about half a second of arrivals goes missing, and no second of the outage goes without load.
    const rows = summary.series.filter((row) => row.tick < 9);
    expect(rows).toHaveLength(9);
    for (const row of rows) expect(row.counters.sent).toBeGreaterThan(150 * 0.3);
    const scheduled = new ArrivalSchedule({
      ratePerSec: 150,
      burstiness: 1,
      seed: 11,
      durationUs: 9e6,
    }).take(Infinity).length;
    expect(summary.totals.sent).toBeGreaterThan(scheduled * 0.92);
    expect(summary.totals.sent).toBeLessThan(scheduled * 1.05);
  }, 60_000);

  it('changes the concurrency of a running task', async () => {
    const slow = await startSlowServer();
    const run = startClosedLoop(slow.url, 1, 8);

    await intoTheLoad();
    const updated = await runCli([
      'update',
      await runningTaskId(),
      '--nats',
      nats.url,
      '-Doptional.concurrency=3',
    ]);
    expect(updated.code, updated.stderr).toBe(0);
    expect(updated.stdout).toContain('load changed to concurrency 3 per agent');
    const { summary } = await run;
    await slow.stop();

    // Each of the 3 agents kept 1 request in flight, then 3 after the change.
    const peaks = summary.series.filter((row) => row.tick < 8).map((r) => r.counters.maxInFlight);
    expect(peaks.slice(0, 2)).toEqual([3, 3]);
    expect(peaks.slice(-2)).toEqual([9, 9]);
    expect(summary.config.optional.concurrency).toBe(3);
    expect(summary.changes).toHaveLength(1);
    expect(summary.changes![0]!.concurrency).toBe(3);
  }, 60_000);

  it('changes the rate of a running task', async () => {
    const { run, out } = await startBackgroundRun([
      '--rate',
      '100',
      '--duration',
      '8',
      '--agents',
      '3',
    ]);
    await run.waitFor('[2s] sent');
    const taskId = await runningTaskId();

    // An open loop has no concurrency to change: the coordinator rejects it.
    const rejected = await runCli(['update', taskId, '--nats', nats.url, '--concurrency', '5']);
    expect(rejected.code).toBe(2);
    expect(rejected.stderr).toContain('an open-loop task changes its rate only');
    const tooFast = await runCli(['update', taskId, '--nats', nats.url, '--rate', '1e9']);
    expect(tooFast.code).toBe(2);
    expect(tooFast.stderr).toContain('optional.qps 1000000000 is above 300000 req/s');

    const updated = await runCli(['update', taskId, '--nats', nats.url, '--rate', '300']);
    expect(updated.code, updated.stderr).toBe(0);
    await once(run.child, 'exit');
    const summary = await readSummary(out);

    const sent = summary.series.filter((row) => row.tick < 8).map((r) => r.counters.sent);
    expect(Math.max(...sent.slice(0, 2))).toBeLessThan(150);
    for (const perSecond of sent.slice(-3)) expect(Math.abs(perSecond - 300)).toBeLessThan(60);
    expect(summary.warnings.filter((w) => w.includes('never went out'))).toEqual([]);
  }, 60_000);

  it('stops the cluster task on Ctrl-C', async () => {
    const { run, out } = await startBackgroundRun([
      '--rate',
      '100',
      '--duration',
      '60',
      '--agents',
      '3',
    ]);
    await run.waitFor('[2s] sent');

    run.child.kill('SIGINT');
    const [code] = (await once(run.child, 'exit')) as [number | null];

    expect(code, run.output()).toBe(0);
    expect(run.output()).toContain('stopping the task on the cluster');
    const summary = await readSummary(out);
    expect(summary.endReason).toBe('stopped');
    expect(summary.durationSec).toBeLessThan(10);
  }, 60_000);

  it('says it waits for agents, and starts once they join', async () => {
    const { run, out } = await startBackgroundRun(['--requests', '40', '--agents', '4']);
    await run.waitFor('waiting for agents: 3 of 4 joined');

    await startAgent('a4');
    const [code] = (await once(run.child, 'exit')) as [number | null];
    await stopChild(agents.get('a4')!.child, 'SIGTERM');
    agents.delete('a4');
    // Later tests take any 3 agents, so a4 must be gone from the coordinator's list first.
    const deadline = Date.now() + 10_000;
    const a4Lost = (): boolean =>
      coordinator
        .output()
        .split('\n')
        .some((line) => line.includes('"agentId":"a4"') && line.includes('agent lost'));
    while (!a4Lost() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(a4Lost()).toBe(true);

    expect(code, run.output()).toBe(0);
    const summary = await readSummary(out);
    expect(summary.agents.map((a) => a.agentId).sort()).toEqual(['a1', 'a2', 'a3', 'a4']);
    expect(summary.totals.ok).toBe(40);
  }, 60_000);

  it('ends unstarted tasks on restart and stop', async () => {
    // A task waiting for a fifth agent when its coordinator dies ends at the restart.
    const waiting = await startBackgroundRun(['--requests', '40', '--agents', '5']);
    await waiting.run.waitFor('waiting for agents: 3 of 5 joined');
    coordinator.child.kill('SIGKILL');
    await once(coordinator.child, 'exit');
    coordinator = startCli(['coordinator', '--nats', nats.url, '--log-level', 'info']);
    const [restartCode] = (await once(waiting.run.child, 'exit')) as [number | null];
    expect(restartCode).toBe(2);
    expect(waiting.run.output()).toContain('the coordinator restarted before the task started');

    // Ctrl-C on a task that waits for agents stops it before any load.
    const stopped = await startBackgroundRun(['--requests', '40', '--agents', '5']);
    await stopped.run.waitFor('waiting for agents');
    stopped.run.child.kill('SIGINT');
    const [stopCode] = (await once(stopped.run.child, 'exit')) as [number | null];
    expect(stopCode).toBe(2);
    expect(stopped.run.output()).toContain('the task was stopped before it started');

    // Neither blocks the next task.
    const { summary } = await runTask([
      '--nats',
      nats.url,
      '--url',
      `${nginx.url}/`,
      '--requests',
      '30',
      '--agents',
      '3',
      '--no-preflight',
    ]);
    expect(summary.totals.ok).toBe(30);
    const listed = await runCli(['ls', '--nats', nats.url]);
    expect(listed.stdout.match(/CreateFailed/g)).toHaveLength(1);
    expect(listed.stdout).toContain('the coordinator restarted before the task started');
    expect(listed.stdout).toMatch(/Stopped +\S+ +the task was stopped before it started/);
  }, 60_000);

  it('saves request records over NATS', async () => {
    const { summary, out } = await runTask([
      '--nats',
      nats.url,
      '--url',
      `${nginx.url}/`,
      '--requests',
      '60',
      '--agents',
      '3',
      '--save-requests',
      '--no-preflight',
    ]);

    const lines = (await readFile(join(out, 'requests.jsonl'), 'utf8')).trim().split('\n');
    const records = lines.map((line) => JSON.parse(line) as { agentId: string; status: number });
    expect(summary.totals.completed).toBe(60);
    expect(records).toHaveLength(60);
    expect(new Set(records.map((r) => r.agentId))).toEqual(new Set(['a1', 'a2', 'a3']));
    expect(records.every((r) => r.status === 200)).toBe(true);
  }, 60_000);

  it('keeps task records in the lm-tasks bucket', async () => {
    const { summary } = await runTask([
      '--nats',
      nats.url,
      '--url',
      `${nginx.url}/`,
      '--requests',
      '50',
      '--agents',
      '3',
      '--no-preflight',
    ]);

    const connection = await connect({ servers: nats.url });
    try {
      const kv = await new Kvm(connection).open('lm-tasks');
      const entry = await kv.get(summary.taskId);
      const record = JSON.parse(new TextDecoder().decode(entry!.value)) as {
        status: string;
        name: string;
      };
      expect(record.status).toBe('Stopped');
      expect(record.name).toBe(summary.name);

      // A client that missed the summary event requests it with lm.ctl.summary.
      const reply = await connection.request(
        'lm.ctl.summary',
        JSON.stringify({ taskId: summary.taskId }),
      );
      const answer = reply.json<{ ok: boolean; result: { summary: { totals: { ok: number } } } }>();
      expect(answer.ok).toBe(true);
      expect(answer.result.summary.totals.ok).toBe(50);
    } finally {
      await connection.close();
    }

    // Every task of this file targets nginx and so has the same name: only the id is unique.
    const byName = await runCli(['desc', summary.name, '--nats', nats.url]);
    expect(byName.code).toBe(2);
    expect(byName.stderr).toContain(`tasks are named "${summary.name}"`);
    expect(byName.stderr).toContain('Fix: give the task id');
    const byId = await runCli(['desc', summary.taskId, '--nats', nats.url]);
    expect(byId.code, byId.stderr).toBe(0);
    expect(byId.stdout).toContain(summary.taskId);
  }, 60_000);
});
