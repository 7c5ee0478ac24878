/**
 * Compares the HTTP requests per second of wrk, autocannon and loadmesh against one local nginx.
 *
 *   npx tsx bench/http-rps.ts [--connections N] [--duration S] [--rounds R]
 *
 * nginx runs one worker pinned to core 1 and returns a fixed 200 to every request. Each tool
 * runs pinned to core 0 with the same connections and duration, in an order that rotates each
 * round, so that drift in the machine's speed spreads over all tools. The table shows each tool's
 * median over the rounds, and the median CPU use of nginx and of the tools' core while load ran.
 * Exits 0 unless a tool failed to run, 1 if one did, and 2 on invalid flags. Every run is killed
 * 30 s after its duration, so the whole benchmark ends within rounds * 3 * (duration + 31) s
 * plus nginx's start and stop.
 *
 * Environment: LOADMESH_CLI measures another bin/loadmesh.js (for example from an export of an
 * older commit), WRK_BIN and NGINX_BIN replace the Debian binaries.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CpuSampler, measureCoreBusyPct, median, type CpuUse } from './cpu.ts';
import { startNginx, type NginxServer } from '../test/support/nginx.ts';
import {
  LOADMESH_CLI,
  TASKSET_BIN,
  TOOLS,
  ToolRunError,
  type RunSettings,
  type ToolName,
  type ToolResult,
} from './tools.ts';

const TOOL_ORDER: ToolName[] = ['wrk', 'autocannon', 'loadmesh'];
const CLIENT_CORE = 0;
const SERVER_CORE = 1;
/** Pause between runs so the sockets of one tool have closed before the next starts. */
const PAUSE_BETWEEN_RUNS_MS = 1_000;
const IDLE_CHECK_MS = 2_000;
/** Busy percentage of a core before the runs above which other work is using it. */
const IDLE_MAX_BUSY_PCT = 10;

const LIMITS = {
  connections: { min: 1, max: 1_000, default: 64 },
  duration: { min: 1, max: 600, default: 10 },
  rounds: { min: 1, max: 20, default: 3 },
} as const;

interface BenchOptions {
  connections: number;
  durationSec: number;
  rounds: number;
}

/** One tool's run and the CPU use while its load ran. */
interface RunRecord extends CpuUse {
  tool: ToolName;
  round: number;
  result?: ToolResult;
  failure?: string;
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  if (typeof options === 'string') {
    process.stderr.write(`${options}\n`);
    return 2;
  }
  if (availableParallelism() < 2) {
    process.stderr.write(
      'this benchmark pins nginx and the tools to cores 0 and 1; it needs 2 cores\n',
    );
    return 1;
  }

  const server = await startNginx({
    locations: 'location / { access_log off; return 200 "ok\\n"; }',
  });
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const serverPid = await pinServer(server);
    const url = `${server.url}/`;
    printHeader(options, url);
    await checkIdle();
    const records = await runRounds(options, url, serverPid, abort.signal);
    printReport(records);
    return records.some((r) => r.failure !== undefined) ? 1 : 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await server.stop();
  }
}

/** Returns the options, or one message that lists every invalid flag with its allowed range. */
function parseOptions(argv: string[]): BenchOptions | string {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        connections: { type: 'string' },
        duration: { type: 'string' },
        rounds: { type: 'string' },
      },
    }));
  } catch (error) {
    return `${(error as Error).message}. Flags: --connections N --duration S --rounds R`;
  }

  const problems: string[] = [];
  const read = (flag: keyof typeof LIMITS): number => {
    const limit = LIMITS[flag];
    const text = values[flag];
    if (text === undefined) return limit.default;
    const value = Number(text);
    if (!Number.isInteger(value) || value < limit.min || value > limit.max)
      problems.push(
        `--${flag} ${text} is invalid: use a whole number from ${limit.min} to ${limit.max}`,
      );
    return value;
  };
  const parsed = {
    connections: read('connections'),
    durationSec: read('duration'),
    rounds: read('rounds'),
  };
  return problems.length > 0 ? problems.join('\n') : parsed;
}

/** Pins the nginx process (one worker, no master) to the server core and returns its pid. */
async function pinServer(server: NginxServer): Promise<number> {
  const pid = Number((await readFile(join(server.dir, 'nginx.pid'), 'utf8')).trim());
  if (!Number.isInteger(pid) || pid <= 0)
    throw new Error(`nginx.pid in ${server.dir} contains no valid pid`);

  await new Promise<void>((resolve, reject) =>
    execFile(TASKSET_BIN, ['-a', '-cp', String(SERVER_CORE), String(pid)], (error) =>
      error ? reject(new Error(`taskset failed to pin nginx ${pid}`, { cause: error })) : resolve(),
    ),
  );
  return pid;
}

/** Runs every tool once per round, starting each round one tool later than the last. */
async function runRounds(
  options: BenchOptions,
  url: string,
  serverPid: number,
  signal: AbortSignal,
): Promise<RunRecord[]> {
  const settings: RunSettings = {
    url,
    connections: options.connections,
    durationSec: options.durationSec,
    core: CLIENT_CORE,
    signal,
  };
  const records: RunRecord[] = [];

  for (let round = 1; round <= options.rounds; round++) {
    for (let i = 0; i < TOOL_ORDER.length; i++) {
      if (signal.aborted) return records;
      const tool = TOOL_ORDER[(i + round - 1) % TOOL_ORDER.length]!;
      const record = await runOnce(tool, round, settings, serverPid);
      records.push(record);
      printRun(record);
      await new Promise((resolve) => setTimeout(resolve, PAUSE_BETWEEN_RUNS_MS));
    }
  }
  return records;
}

async function runOnce(
  tool: ToolName,
  round: number,
  settings: RunSettings,
  serverPid: number,
): Promise<RunRecord> {
  const sampler = new CpuSampler(serverPid, CLIENT_CORE);
  await sampler.start();

  let result: ToolResult | undefined;
  let failure: string | undefined;
  try {
    result = await TOOLS[tool]({ ...settings, onSpawn: (pid) => sampler.watchTool(pid) });
  } catch (error) {
    if (!(error instanceof ToolRunError) && !settings.signal.aborted) throw error;
    failure = (error as Error).message;
  }

  const cpu = await sampler.stop();
  return { tool, round, result, failure, ...cpu };
}

function printHeader(options: BenchOptions, url: string): void {
  const lines = [
    `target: nginx at ${url}, 1 worker on core ${SERVER_CORE}, fixed 200 response, access log off`,
    `load: ${options.connections} connections, ${options.durationSec} s per run, ${options.rounds} rounds, tool order rotating each round`,
    `tools on core ${CLIENT_CORE}: wrk -t1; autocannon in one process; loadmesh with 1 agent thread,`,
    `  whose coordinator (main thread) shares core ${CLIENT_CORE} with it`,
    `loadmesh: ${LOADMESH_CLI}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** Warns when other processes keep the two cores busy, since they take time from the runs. */
async function checkIdle(): Promise<void> {
  const busyPct = await measureCoreBusyPct([CLIENT_CORE, SERVER_CORE], IDLE_CHECK_MS);
  const [client = 0, server = 0] = busyPct;
  const line = `before the runs: core ${CLIENT_CORE} ${client.toFixed(0)} % busy, core ${SERVER_CORE} ${server.toFixed(0)} % busy`;
  const warning =
    Math.max(client, server) > IDLE_MAX_BUSY_PCT
      ? '; WARNING: other processes are using these cores, so the figures will be low and noisy'
      : '';
  process.stdout.write(`${line}${warning}\n\n`);
}

function printRun(record: RunRecord): void {
  const name = `round ${record.round} ${record.tool.padEnd(10)}`;
  if (!record.result) {
    process.stdout.write(`${name} FAILED: ${record.failure}\n`);
    return;
  }

  const { requestsPerSec, completed, durationSec, non2xx, socketErrors } = record.result;
  const perCpuSec = requestsPerToolCpuSec(record);
  const parts = [
    `${formatRate(requestsPerSec)} req/s`,
    `${completed} in ${durationSec.toFixed(2)} s`,
    `nginx ${formatPct(record.serverPct)}`,
    `core ${CLIENT_CORE} ${formatPct(record.clientCorePct)}`,
    `tool ${formatPct(record.toolPct)}`,
    `${perCpuSec === undefined ? '-' : formatRate(perCpuSec)} req per tool CPU-second`,
  ];
  if (non2xx + socketErrors > 0) parts.push(`ERRORS: ${non2xx} non-2xx, ${socketErrors} socket`);
  process.stdout.write(`${name} ${parts.join(', ')}\n`);
}

/** Prints the median table, loadmesh's ratios and whether every run was free of errors. */
function printReport(records: RunRecord[]): void {
  const medians = new Map<ToolName, { perSec: number; perCpuSec: number | undefined }>();
  const rows = [TABLE_HEADER];

  for (const tool of TOOL_ORDER) {
    const runs = records.filter((r) => r.tool === tool);
    const succeeded = runs.filter((r) => r.result !== undefined);
    const rates = succeeded.map((r) => r.result!.requestsPerSec);
    if (rates.length === 0) {
      rows.push([tool, 'no run succeeded', '', '', `0/${runs.length}`, '', '', '', '', '', '']);
      continue;
    }

    const perCpuSec = medianOrUndefined(succeeded.map(requestsPerToolCpuSec));
    medians.set(tool, { perSec: median(rates), perCpuSec });
    rows.push([
      tool,
      formatRate(median(rates)),
      formatRate(Math.min(...rates)),
      formatRate(Math.max(...rates)),
      `${rates.length}/${runs.length}`,
      perCpuSec === undefined ? '-' : formatRate(perCpuSec),
      formatPct(median(succeeded.map((r) => r.serverPct))),
      formatPct(median(succeeded.map((r) => r.clientCorePct))),
      formatPct(medianOrUndefined(succeeded.map((r) => r.toolPct))),
      String(succeeded.reduce((sum, r) => sum + r.result!.non2xx, 0)),
      String(succeeded.reduce((sum, r) => sum + r.result!.socketErrors, 0)),
    ]);
  }
  process.stdout.write(`\n${formatTable(rows)}\n\n`);

  printRatios(medians);
  printErrors(records);
}

const TABLE_HEADER = [
  'tool',
  'median req/s',
  'min',
  'max',
  'runs',
  'req/tool CPU-s',
  'nginx CPU',
  `core ${CLIENT_CORE} busy`,
  'tool CPU',
  'non-2xx',
  'socket errors',
];

function printRatios(
  medians: Map<ToolName, { perSec: number; perCpuSec: number | undefined }>,
): void {
  const loadmesh = medians.get('loadmesh');
  for (const other of ['wrk', 'autocannon'] as const) {
    const base = medians.get(other);
    if (!loadmesh || !base) continue;
    const perCpu =
      loadmesh.perCpuSec !== undefined && base.perCpuSec !== undefined
        ? `, ${(loadmesh.perCpuSec / base.perCpuSec).toFixed(2)}x per tool CPU-second`
        : '';
    process.stdout.write(
      `loadmesh / ${other}: ${(loadmesh.perSec / base.perSec).toFixed(2)}x req/s${perCpu}\n`,
    );
  }
}

function printErrors(records: RunRecord[]): void {
  const withErrors = records.filter((r) => r.result && r.result.non2xx + r.result.socketErrors > 0);
  if (withErrors.length === 0)
    process.stdout.write('errors: none; every successful run had 0 non-2xx and 0 socket errors\n');
  else
    process.stdout.write(
      `errors: ${withErrors.map((r) => `${r.tool} round ${r.round}`).join(', ')} had non-2xx or socket errors, so their rates are not comparable\n`,
    );

  for (const r of records.filter((r) => r.failure !== undefined))
    process.stdout.write(`failed: ${r.tool} round ${r.round}: ${r.failure}\n`);
}

/**
 * Requests per second of CPU time that the tool's process used, an estimate from the run's rate
 * and its median CPU use under load. Time that other processes take from the core leaves it
 * unchanged, so it compares tools on a busy machine better than requests per second do.
 */
function requestsPerToolCpuSec(record: RunRecord): number | undefined {
  if (!record.result || record.toolPct === undefined || record.toolPct <= 0) return undefined;
  return record.result.requestsPerSec / (record.toolPct / 100);
}

function medianOrUndefined(values: (number | undefined)[]): number | undefined {
  const defined = values.filter((v) => v !== undefined);
  return defined.length > 0 ? median(defined) : undefined;
}

function formatPct(pct: number | undefined): string {
  return pct === undefined ? '-' : `${pct.toFixed(0)} %`;
}

function formatRate(requestsPerSec: number): string {
  return Math.round(requestsPerSec).toLocaleString('en-US');
}

function formatTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) =>
          column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!),
        )
        .join('  '),
    )
    .join('\n');
}

process.exitCode = await main();
