import { parseArgs } from 'node:util';
import { NatsBus } from '../bus/nats.ts';
import {
  ResultsDirError,
  newTaskId,
  prepareResultsDir,
  writeResults,
} from '../coordinator/index.ts';
import type { RunRequest, SummaryReply, TaskEvent, TaskRecord } from '../coordinator/service.ts';
import { createLogger, type LogLevel } from '../log.ts';
import { makeSubjects, type TaskConfig } from '../protocol/index.ts';
import { EXIT, exitCodeOf, fail } from './exit.ts';
import type { RunValues } from './flags.ts';
import { NATS_HELP, NATS_OPTIONS, natsOptions } from './nats-flags.ts';
import { RecordFile } from './records.ts';
import { formatMs, formatSummary } from './report.ts';
import { join } from 'node:path';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Sends a task to a cluster's coordinator with lm.ctl.run and follows it to its summary. */
export async function runRemote(
  config: TaskConfig,
  raw: Record<string, unknown>,
  options: { values: RunValues; baseDir: string; logLevel: LogLevel },
): Promise<number> {
  const { values } = options;
  const saveRequests = values['save-requests'] === true;

  const taskId = newTaskId(config.name);
  const dir = values.out ?? join('results', taskId);
  try {
    await prepareResultsDir(dir, { saveRequests });
  } catch (error) {
    if (error instanceof ResultsDirError) return fail(error.message);
    throw error;
  }

  const log = createLogger(options.logLevel);
  const bus = await NatsBus.connect(
    {
      ...natsOptions(values, 'loadmesh-run', process.env),
      connectTimeoutMs: CLIENT_CONNECT_TIMEOUT_MS,
    },
    log,
  );
  const subjects = makeSubjects(values.prefix);
  const records = saveRequests ? await RecordFile.open(join(dir, 'requests.jsonl')) : undefined;
  let onSignal: (() => void) | undefined;

  try {
    let lastEventMs = performance.now();
    const finished = new Promise<TaskEvent>((resolve) => {
      bus.subscribe(`${subjects.window(taskId).replace(/\.window$/, '')}.events`, (m) => {
        lastEventMs = performance.now();
        const event = JSON.parse(decoder.decode(m.data)) as TaskEvent;
        if (event.type === 'records') records?.write(event.records);
        else if (event.type === 'waiting')
          process.stderr.write(
            `waiting for agents: ${event.joined} of ${event.needed} joined; the task fails if they do not join within ${event.waitMs / 1000} s\n`,
          );
        else if (event.type === 'progress') {
          if (!values.quiet)
            process.stderr.write(
              `[${(event.elapsedMs / 1000).toFixed(0)}s] sent ${event.sent}, ok ${event.ok}, failed ${event.failed}${event.lastSecond ? ` | ${event.lastSecond.completed} req/s, p99 ${formatMs(event.lastSecond.p99Us)} ms` : ''}\n`,
            );
        } else resolve(event);
      });
    });
    await bus.flush();

    const request: RunRequest = {
      taskId,
      config: raw,
      baseDir: options.baseDir,
      preflight: values['no-preflight'] !== true,
      saveRequests,
    };
    const reply = await ctlRequest<TaskRecord>(bus, subjects.ctl('run'), request);
    if (!reply.ok)
      return fail(
        reply.unanswered ? reply.error : `the coordinator rejected the task: ${reply.error}`,
      );

    // As in embedded mode, the first Ctrl-C stops the task with its drain and the summary follows.
    let interrupts = 0;
    onSignal = (): void => {
      interrupts += 1;
      if (interrupts > 1) {
        process.stderr.write(
          `\nleaving task ${taskId} running on the cluster; stop it with loadmesh stop ${taskId}\n`,
        );
        process.exit(130);
      }
      process.stderr.write(
        '\nstopping the task on the cluster, which drains any requests in flight (press Ctrl-C again to leave it running)\n',
      );
      void ctlRequest(bus, subjects.ctl('stop'), { taskId }).then((stopped) => {
        if (!stopped.ok) process.stderr.write(`error: ${stopped.error}\n`);
      });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);

    const event = await untilEnd(finished, () => lastEventMs, bus, subjects.ctl('summary'), taskId);
    if (event.type === 'error') return fail(event.message);
    if (event.type !== 'summary') return fail('the coordinator sent no summary');
    const path = await writeResults(dir, event.summary);
    process.stdout.write(`${formatSummary(event.summary, path)}\n`);
    return exitCodeOf(event.summary);
  } finally {
    if (onSignal) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    await records?.close();
    await bus.close();
  }
}

/** How long a command-line client waits for NATS: a person is waiting, and agents retry anyway. */
const CLIENT_CONNECT_TIMEOUT_MS = 5_000;

/** How long the client waits without any event before it requests the task's state. */
const EVENT_SILENCE_MS = 10_000;

/**
 * Waits for the task's summary or error event. Events are not stored, so one published while
 * NATS was away is lost: after EVENT_SILENCE_MS without any, the client requests lm.ctl.summary.
 */
async function untilEnd(
  finished: Promise<TaskEvent>,
  lastEventMs: () => number,
  bus: NatsBus,
  summarySubject: string,
  taskId: string,
): Promise<TaskEvent> {
  let timer: NodeJS.Timeout | undefined;
  const tick = (): Promise<undefined> =>
    new Promise((resolve) => {
      timer = setTimeout(() => resolve(undefined), EVENT_SILENCE_MS / 2);
    });

  for (;;) {
    const event = await Promise.race([finished, tick()]);
    clearTimeout(timer);
    if (event !== undefined) return event;
    if (performance.now() - lastEventMs() < EVENT_SILENCE_MS) continue;

    const reply = await ctlRequest<SummaryReply>(bus, summarySubject, { taskId });
    if (!reply.ok) continue;
    const { record, summary } = reply.result;
    if (summary) return { type: 'summary', summary };
    if (record.status === 'Error' || record.status === 'CreateFailed')
      return { type: 'error', message: record.message };
  }
}

/** A coordinator's reply; `unanswered` is set when no coordinator replied at all. */
type CtlReply<T> = { ok: true; result: T } | { ok: false; error: string; unanswered?: boolean };

async function ctlRequest<T>(bus: NatsBus, subject: string, body: unknown): Promise<CtlReply<T>> {
  try {
    const data = await bus.request(subject, encoder.encode(JSON.stringify(body)), {
      timeoutMs: 10_000,
    });
    return JSON.parse(decoder.decode(data)) as CtlReply<T>;
  } catch (error) {
    return {
      ok: false,
      unanswered: true,
      error: `no coordinator replied on ${subject} (${(error as Error).message}). Fix: start one with loadmesh coordinator --nats URL, with the same --prefix`,
    };
  }
}

const NATS_MISSING =
  '--nats is missing. Fix: give the NATS server of the cluster, e.g. --nats nats://127.0.0.1:4222';

/** Connects a task command (ls, desc, stop, update) to NATS, with the client's short timeout. */
function connectCtl(values: Parameters<typeof natsOptions>[0]): Promise<NatsBus> {
  return NatsBus.connect(
    {
      ...natsOptions(values, 'loadmesh-ctl', process.env),
      connectTimeoutMs: CLIENT_CONNECT_TIMEOUT_MS,
    },
    createLogger('error'),
  );
}

export const CTL_HELP = `Usage: loadmesh ls|desc|stop [NAME] --nats URLS

  ls         tasks: name, id, agents desired, status, created
  desc NAME  one task: status, message, times
  stop NAME  stop a running task; its agents drain in-flight requests

${NATS_HELP}`;

/** Runs `loadmesh ls`, `desc` or `stop` against a cluster's coordinator. */
export async function ctlCommand(
  verb: 'list' | 'describe' | 'stop',
  argv: string[],
): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { ...NATS_OPTIONS, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(`${CTL_HELP}\n`);
    return EXIT.ok;
  }
  if (!values.nats) return fail(NATS_MISSING);
  if (verb !== 'list' && positionals.length !== 1)
    return fail(
      `loadmesh ${verb === 'describe' ? 'desc' : verb} takes one task name or id. Fix: run loadmesh ls --nats URL for them`,
    );

  const bus = await connectCtl(values);
  try {
    const reply = await ctlRequest<TaskRecord | TaskRecord[]>(
      bus,
      makeSubjects(values.prefix).ctl(verb),
      verb === 'list' ? {} : { name: positionals[0] },
    );
    if (!reply.ok) return fail(reply.error);
    const records = Array.isArray(reply.result) ? reply.result : [reply.result];
    if (verb === 'describe') {
      const r = records[0]!;
      const rows: [string, string][] = [
        ['Name', r.name],
        ['Task', r.taskId],
        ['Status', r.status],
        ['Message', r.message],
        ['Agents', String(r.desiredAgents)],
        ['Created', r.createdAt],
        ['Updated', r.updatedAt],
      ];
      for (const [key, value] of rows) process.stdout.write(`${key.padEnd(10)}${value}\n`);
      return EXIT.ok;
    }
    const line = (cells: string[]): string =>
      `${cells[0]!.padEnd(24)} ${cells[1]!.padEnd(36)} ${cells[2]!.padEnd(6)} ${cells[3]!.padEnd(13)} ${cells[4]!.padEnd(24)} ${cells[5]}\n`;
    if (verb === 'list')
      process.stdout.write(line(['NAME', 'TASK', 'AGENTS', 'STATUS', 'CREATED', 'MESSAGE']));
    for (const r of records)
      process.stdout.write(
        line([r.name, r.taskId, String(r.desiredAgents), r.status, r.createdAt, r.message]),
      );
    return EXIT.ok;
  } finally {
    await bus.close();
  }
}

export const UPDATE_HELP = `Usage: loadmesh update NAME --nats URLS CHANGE

Changes the load of a running task:
  -Doptional.concurrency=N, --concurrency N   closed loop: requests in flight per agent
  -Doptional.qps=N, --rate N                  open loop: requests per second of the task

${NATS_HELP}`;

/** Keys that `-D` takes, and the field of the change each sets. */
const UPDATE_KEYS: Record<string, 'concurrency' | 'qps'> = {
  'optional.concurrency': 'concurrency',
  'optional.qps': 'qps',
};

/** Runs `loadmesh update NAME`: changes the concurrency or rate of a running task. */
export async function updateCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      ...NATS_OPTIONS,
      define: { type: 'string', short: 'D', multiple: true },
      concurrency: { type: 'string' },
      rate: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(`${UPDATE_HELP}\n`);
    return EXIT.ok;
  }
  if (!values.nats) return fail(NATS_MISSING);
  if (positionals.length !== 1)
    return fail(
      'loadmesh update takes one task name or id. Fix: run loadmesh ls --nats URL for them',
    );

  const change: Record<string, number> = {};
  const pairs: [string, string][] = (values.define ?? []).map((definition) => {
    const [key = '', value = ''] = definition.split('=', 2);
    return [key, value];
  });
  if (values.concurrency !== undefined) pairs.push(['optional.concurrency', values.concurrency]);
  if (values.rate !== undefined) pairs.push(['optional.qps', values.rate]);
  for (const [key, value] of pairs) {
    const field = UPDATE_KEYS[key];
    if (!field)
      return fail(
        `-D${key}: only optional.concurrency and optional.qps change while a task runs. Fix: stop the task and run it again for other changes`,
      );
    const number = Number(value);
    if (value === '' || !Number.isFinite(number))
      return fail(`-D${key}=${value}: not a number. Fix: give e.g. -D${key}=8`);
    change[field] = number;
  }
  if (pairs.length === 0)
    return fail('no change given. Fix: add -Doptional.concurrency=N or -Doptional.qps=N');

  const bus = await connectCtl(values);
  try {
    const reply = await ctlRequest<TaskRecord>(bus, makeSubjects(values.prefix).ctl('update'), {
      name: positionals[0],
      change,
    });
    if (!reply.ok) return fail(reply.error);
    process.stdout.write(
      `${reply.result.name} (${reply.result.taskId}): ${reply.result.message}\n`,
    );
    return EXIT.ok;
  } finally {
    await bus.close();
  }
}
