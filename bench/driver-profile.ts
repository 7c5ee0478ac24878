/**
 * Drives loadmesh's HttpDriver in a closed loop against a local nginx, without the coordinator,
 * bus or worker thread, so that a CPU profile shows the agent's send path alone.
 *
 *   taskset -c 0 node --cpu-prof --cpu-prof-dir DIR --import tsx \
 *     bench/driver-profile.ts [--connections N] [--duration S] [--record]
 *
 * Each of the N users sends its next request on the tick after its previous one ended, as the
 * agent's closed loop does. With --record, every outcome also goes into a WindowRecorder (counters
 * and three HDR histograms), as in the agent. nginx runs one worker pinned to core 1. Prints the
 * requests per second; the run stops after S seconds and its drain is cut off 10 s later.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { HttpDriver } from '../src/agent/http/driver.ts';
import type { RequestOutcome } from '../src/agent/outcome.ts';
import { WindowRecorder } from '../src/agent/recorder.ts';
import { startNginx } from '../test/support/nginx.ts';
import { TASKSET_BIN } from './tools.ts';

const SERVER_CORE = 1;
const DRAIN_TIMEOUT_MS = 10_000;
const WINDOW_MS = 1_000;

interface LoopCounts {
  completed: number;
  failed: number;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      connections: { type: 'string', default: '64' },
      duration: { type: 'string', default: '10' },
      record: { type: 'boolean', default: false },
    },
  });
  const connections = Number(values.connections);
  const durationSec = Number(values.duration);
  if (!Number.isInteger(connections) || connections < 1 || connections > 1_000) {
    process.stderr.write(`--connections ${values.connections} is invalid: use 1 to 1000\n`);
    return 2;
  }
  if (!Number.isInteger(durationSec) || durationSec < 1 || durationSec > 120) {
    process.stderr.write(`--duration ${values.duration} is invalid: use 1 to 120 seconds\n`);
    return 2;
  }

  const server = await startNginx({
    locations: 'location / { access_log off; return 200 "ok\\n"; }',
  });
  try {
    await pinNginx(server.dir);
    const driver = new HttpDriver({
      url: `${server.url}/`,
      headers: {},
      entries: [],
      timeoutMs: 20_000,
      connections,
      tls: { insecure: false },
    });
    const counts = await runClosedLoop(driver, connections, durationSec * 1000, values.record);
    await driver.destroy();

    const perSec = Math.round(counts.completed / durationSec);
    process.stdout.write(
      `${connections} connections, ${durationSec} s, record ${values.record ? 'on' : 'off'}: ` +
        `${counts.completed} completed in time (${counts.failed} failed), ${perSec} req/s\n`,
    );
    return counts.failed > 0 ? 1 : 0;
  } finally {
    await server.stop();
  }
}

/** Runs `users` closed-loop users for `durationMs`, then waits for the requests in flight. */
function runClosedLoop(
  driver: HttpDriver,
  users: number,
  durationMs: number,
  record: boolean,
): Promise<LoopCounts> {
  const startMs = performance.now();
  const recorder = record ? new WindowRecorder(startMs, WINDOW_MS) : undefined;
  const counts: LoopCounts = { completed: 0, failed: 0 };
  let sequence = 0;
  let stopping = false;

  return new Promise((resolve) => {
    const finish = (): void => {
      clearTimeout(drainTimer);
      resolve(counts);
    };
    const onOutcome = (outcome: RequestOutcome): void => {
      // Requests that end in the drain after the duration do not count toward the rate.
      if (!stopping) counts.completed += 1;
      if (outcome.error) counts.failed += 1;
      recorder?.recordOutcome(outcome);
      if (!stopping) process.nextTick(sendNext);
      else if (driver.inFlight === 0) finish();
    };
    const sendNext = (): void => {
      const nowMs = performance.now();
      recorder?.recordSend(nowMs);
      driver.send(sequence++, nowMs, onOutcome);
    };

    for (let user = 0; user < users; user++) sendNext();
    let drainTimer: NodeJS.Timeout | undefined;
    setTimeout(() => {
      stopping = true;
      drainTimer = setTimeout(() => {
        driver.abortInFlight();
        finish();
      }, DRAIN_TIMEOUT_MS);
    }, durationMs);
  });
}

async function pinNginx(dir: string): Promise<void> {
  const pid = (await readFile(join(dir, 'nginx.pid'), 'utf8')).trim();
  await new Promise<void>((resolve, reject) =>
    execFile(TASKSET_BIN, ['-a', '-cp', String(SERVER_CORE), pid], (error) =>
      error ? reject(new Error(`taskset failed to pin nginx ${pid}`, { cause: error })) : resolve(),
    ),
  );
}

process.exitCode = await main();
