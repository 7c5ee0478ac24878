import { spawn } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TaskSummary } from '../../src/coordinator/index.ts';

export const CLI = new URL('../../bin/loadmesh.js', import.meta.url).pathname;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the loadmesh command as a user would and collects its output; kills it after `timeoutMs`. */
export function runCli(
  args: string[],
  options: { timeoutMs?: number; cwd?: string } = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs `loadmesh run` with --out in a fresh folder and returns the result, the folder and summary.json. */
export async function runTask(
  args: string[],
  options: { timeoutMs?: number } = {},
): Promise<CliResult & { summary: TaskSummary; out: string }> {
  const out = await mkdtemp(join(tmpdir(), 'loadmesh-results-'));
  const result = await runCli(['run', ...args, '--out', out, '--quiet'], options);
  if (result.code !== 0)
    throw new Error(`loadmesh run exited with ${result.code}: ${result.stderr}`);
  const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as TaskSummary;
  return { ...result, summary, out };
}
