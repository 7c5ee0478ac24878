import { fork } from 'node:child_process';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { Agent } from '../agent/agent.ts';
import { NatsBus } from '../bus/nats.ts';
import { Coordinator } from '../coordinator/index.ts';
import { CoordinatorService } from '../coordinator/service.ts';
import { KvTaskStore } from '../coordinator/store.ts';
import { createLogger, LOG_LEVELS, type LogLevel } from '../log.ts';
import { makeSubjects } from '../protocol/index.ts';
import { EXIT, fail } from './exit.ts';
import { NATS_HELP, NATS_OPTIONS, natsOptions } from './nats-flags.ts';
import { numberFlag } from './overrides.ts';
import { VERSION } from './version.ts';

export const AGENT_HELP = `Usage: loadmesh agent --nats URLS [--processes N] [flags]

Runs load-generating agents that join the coordinator over NATS. They hold no task state that
must outlive them: stop or restart them at any time.

  --processes N          agent processes on this host (default 1); each is one agent
  --id ID                agent id (default HOST-PID); with --processes, ID-1, ID-2, ...
  --log-level LEVEL      ${LOG_LEVELS.join(', ')} (default info)

${NATS_HELP}`;

export const COORDINATOR_HELP = `Usage: loadmesh coordinator --nats URLS [flags]

Runs the coordinator: agent membership, task runs, and the task commands on lm.ctl.* (run,
create, list, describe, update, stop, summary) as request-reply JSON.

  --log-level LEVEL      ${LOG_LEVELS.join(', ')} (default info)

${NATS_HELP}`;

const AGENT_OPTIONS = {
  ...NATS_OPTIONS,
  processes: { type: 'string' },
  id: { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const COORDINATOR_OPTIONS = {
  ...NATS_OPTIONS,
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** How long agent processes get to stop after SIGTERM before they are killed. */
const AGENT_STOP_GRACE_MS = 10_000;

/** Runs `loadmesh agent` until SIGINT or SIGTERM. */
export async function agentCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: AGENT_OPTIONS });
  if (values.help) return help(AGENT_HELP);
  if (!values.nats)
    return fail('--nats is missing. Fix: give the NATS server, e.g. --nats nats://127.0.0.1:4222');
  const logLevel = (values['log-level'] ?? 'info') as LogLevel;
  const processes = values.processes === undefined ? 1 : numberFlag('processes', values.processes);
  if (!Number.isInteger(processes) || processes < 1)
    return fail(`--processes ${processes} is not a whole number of at least 1`);

  if (processes > 1)
    return superviseAgents(argv, processes, values.id ?? `${hostname()}-${process.pid}`);

  const log = createLogger(logLevel);
  const agentId = values.id ?? `${hostname()}-${process.pid}`;
  const bus = await NatsBus.connect(
    natsOptions(values, `loadmesh-agent-${agentId}`, process.env),
    log,
  );
  const agent = new Agent({ agentId, bus, log, subjectPrefix: values.prefix, version: VERSION });
  agent.start();
  log.info({ agentId, nats: values.nats }, 'agent running');

  await untilSignal();
  log.info({ agentId }, 'agent stopping');
  agent.close();
  await bus.close();
  return EXIT.ok;
}

/** Starts one child process per agent and stops them all on a signal. */
async function superviseAgents(
  argv: string[],
  processes: number,
  idPrefix: string,
): Promise<number> {
  const base = stripFlags(argv, ['--processes', '--id']);
  let stopping = false;
  const children = Array.from({ length: processes }, (_, i) => {
    const id = `${idPrefix}-${i + 1}`;
    const child = fork(process.argv[1]!, ['agent', ...base, '--id', id], { stdio: 'inherit' });
    const exited = new Promise<number>((resolve) =>
      child.once('exit', (code, signal) => {
        if (!stopping)
          process.stderr.write(`error: agent process ${id} exited (${signal ?? `code ${code}`})\n`);
        resolve(code ?? 1);
      }),
    );
    return { child, exited };
  });
  const allExited = Promise.all(children.map(({ exited }) => exited));

  // Every agent process may end by itself, for example when none can reach NATS.
  const ended = await Promise.race([untilSignal().then(() => undefined), allExited]);
  if (ended !== undefined) return ended.some((code) => code !== 0) ? EXIT.cannotRun : EXIT.ok;

  // A second signal, or children still running after the grace period, end them at once.
  stopping = true;
  const killAll = (): void => children.forEach(({ child }) => child.kill('SIGKILL'));
  process.once('SIGINT', killAll);
  process.once('SIGTERM', killAll);
  const timer = setTimeout(killAll, AGENT_STOP_GRACE_MS);
  for (const { child } of children) child.kill('SIGTERM');
  await allExited;
  clearTimeout(timer);
  return EXIT.ok;
}

/** Runs `loadmesh coordinator` until SIGINT or SIGTERM. */
export async function coordinatorCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: COORDINATOR_OPTIONS });
  if (values.help) return help(COORDINATOR_HELP);
  if (!values.nats)
    return fail('--nats is missing. Fix: give the NATS server, e.g. --nats nats://127.0.0.1:4222');

  const log = createLogger((values['log-level'] ?? 'info') as LogLevel);
  const bus = await NatsBus.connect(natsOptions(values, 'loadmesh-coordinator', process.env), log);
  const coordinator = new Coordinator({ bus, log, subjectPrefix: values.prefix });
  coordinator.start();
  const store = await KvTaskStore.open(bus.connection, values.prefix);
  const service = new CoordinatorService(
    bus,
    makeSubjects(values.prefix),
    coordinator,
    log.child({ component: 'ctl' }),
    store,
  );
  await service.start();
  log.info({ nats: values.nats }, 'coordinator running');

  await untilSignal();
  coordinator.stopTask();
  service.close();
  coordinator.close();
  await bus.close();
  return EXIT.ok;
}

/** Resolves on SIGINT or SIGTERM, or when the parent process that forked this one is gone. */
function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      // A 'disconnect' listener keeps the IPC channel, and so the process, alive.
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      process.off('disconnect', done);
      resolve();
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
    if (process.connected) process.once('disconnect', done);
  });
}

function stripFlags(argv: string[], flags: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const name = arg.split('=')[0]!;
    if (!flags.includes(name)) out.push(arg);
    else if (!arg.includes('=')) i += 1;
  }
  return out;
}

function help(text: string): number {
  process.stdout.write(`${text}\n`);
  return EXIT.ok;
}
