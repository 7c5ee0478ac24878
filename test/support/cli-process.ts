import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TaskSummary } from '../../src/coordinator/index.ts';

/** The `loadmesh` command as users run it: the bin script, which registers tsx itself. */
export const LOADMESH_BIN = fileURLToPath(new URL('../../bin/loadmesh.js', import.meta.url));

export interface RunResult {
  /** Exit code, or null when the process was killed. */
  code: number | null;
  stdout: string;
  stderr: string;
  elapsedMs: number;
  /** True when the run outlived `timeoutMs` and was killed. */
  timedOut: boolean;
}

export interface RunOptions {
  /** Working folder of the process. Relative task and data paths start from it. */
  cwd?: string;
  /** Milliseconds before the process is killed with SIGKILL. */
  timeoutMs?: number;
  /** Variables added to this process's environment. */
  env?: NodeJS.ProcessEnv;
}

/** Runs `loadmesh run ARGS` in a child process and collects its output and exit code. */
export function runLoadmesh(args: string[], options: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const started = performance.now();
  const child = spawn(process.execPath, [LOADMESH_BIN, 'run', ...args], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));

  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);

  return new Promise((resolve, reject) => {
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, elapsedMs: performance.now() - started, timedOut });
    });
  });
}

/** Reads the summary.json that a run wrote into its `--out` folder. */
export async function readSummary(outDir: string): Promise<TaskSummary> {
  return JSON.parse(await readFile(join(outDir, 'summary.json'), 'utf8')) as TaskSummary;
}

/** Formats a finished run for assertion messages: exit code and both streams. */
export function describeRun(result: RunResult): string {
  const killed = result.timedOut ? ' (killed after its timeout)' : '';
  return `exit ${result.code}${killed}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}

/** A temporary folder for task files, data and results. */
export interface Scratch {
  dir: string;
  path(name: string): string;
  /** Writes a file into the folder and returns its path. */
  write(name: string, content: string | Buffer): Promise<string>;
  /** Writes `config` as JSON into the folder and returns its path. */
  writeJson(name: string, config: unknown): Promise<string>;
  remove(): Promise<void>;
}

export async function makeScratch(): Promise<Scratch> {
  const dir = await mkdtemp(join(tmpdir(), 'loadmesh-test-'));
  const path = (name: string): string => join(dir, name);
  const write = async (name: string, content: string | Buffer): Promise<string> => {
    await writeFile(path(name), content);
    return path(name);
  };
  return {
    dir,
    path,
    write,
    writeJson: (name, config) => write(name, JSON.stringify(config, null, 2)),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
