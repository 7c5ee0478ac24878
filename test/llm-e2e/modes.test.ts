/**
 * Request counts and arrival rate of the LLM load modes rate and throughput against the
 * mock LLM. The concurrency mode's count is checked with the timing runs in
 * accuracy.test.ts. Each run has its own mock, whose count of generation requests is
 * compared with loadmesh's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ArrivalSchedule } from '../../src/coordinator/scheduler.ts';
import { makeScratch, type Scratch } from '../support/cli-process.ts';
import {
  promptLines,
  runLlmTask,
  startMockProcess,
  type LlmRun,
  type MockProcess,
} from './support.ts';

/** Short outputs (4 tokens, about 80 ms a request), so that the mock stays far from saturation. */
const OUTPUT_TOKENS = 4;
const COUNTED_REQUESTS = 60;

const RATE_PER_SEC = 20;
const RATE_DURATION_SEC = 10;
const RATE_SEED = 7;

interface CountedRun {
  run: LlmRun;
  /** Generation requests that the run's mock received. */
  generations: number;
}

const mocks: MockProcess[] = [];
let scratch: Scratch;
let dataset: string;
let throughput: CountedRun;
let countedRate: CountedRun;
let timedRate: CountedRun;

beforeAll(async () => {
  scratch = await makeScratch();
  dataset = await scratch.write('prompts.jsonl', promptLines(10, OUTPUT_TOKENS));

  // Each run has a mock of its own. The two short runs go one after the other while the
  // timed rate run is under way, because its 20 requests a second cost little CPU. This saves
  // wall time and keeps at most two loadmesh processes loading tokenizers at once.
  const runCountedInTurn = async (): Promise<void> => {
    throughput = await runCounted(['--mode', 'throughput', '--requests', String(COUNTED_REQUESTS)]);
    countedRate = await runCounted(['--rate', '50', '--requests', String(COUNTED_REQUESTS)]);
  };
  [timedRate] = await Promise.all([
    runCounted([
      '--rate',
      String(RATE_PER_SEC),
      '--duration',
      String(RATE_DURATION_SEC),
      '--seed',
      String(RATE_SEED),
      // Far above the schedule's count, so the duration ends the run.
      '--requests',
      String(RATE_PER_SEC * RATE_DURATION_SEC * 5),
    ]),
    runCountedInTurn(),
  ]);
}, 90_000);

afterAll(async () => {
  await Promise.all(mocks.map((mock) => mock.close()));
  await scratch?.remove();
});

/** Runs loadmesh on the shared dataset against a mock of its own. */
async function runCounted(args: string[]): Promise<CountedRun> {
  const mock = await startMockProcess({ ttftMs: 50, interTokenLatencyMs: 10 });
  mocks.push(mock);
  const run = await runLlmTask(mock.url, [
    '--dataset',
    'custom',
    '--dataset-path',
    dataset,
    ...args,
  ]);
  const { generations } = await mock.stats();
  return { run, generations };
}

describe('request counts', () => {
  it('throughput mode sends every request at once', () => {
    const { run, generations } = throughput;

    expect(run.summary.endReason).toBe('requests');
    expect(run.summary.totals.sent).toBe(COUNTED_REQUESTS);
    expect(run.llm.successfulRequests).toBe(COUNTED_REQUESTS);
    expect(run.llm.failedRequests).toBe(0);
    expect(generations).toBe(COUNTED_REQUESTS);
    expect(run.summary.totals.maxInFlight).toBe(COUNTED_REQUESTS);
  });

  it('rate mode stops at the request count', () => {
    const { run, generations } = countedRate;

    expect(run.summary.endReason).toBe('requests');
    expect(run.summary.totals.sent).toBe(COUNTED_REQUESTS);
    expect(run.llm.successfulRequests).toBe(COUNTED_REQUESTS);
    expect(run.llm.failedRequests).toBe(0);
    expect(run.summary.totals.dropped).toBe(0);
    expect(generations).toBe(COUNTED_REQUESTS);
  });
});

describe('rate mode for 10 s', () => {
  // A Poisson count over 10 s at 20/s varies by about 7% (sqrt(200) / 200), so the run is
  // checked against the schedule itself, and the schedule against the rate.
  const scheduled = new ArrivalSchedule({
    ratePerSec: RATE_PER_SEC,
    burstiness: 1,
    seed: RATE_SEED,
    durationUs: RATE_DURATION_SEC * 1e6,
  }).take(Infinity).length;

  it('schedule matches the rate', () => {
    const expected = RATE_PER_SEC * RATE_DURATION_SEC;

    expect(Math.abs(scheduled - expected)).toBeLessThan(3 * Math.sqrt(expected));
  });

  it('sends every scheduled arrival once', () => {
    const { run, generations } = timedRate;

    expect(run.summary.endReason).toBe('duration');
    expect(run.summary.totals.sent).toBe(scheduled);
    expect(run.summary.totals.dropped).toBe(0);
    expect(run.llm.successfulRequests).toBe(scheduled);
    expect(run.llm.failedRequests).toBe(0);
    expect(generations).toBe(scheduled);
  });

  it('achieves the scheduled rate within 2%', () => {
    const { summary } = timedRate.run;
    const scheduledPerSec = scheduled / RATE_DURATION_SEC;
    const achievedPerSec = summary.totals.completed / summary.durationSec;
    const detail = `achieved ${achievedPerSec.toFixed(3)}/s, scheduled ${scheduledPerSec}/s, run ${summary.durationSec} s`;

    expect(Math.abs(achievedPerSec - scheduledPerSec) / scheduledPerSec, detail).toBeLessThan(0.02);
  });

  it('sends on time while the mock keeps up', () => {
    // Latency starts at the intended send time, so a late pacer shows as client wait.
    expect(timedRate.run.summary.latency.waitUs.p50Us).toBeLessThan(2_000);
  });
});
