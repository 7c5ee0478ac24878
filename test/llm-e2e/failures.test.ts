/**
 * Failed LLM requests are data. The mock responds to a fifth of the requests with HTTP 500
 * and sends an error object halfway through a tenth of the other streams. loadmesh must
 * count each failure by its kind and never as a success.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { MockLlmStats } from '../../src/mockllm/server.ts';
import {
  describeRun,
  makeScratch,
  readSummary,
  runLoadmesh,
  type Scratch,
} from '../support/cli-process.ts';
import {
  MODEL_NAME,
  REPO_ROOT,
  mockTargetFlags,
  promptLines,
  runLlmTask,
  startMockProcess,
  type LlmRun,
  type MockProcess,
} from './support.ts';

const REQUESTS = 200;
const OUTPUT_TOKENS = 8;

let mock: MockProcess;
let scratch: Scratch;
let run: LlmRun;
let stats: MockLlmStats;

beforeAll(async () => {
  mock = await startMockProcess({
    ttftMs: 5,
    interTokenLatencyMs: 1,
    errorRate: 0.2,
    midStreamErrorRate: 0.1,
    seed: 3,
  });
  scratch = await makeScratch();
  const dataset = await scratch.write('prompts.jsonl', promptLines(REQUESTS, OUTPUT_TOKENS));
  run = await runLlmTask(mock.url, [
    '--dataset',
    'custom',
    '--dataset-path',
    dataset,
    '--concurrency',
    '20',
    '--save-requests',
  ]);
  stats = await mock.stats();
}, 60_000);

afterAll(async () => {
  await mock?.close();
  await scratch?.remove();
});

describe('injected failures', () => {
  it('mock injected both kinds', () => {
    // The seed fixes which requests fail. These bounds only guard against a seed that
    // injects nothing, which would let the other tests pass without checking anything.
    expect(stats.generations).toBe(REQUESTS);
    expect(stats.injectedErrors).toBeGreaterThan(20);
    expect(stats.injectedMidStreamErrors).toBeGreaterThan(5);
  });

  it('failures are counted by kind', () => {
    const { totals } = run.summary;

    expect(totals.errors['status']).toBe(stats.injectedErrors);
    expect(totals.statusCodes['500']).toBe(stats.injectedErrors);
    expect(totals.errors['stream-error']).toBe(stats.injectedMidStreamErrors);
    expect(Object.keys(totals.errors).sort()).toEqual(['status', 'stream-error']);
    expect(totals.failed).toBe(stats.injectedErrors + stats.injectedMidStreamErrors);
  });

  it('failures are never successes', () => {
    const failed = stats.injectedErrors + stats.injectedMidStreamErrors;
    const { llm } = run;

    expect(llm.failedRequests).toBe(failed);
    expect(llm.successfulRequests).toBe(REQUESTS - failed);
    expect(llm.successfulRequests + llm.failedRequests).toBe(REQUESTS);
    expect(run.summary.totals.ok).toBe(REQUESTS - failed);
    // Only successful requests carry token counts and token latencies.
    expect(llm.outputTokens).toBe(llm.successfulRequests * OUTPUT_TOKENS);
    expect(llm.outputTokensCountedBy.usage + llm.outputTokensCountedBy.tokenizer).toBe(
      llm.successfulRequests,
    );
    expect(llm.ttftUs.count).toBe(llm.successfulRequests);
    expect(llm.e2eUs.count).toBe(llm.successfulRequests);
  });

  it('records show each failure', () => {
    const byKind = (kind: string | undefined) =>
      run.records.filter((record) => record.error === kind);

    expect(run.records).toHaveLength(REQUESTS);
    const statusFailures = byKind('status');
    expect(statusFailures).toHaveLength(stats.injectedErrors);
    for (const record of statusFailures) {
      expect(record.status).toBe(500);
      expect(record.ttftMs).toBeUndefined();
    }
    const streamFailures = byKind('stream-error');
    expect(streamFailures).toHaveLength(stats.injectedMidStreamErrors);
    for (const record of streamFailures) {
      expect(record.status).toBe(200);
      expect(record.outputTokens).toBeUndefined();
    }
    expect(byKind(undefined)).toHaveLength(
      REQUESTS - statusFailures.length - streamFailures.length,
    );
  });
});

describe('a server that fails every request', () => {
  it('exits 1 and shows no latency figures', async () => {
    const failing = await startMockProcess({ ttftMs: 1, interTokenLatencyMs: 1, errorRate: 1 });
    try {
      const dataset = await scratch.write('failing.jsonl', promptLines(20, OUTPUT_TOKENS));
      const result = await runLoadmesh(
        [
          ...mockTargetFlags(failing.url),
          '--model-name',
          MODEL_NAME,
          '--dataset',
          'custom',
          '--dataset-path',
          dataset,
          '--concurrency',
          '4',
          '--no-preflight',
          '--out',
          scratch.path('failing-out'),
          '--quiet',
        ],
        { cwd: REPO_ROOT },
      );

      expect(result.code, describeRun(result)).toBe(1);
      expect(result.stderr).toContain('error: none of the 20 requests succeeded');
      expect(result.stdout).toMatch(/Mean TTFT \(ms\): +n\/a/);
      // A 500 is a whole response, so it has a response time.
      expect(result.stdout).toMatch(/Response time +20 +\d/);
      const summary = await readSummary(scratch.path('failing-out'));
      expect(summary.totals.statusCodes).toEqual({ 500: 20 });
    } finally {
      await failing.close();
    }
  });
});
