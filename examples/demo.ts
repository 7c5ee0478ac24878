/**
 * The README's first run: starts the bundled mock LLM server on a free loopback port, runs
 * examples/llm-task.json against it with the ShareGPT sample and a real Llama 3 tokenizer,
 * prints the summary and stops the mock. Exits with loadmesh run's exit code.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

const cli = new URL('../bin/loadmesh.js', import.meta.url).pathname;
const task = new URL('./llm-task.json', import.meta.url).pathname;

const mock = spawn(process.execPath, [cli, 'mock-llm', '--port', '0'], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
let startTimer: NodeJS.Timeout | undefined;
const [url] = (await Promise.race([
  once(createInterface({ input: mock.stdout }), 'line'),
  new Promise((_, reject) => {
    startTimer = setTimeout(
      () => reject(new Error('the mock LLM server did not start within 20 s')),
      20_000,
    );
  }),
])) as [string];
clearTimeout(startTimer);
process.stderr.write(`mock LLM server at ${url}\n`);

const run = spawn(process.execPath, [cli, 'run', task, '--url', url, ...process.argv.slice(2)], {
  stdio: 'inherit',
});
const [code] = (await once(run, 'exit')) as [number | null];

mock.kill('SIGTERM');
await once(mock, 'exit');
process.exitCode = code ?? 1;
