import { spawn, type ChildProcess } from 'node:child_process';
import { CLI } from './loadmesh-cli.ts';

/** A long-running loadmesh command (coordinator or agent) started by a test, with its output. */
export interface CliProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves when the output contains `text`; rejects after `timeoutMs`. */
  waitFor(text: string, timeoutMs?: number): Promise<void>;
}

export function startCli(args: string[]): CliProcess {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));

  return {
    child,
    output: () => output,
    waitFor: async (text, timeoutMs = 20_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!output.includes(text)) {
        if (Date.now() > deadline)
          throw new Error(`"${text}" did not appear within ${timeoutMs} ms; output:\n${output}`);
        if (child.exitCode !== null)
          throw new Error(
            `process exited with ${child.exitCode} before "${text}"; output:\n${output}`,
          );
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
  };
}
