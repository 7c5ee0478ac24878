import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, parseTaskConfig } from '../protocol/index.ts';
import {
  AgentTaskError,
  ConfigFileError,
  Coordinator,
  DataError,
  PreflightError,
  writeResults,
  type TaskProgress,
} from '../coordinator/index.ts';
import { createLogger, LOG_LEVELS, type LogLevel } from '../log.ts';
import { EmbeddedMesh } from './embedded.ts';
import { UsageError, durationFlagSec, numberFlag, parseDefine, setPath } from './overrides.ts';
import { formatMs, formatSummary } from './report.ts';
import { VERSION } from './version.ts';

/** Exit codes of `loadmesh run`. */
export const EXIT = {
  ok: 0,
  /** The task ran but a limit it set (an error tolerance, a response time or an SLO) failed. */
  limitFailed: 1,
  /** The task could not run: bad config, data or flags, or a failed preflight. */
  cannotRun: 2,
  /** An unexpected failure inside loadmesh. */
  internal: 3,
} as const;

export const RUN_HELP = `Usage: loadmesh run [TASK.json] [flags]

Runs a stress test on this machine (coordinator and agents embedded), prints a summary and
writes summary.json to a results folder. Flags override the task file.

Target and data:
  --url URL              service.url: full http(s) address of the service
  --method METHOD        http.method (default: POST with a body, GET without)
  --header "Name: value" add an HTTP header (repeatable)
  --data-base64 B64      data.content: one request body, base64-encoded
  --data-path PATHS      data.path: files, http(s) URLs or .zip, comma-separated
  --multi-line           data.multiLine: one request per line of each file
  --timeout MS           http.timeout: per-request timeout in milliseconds (default 20000)
  --ca-file FILE         http.caFile: PEM file of the CA that signed the target's certificate
  --insecure             http.insecure: accept any certificate

Load:
  --concurrency N        optional.concurrency: requests in flight per agent (default 2)
  --agents N             optional.agentCount: agents, each in its own thread (default 1)
  --rate QPS             open loop: optional.mode=rate at QPS requests per second overall
  --burstiness B         gamma shape of arrivals: 1 is Poisson, lower is burstier (default 1)
  --seed N               seed of the arrival schedule, 0 to 4294967295 (default 0)
  --max-qps QPS          optional.maxQPS: rate cap in any mode
  --duration TIME        optional.duration: seconds, or with ms, s, m, h (default 600)
  --requests N           optional.requestCount: total requests, then stop
  -D key=value           set any config key, e.g. -Doptional.drainTimeout=5000

Output:
  --out DIR              results folder (default results/TASK-ID)
  --no-preflight         skip the single check request before the load
  --quiet                no progress line
  --log-level LEVEL      ${LOG_LEVELS.join(', ')} (default warn); logs go to stderr

Exit codes: 0 ran, 1 ran but a limit failed, 2 could not run, 3 internal error.`;

const OPTIONS = {
  url: { type: 'string' },
  method: { type: 'string' },
  header: { type: 'string', multiple: true },
  'data-base64': { type: 'string' },
  'data-path': { type: 'string' },
  'multi-line': { type: 'boolean' },
  timeout: { type: 'string' },
  'ca-file': { type: 'string' },
  insecure: { type: 'boolean' },
  concurrency: { type: 'string' },
  agents: { type: 'string' },
  rate: { type: 'string' },
  burstiness: { type: 'string' },
  seed: { type: 'string' },
  'max-qps': { type: 'string' },
  duration: { type: 'string' },
  requests: { type: 'string' },
  D: { type: 'string', short: 'D', multiple: true },
  out: { type: 'string' },
  'no-preflight': { type: 'boolean' },
  quiet: { type: 'boolean' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<
  typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>
>['values'];

/** Runs `loadmesh run` and returns its exit code. */
export async function runCommand(argv: string[]): Promise<number> {
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true }));
  } catch (error) {
    return fail(`${(error as Error).message}. Run loadmesh run --help for the flags.`);
  }
  if (values.help) {
    process.stdout.write(`${RUN_HELP}\n`);
    return EXIT.ok;
  }
  if (positionals.length > 1)
    return fail(
      `loadmesh run takes one task file but got ${positionals.length}: ${positionals.join(' ')}`,
    );

  const logLevel = (values['log-level'] ?? 'warn') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel))
    return fail(`--log-level ${logLevel} is not a level. Fix: use one of ${LOG_LEVELS.join(', ')}`);

  const taskFile = positionals[0];
  let config;
  try {
    const raw = taskFile ? await readTaskFile(taskFile) : {};
    applyFlags(raw, values);
    config = parseTaskConfig(raw);
  } catch (error) {
    if (
      error instanceof ConfigError ||
      error instanceof UsageError ||
      error instanceof ConfigFileError
    )
      return fail(error.message);
    throw error;
  }

  const log = createLogger(logLevel);
  const mesh = new EmbeddedMesh(log);
  const coordinator = new Coordinator({ bus: mesh.bus, log });
  coordinator.start();
  mesh.startAgents(config.optional.agentCount, { logLevel, version: VERSION });

  let interrupts = 0;
  const onSignal = (): void => {
    interrupts += 1;
    if (interrupts > 1) process.exit(130);
    process.stderr.write(
      '\nstopping: draining in-flight requests (press Ctrl-C again to quit at once)\n',
    );
    coordinator.stopTask();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const progress = new ProgressLine(values.quiet === true);
  try {
    const summary = await coordinator.runTask(config, {
      baseDir: taskFile ? dirname(resolve(taskFile)) : process.cwd(),
      preflight: values['no-preflight'] !== true,
      agentWaitMs: 30_000,
      onPreflight: (result) =>
        result.warnings.forEach((w) => process.stderr.write(`warning: ${w}\n`)),
      onProgress: (p) => progress.update(p),
    });
    progress.end();

    const dir = values.out ?? join('results', summary.taskId);
    const path = await writeResults(dir, summary);
    process.stdout.write(`${formatSummary(summary, path)}\n`);
    return EXIT.ok;
  } catch (error) {
    progress.end();
    if (
      error instanceof DataError ||
      error instanceof PreflightError ||
      error instanceof ConfigFileError
    )
      return fail(error.message);
    if (error instanceof AgentTaskError) return fail(error.message);
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    coordinator.close();
    await mesh.close();
  }
}

async function readTaskFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigFileError(
      `cannot read task file ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (error as Error).message}. Fix: check the path`,
      { cause: error },
    );
  }
  try {
    const raw: unknown = JSON.parse(text);
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
      throw new Error('the top level is not an object');
    return raw as Record<string, unknown>;
  } catch (error) {
    throw new ConfigFileError(
      `task file ${path} is not valid JSON: ${(error as Error).message}. Fix: check quotes, commas and braces near that position`,
      { cause: error },
    );
  }
}

function applyFlags(raw: Record<string, unknown>, values: Values): void {
  const set = (path: string, value: unknown): void => setPath(raw, path, value);

  if (values.url !== undefined) set('service.url', values.url);
  if (values.method !== undefined) set('http.method', values.method.toUpperCase());
  if (values.header !== undefined) {
    const headers = {
      ...((raw.http as { headers?: Record<string, string> } | undefined)?.headers ?? {}),
    };
    for (const line of values.header) {
      const colon = line.indexOf(':');
      if (colon <= 0)
        throw new UsageError(
          `--header ${JSON.stringify(line)} is not "Name: value". Fix: write e.g. --header "Authorization: Bearer TOKEN"`,
        );
      headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
    }
    set('http.headers', headers);
  }
  if (values['data-base64'] !== undefined) set('data.content', values['data-base64']);
  if (values['data-path'] !== undefined) set('data.path', values['data-path']);
  if (values['multi-line']) set('data.multiLine', true);
  if (values.timeout !== undefined) set('http.timeout', numberFlag('timeout', values.timeout));
  if (values['ca-file'] !== undefined) set('http.caFile', values['ca-file']);
  if (values.insecure) set('http.insecure', true);
  if (values.concurrency !== undefined)
    set('optional.concurrency', numberFlag('concurrency', values.concurrency));
  if (values.agents !== undefined) set('optional.agentCount', numberFlag('agents', values.agents));
  if (values.rate !== undefined) {
    set('optional.mode', 'rate');
    set('optional.qps', numberFlag('rate', values.rate));
  }
  if (values.burstiness !== undefined)
    set('optional.burstiness', numberFlag('burstiness', values.burstiness));
  if (values.seed !== undefined) set('optional.seed', numberFlag('seed', values.seed));
  if (values['max-qps'] !== undefined)
    set('optional.maxQPS', numberFlag('max-qps', values['max-qps']));
  if (values.duration !== undefined)
    set('optional.duration', durationFlagSec('duration', values.duration));
  if (values.requests !== undefined)
    set('optional.requestCount', numberFlag('requests', values.requests));
  for (const define of values.D ?? []) set(...parseDefine(define));
}

/** One status line on stderr: rewritten in place on a terminal, every 10 s otherwise. */
class ProgressLine {
  #quiet: boolean;
  #tty = process.stderr.isTTY === true;
  #lastPrintMs = 0;
  #written = false;

  constructor(quiet: boolean) {
    this.#quiet = quiet;
  }

  update({ elapsedMs, durationMs, row, aggregator }: TaskProgress): void {
    if (this.#quiet) return;
    if (!this.#tty && elapsedMs - this.#lastPrintMs < 10_000) return;
    this.#lastPrintMs = elapsedMs;

    const c = aggregator.counters;
    const rate = row
      ? `${row.counters.completed} req/s, p50 ${formatMs(row.latency.rtUs?.p50Us ?? 0)} ms, p99 ${formatMs(row.latency.rtUs?.p99Us ?? 0)} ms`
      : 'starting';
    const line = `[${(elapsedMs / 1000).toFixed(0)}s/${(durationMs / 1000).toFixed(0)}s] sent ${c.sent}, ok ${c.ok}, failed ${c.failed} | ${rate}`;
    process.stderr.write(this.#tty ? `\r\x1b[K${line}` : `${line}\n`);
    this.#written = true;
  }

  end(): void {
    if (this.#written && this.#tty) process.stderr.write('\n');
    this.#written = false;
  }
}

function fail(message: string): number {
  process.stderr.write(`error: ${message}\n`);
  return EXIT.cannotRun;
}
