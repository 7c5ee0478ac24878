/**
 * Measures a real `loadmesh coordinator` process serving 1000 simulated agents over a real
 * nats-server: their hellos and heartbeats, the assignment and acceptance, rate tokens dealt to
 * every agent 10 times a second, and one acknowledged window a second from each agent. Prints the
 * coordinator's CPU use as a share of one core, read from /proc, while agents are idle and while
 * the task runs. Target: below 25% while the task runs.
 *
 *   npx tsx bench/coordinator-nats.ts [--agents 1000] [--seconds 10]
 *
 * The simulated agents run in a child process of this script (the same file with --simulate),
 * and the windows they send are made before the task starts, with 200 requests each.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  decodeMessage,
  encodeMessage,
  makeSubjects,
  SeededRandom,
  type Message,
} from '../src/protocol/index.ts';
import { startNats } from '../test/support/nats.ts';
import { stopChild } from '../test/support/nginx.ts';
import { LOADMESH_CLI } from './tools.ts';
import { encodedWindow } from './windows.ts';

const { values } = parseArgs({
  options: {
    agents: { type: 'string' },
    seconds: { type: 'string' },
    simulate: { type: 'string' },
  },
});
const agentCount = Number(values.agents ?? 1000);
const seconds = Number(values.seconds ?? 10);
const subjects = makeSubjects();

if (values.simulate) await simulate(values.simulate);
else await measure();

/** Runs the agents' side until the task ends: prints `started` and `ended` for the parent. */
async function simulate(natsUrl: string): Promise<void> {
  const nc = await connect({ servers: natsUrl, name: 'simulated-agents' });
  const ids = Array.from({ length: agentCount }, (_, i) => `sim-${i}`);
  const announce = (type: 'hello' | 'heartbeat'): void => {
    if (nc.isClosed() || nc.isDraining()) return;
    for (const agentId of ids) {
      const base = { agentId, host: 'sim', cores: 2, version: 'bench' };
      const message: Message =
        type === 'hello'
          ? { type, ...base, pid: process.pid }
          : { type, ...base, cpuPercent: 10, freeCapacity: 0.9, tasks: [] };
      const subject = type === 'hello' ? subjects.agentHello : subjects.agentHeartbeat(agentId);
      nc.publish(subject, encodeMessage(message));
    }
  };
  announce('hello');
  const heartbeats = setInterval(() => announce('heartbeat'), 1_000);
  nc.subscribe(subjects.agentDiscover, { callback: () => announce('hello') });

  let taskId: string | undefined;
  const assigned = new Set<string>();
  nc.subscribe(subjects.anyAssign, {
    callback: (_error, m) => {
      const message = decodeMessage(m.data);
      if (message.type !== 'assign') return;
      taskId ??= message.taskId;
      assigned.add(message.agentId);
      if (assigned.size === ids.length) void accept(nc, message.taskId, ids);
    },
  });
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (nc.isClosed()) {
        clearInterval(timer);
        clearInterval(heartbeats);
        resolve();
      }
    }, 200);
  });
}

/** Makes every window, accepts the task for every agent, and sends windows once it starts. */
async function accept(nc: NatsConnection, taskId: string, ids: string[]): Promise<void> {
  const random = new SeededRandom(1);
  const windows = Array.from({ length: seconds }, (_, tick) =>
    ids.map((agentId) => encodedWindow(agentId, tick, random, taskId)),
  );
  const windowSubject = subjects.window(taskId);

  let tokens = 0;
  nc.subscribe(subjects.tokens(taskId, '*'), {
    callback: () => {
      tokens += 1;
    },
  });
  nc.subscribe(subjects.control(taskId), {
    callback: (_error, m) => {
      const message = decodeMessage(m.data);
      if (message.type !== 'control' || message.action !== 'start') return;
      console.log('started');
      const startMs = performance.now() + message.startInMs;
      for (let tick = 0; tick < seconds; tick++) {
        const dueMs = startMs + (tick + 1) * 1_000 + 20;
        setTimeout(() => {
          for (const data of windows[tick]!)
            nc.request(windowSubject, data, { timeout: 10_000 }).catch(() => undefined);
          if (tick === seconds - 1) setTimeout(() => void finish(), 500);
        }, dueMs - performance.now());
      }
    },
  });

  const finish = async (): Promise<void> => {
    for (const agentId of ids) {
      const done: Message = { type: 'done', taskId, agentId, lastTick: seconds - 1, incomplete: 0 };
      nc.publish(windowSubject, encodeMessage(done));
    }
    console.log(`ended, ${tokens} token messages received`);
    await nc.drain();
  };

  for (const agentId of ids)
    nc.publish(windowSubject, encodeMessage({ type: 'accepted', taskId, agentId }));
}

/** Starts nats-server, a coordinator and the simulated agents, runs a task and prints the CPU. */
async function measure(): Promise<void> {
  const nats = await startNats();
  const out = await mkdtemp(join(tmpdir(), 'loadmesh-bench-'));
  const children: ChildProcess[] = [];
  try {
    const coordinator = spawn(
      process.execPath,
      [LOADMESH_CLI, 'coordinator', '--nats', nats.url, '--log-level', 'error'],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    children.push(coordinator);
    const simulator = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        fileURLToPath(import.meta.url),
        '--simulate',
        nats.url,
        '--agents',
        String(agentCount),
        '--seconds',
        String(seconds),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(simulator);
    const lines = createInterface({ input: simulator.stdout! });
    const started = new Promise<void>((resolve) =>
      lines.on('line', (line) => {
        console.log(`simulated agents: ${line}`);
        if (line === 'started') resolve();
      }),
    );

    // Agents idle: only their heartbeats reach the coordinator.
    await sleep(4_000);
    const idle = await cpuShare(coordinator.pid!, 3_000);

    const run = spawn(
      process.execPath,
      [
        LOADMESH_CLI,
        'run',
        '--nats',
        nats.url,
        '--url',
        'http://127.0.0.1:9/',
        '--rate',
        '2000',
        '--duration',
        String(seconds),
        '--agents',
        String(agentCount),
        '--no-preflight',
        '--quiet',
        '--out',
        out,
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    children.push(run);
    await started;
    await sleep(1_500);
    const busy = await cpuShare(coordinator.pid!, (seconds - 3) * 1_000);
    const code = await new Promise<number | null>((resolve) => run.once('exit', resolve));

    const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as {
      totals: { sent: number };
      series: unknown[];
      windows: { late: number; duplicate: number };
    };
    console.log(
      `agents: ${agentCount}, seconds: ${seconds}, run exit code ${code}, requests merged: ${summary.totals.sent}, rows: ${summary.series.length}, late windows: ${summary.windows.late}`,
    );
    console.log(`coordinator CPU, agents idle: ${idle.toFixed(1)}% of one core`);
    console.log(
      `coordinator CPU, task running: ${busy.toFixed(1)}% of one core (target below 25%)`,
    );
  } finally {
    for (const child of children.reverse()) await stopChild(child, 'SIGTERM');
    await nats.stop();
    await rm(out, { recursive: true, force: true });
  }
}

/** Returns the CPU time that process `pid` used over `ms`, as a percentage of one core. */
async function cpuShare(pid: number, ms: number): Promise<number> {
  const ticksPerSec = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
  const before = cpuTicks(pid);
  const startMs = performance.now();
  await sleep(ms);
  const used = (cpuTicks(pid) - before) / ticksPerSec;
  return (used / ((performance.now() - startMs) / 1_000)) * 100;
}

/** Reads user plus system time of `pid` from /proc, in clock ticks. */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
