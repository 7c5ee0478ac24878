/**
 * The three HTTP load generators that bench/http-rps.ts compares: how each is started, pinned
 * to one core, and how its report is read into the same figures.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TaskSummary } from '../src/coordinator/index.ts';

export const WRK_BIN = process.env.WRK_BIN ?? '/usr/bin/wrk';
export const TASKSET_BIN = '/usr/bin/taskset';
/** This checkout's CLI, or LOADMESH_CLI to measure another one, such as an export of a commit. */
export const LOADMESH_CLI =
  process.env.LOADMESH_CLI ?? fileURLToPath(new URL('../bin/loadmesh.js', import.meta.url));
/** autocannon's own entry, run with the same node binary as loadmesh so both get the same V8. */
export const AUTOCANNON_CLI = createRequire(import.meta.url).resolve('autocannon/autocannon.js');

/** Time a tool gets beyond the test duration to start, drain and print before it is killed. */
const RUN_OVERHEAD_MS = 30_000;
/** Only the first MiB of a tool's stdout and stderr is kept, since the reports are far smaller. */
const OUTPUT_LIMIT_CHARS = 1 << 20;

export type ToolName = 'wrk' | 'autocannon' | 'loadmesh';

export interface RunSettings {
  url: string;
  connections: number;
  durationSec: number;
  /** The CPU core the tool is pinned to with taskset. */
  core: number;
  /** Aborts the run on Ctrl-C, which kills the tool. */
  signal: AbortSignal;
  /** Called with the tool's pid once it runs. taskset execs the tool, so the pid is the tool's own. */
  onSpawn?: (pid: number) => void;
}

/** One run of one tool, in that tool's own counts. */
export interface ToolResult {
  completed: number;
  durationSec: number;
  requestsPerSec: number;
  /** Responses with a status outside 200-299. */
  non2xx: number;
  /** Connect, read, write, reset and timeout errors: requests that got no response. */
  socketErrors: number;
}

/** A tool exited with an error, was killed at its time limit, or printed no report to read. */
export class ToolRunError extends Error {
  override readonly name = 'ToolRunError';
  readonly code = 'ERR_BENCH_TOOL_FAILED';
}

export const TOOLS: Record<ToolName, (settings: RunSettings) => Promise<ToolResult>> = {
  wrk: runWrk,
  autocannon: runAutocannon,
  loadmesh: runLoadmesh,
};

/** Runs wrk with one thread and reads the counts from its text report. */
async function runWrk(settings: RunSettings): Promise<ToolResult> {
  const { connections, durationSec, url } = settings;
  const args = ['-t1', `-c${connections}`, `-d${durationSec}s`, url];
  const output = await runPinned('wrk', WRK_BIN, args, settings);
  return parseWrkReport(output);
}

/** Reads wrk 4.1's report: `N requests in 10.00s`, `Socket errors: ...`, `Requests/sec: X`. */
export function parseWrkReport(report: string): ToolResult {
  const totals = /(\d+) requests in ([\d.]+)(us|ms|s|m)\b/.exec(report);
  const rate = /Requests\/sec:\s+([\d.]+)/.exec(report);
  if (!totals || !rate) throw new ToolRunError(`wrk output has no request totals: ${tail(report)}`);

  const unitSec: Record<string, number> = { us: 1e-6, ms: 1e-3, s: 1, m: 60 };
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(
    report,
  );
  const socketErrors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  // wrk 4.1 counts only statuses above 399 here, so a 3xx would pass unnoticed. This nginx sends only 200.
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(report)?.[1] ?? 0);

  return {
    completed: Number(totals[1]),
    durationSec: Number(totals[2]) * unitSec[totals[3]!]!,
    requestsPerSec: Number(rate[1]),
    non2xx,
    socketErrors,
  };
}

/** Runs autocannon in one process (no `--workers`) and reads its `--json` report. */
async function runAutocannon(settings: RunSettings): Promise<ToolResult> {
  const { connections, durationSec, url } = settings;
  const args = [
    AUTOCANNON_CLI,
    '-c',
    String(connections),
    '-d',
    String(durationSec),
    '--json',
    url,
  ];
  const output = await runPinned('autocannon', process.execPath, args, settings);

  let report: {
    duration: number;
    requests: { total: number };
    non2xx: number;
    errors: number;
  };
  try {
    report = JSON.parse(output) as typeof report;
  } catch (error) {
    throw new ToolRunError(`autocannon output is not a JSON report: ${tail(output)}`, {
      cause: error,
    });
  }

  // autocannon 9's `errors` includes its `timeouts`, and `requests.total` counts completed requests.
  return {
    completed: report.requests.total,
    durationSec: report.duration,
    requestsPerSec: report.requests.total / report.duration,
    non2xx: report.non2xx,
    socketErrors: report.errors,
  };
}

/** Runs `loadmesh run` with one agent, closed loop, and reads its summary.json. */
async function runLoadmesh(settings: RunSettings): Promise<ToolResult> {
  const { connections, durationSec, url } = settings;
  const outDir = await mkdtemp(join(tmpdir(), 'loadmesh-bench-'));
  try {
    const args = [
      LOADMESH_CLI,
      'run',
      ...['--url', url, '--concurrency', String(connections), '--agents', '1'],
      ...['--duration', String(durationSec), '--no-preflight', '--quiet', '--out', outDir],
    ];
    await runPinned('loadmesh', process.execPath, args, settings);

    const summaryPath = join(outDir, 'summary.json');
    const text = await readFile(summaryPath, 'utf8').catch((error: unknown) => {
      throw new ToolRunError(`loadmesh exited with 0 but ${summaryPath} is missing`, {
        cause: error,
      });
    });
    return readLoadmeshSummary(JSON.parse(text) as TaskSummary);
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}

/** Reads the figures from summary.json. Requests cut off by the drain (`incomplete`) are left out. */
export function readLoadmeshSummary(summary: TaskSummary): ToolResult {
  const { totals, durationSec } = summary;
  const statusCounts = Object.entries(totals.statusCodes);
  const non2xx = statusCounts
    .filter(([status]) => !/^2\d\d$/.test(status))
    .reduce((sum, [, count]) => sum + count, 0);
  const socketErrors = Object.entries(totals.errors)
    .filter(([kind]) => kind !== 'status')
    .reduce((sum, [, count]) => sum + count, 0);

  return {
    completed: totals.completed,
    durationSec,
    requestsPerSec: totals.completed / durationSec,
    non2xx,
    socketErrors,
  };
}

/**
 * Runs `command` under `taskset -c core` and returns its stdout. Throws ToolRunError when it
 * cannot start, exits with a code other than 0, or outlives the test duration by 30 s.
 */
export function runPinned(
  tool: ToolName,
  command: string,
  args: string[],
  settings: RunSettings,
): Promise<string> {
  const timeoutMs = settings.durationSec * 1000 + RUN_OVERHEAD_MS;

  return new Promise((resolve, reject) => {
    const child = spawn(TASKSET_BIN, ['-c', String(settings.core), command, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      signal: settings.signal,
      killSignal: 'SIGKILL',
    });
    if (child.pid !== undefined) settings.onSpawn?.(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      if (stdout.length < OUTPUT_LIMIT_CHARS) stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < OUTPUT_LIMIT_CHARS) stderr += chunk.toString();
    });

    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);

    child.once('error', (error) => {
      clearTimeout(timer);
      const message = settings.signal.aborted
        ? `${tool} was interrupted`
        : `${tool} failed to start: ${error.message}`;
      reject(new ToolRunError(message, { cause: error }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut)
        reject(new ToolRunError(`${tool} timed out after ${timeoutMs} ms and was killed`));
      else if (code !== 0)
        reject(
          new ToolRunError(`${tool} exited with ${code ?? signal}: ${tail(stderr || stdout)}`),
        );
      else resolve(stdout);
    });
  });
}

/** Returns the last 500 characters of a tool's output, enough to show its error message. */
function tail(text: string): string {
  const trimmed = text.trim();
  return trimmed.length > 500 ? `...${trimmed.slice(-500)}` : trimmed || '(no output)';
}
