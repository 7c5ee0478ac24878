import { availableParallelism } from 'node:os';
/**
 * TTFT, TPOT, output-token and goodput accuracy of `loadmesh run` against the mock LLM, which
 * sends the first token 50 ms after a request arrives and one token every 10 ms after that.
 *
 * The mock runs in its own process and loadmesh in another. The loads are kept modest so
 * that the mock, loadmesh and the test fit on a two-core machine. The absolute bounds are
 * checked at 20 streams. At 200 streams the mock lags, so loadmesh is compared with a
 * reference client that meets the same lag.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { makeScratch, type Scratch } from '../support/cli-process.ts';
import {
  MODEL_NAME,
  median,
  runLlmTask,
  runReferenceClient,
  startMockProcess,
  type LlmRun,
  type MockProcess,
  type MockProcessStats,
  type ReferenceTiming,
} from './support.ts';

const TTFT_MS = 50;
const INTER_TOKEN_MS = 10;
const OUTPUT_TOKENS = 64;
const PROMPT = 'Write a short poem about the sea and the wind.';

let mock: MockProcess;
let scratch: Scratch;
let dataset: string;

beforeAll(async () => {
  mock = await startMockProcess({ ttftMs: TTFT_MS, interTokenLatencyMs: INTER_TOKEN_MS });
  scratch = await makeScratch();
  dataset = await scratch.write(
    'prompt.jsonl',
    `${JSON.stringify({ prompt: PROMPT, max_tokens: OUTPUT_TOKENS })}\n`,
  );
});

afterAll(async () => {
  await mock?.close();
  await scratch?.remove();
});

/** Returns the request body that loadmesh builds from the dataset line. */
function requestBody(includeUsage: boolean): string {
  return JSON.stringify({
    model: MODEL_NAME,
    messages: [{ role: 'user', content: PROMPT }],
    max_tokens: OUTPUT_TOKENS,
    stream: true,
    ...(includeUsage ? { stream_options: { include_usage: true } } : {}),
  });
}

/** Runs `loadmesh run` on the one-line dataset, which every request repeats. */
function runLoad(concurrency: number, requests: number, args: string[]): Promise<LlmRun> {
  return runLlmTask(mock.url, [
    '--dataset',
    'custom',
    '--dataset-path',
    dataset,
    '--concurrency',
    String(concurrency),
    '--requests',
    String(requests),
    ...args,
  ]);
}

/** What the mock saw while one client ran. */
interface MockActivity {
  /** Mean delay of the mock's chunks behind their due times, in ms: the mock's lag. */
  sendDelayMs: number;
  generations: number;
  acceptedConnections: number;
}

function mockActivity(before: MockProcessStats, after: MockProcessStats): MockActivity {
  const chunks = after.chunksSent - before.chunksSent;
  const totalDelayMs =
    after.meanSendDelayMs * after.chunksSent - before.meanSendDelayMs * before.chunksSent;
  return {
    sendDelayMs: chunks === 0 ? 0 : totalDelayMs / chunks,
    generations: after.generations - before.generations,
    acceptedConnections: after.acceptedConnections - before.acceptedConnections,
  };
}

/** Runs `phase` and returns its result with what the mock saw while it ran. */
async function watchMock<T>(phase: () => Promise<T>): Promise<[T, MockActivity]> {
  const before = await mock.stats();
  const result = await phase();
  return [result, mockActivity(before, await mock.stats())];
}

const ms = (us: number): string => (us / 1000).toFixed(3);

/**
 * Checks a request of OUTPUT_TOKENS tokens against the SLOs ttft=100ms,tpot=20ms, with TPOT as
 * loadmesh defines it: (E2E - TTFT) / (output tokens - 1).
 */
function meetsSlo(ttftUs: number, e2eUs: number): boolean {
  const tpotUs = (e2eUs - ttftUs) / (OUTPUT_TOKENS - 1);
  return ttftUs <= 100_000 && tpotUs <= 20_000;
}

function referenceTtftP50Us(timings: readonly ReferenceTiming[]): number {
  return median(timings.map((timing) => timing.ttftUs));
}

describe('20 concurrent streams', () => {
  const concurrency = 20;
  const requests = 200;
  let reference: ReferenceTiming[];
  let referenceActivity: MockActivity;
  let run: LlmRun;
  let runActivity: MockActivity;

  beforeAll(async () => {
    // The reference run warms the mock up, so that no request of loadmesh's run waits for
    // the mock's code to compile. Its figures also show what a minimal client measures.
    [reference, referenceActivity] = await watchMock(() =>
      runReferenceClient({ url: mock.url, body: requestBody(true), concurrency, requests: 100 }),
    );
    [run, runActivity] = await watchMock(() =>
      runLoad(concurrency, requests, ['--slo', 'ttft=100ms,tpot=20ms', '--save-requests']),
    );
  }, 60_000);

  /** Figures for assertion messages: where an error beyond the bound comes from. */
  const figures = (): string => {
    const referenceMeeting = reference.filter((timing) => meetsSlo(timing.ttftUs, timing.e2eUs));
    return (
      `loadmesh TTFT p50 ${ms(run.llm.ttftUs.p50Us)} ms, TPOT p50 ${ms(run.llm.tpotUs.p50Us)} ms, ` +
      `client wait p50 ${ms(run.summary.latency.waitUs.p50Us)} ms, mock send delay ` +
      `${runActivity.sendDelayMs.toFixed(3)} ms, goodput ${run.llm.goodput?.requests}/${requests}; ` +
      `reference TTFT p50 ${ms(referenceTtftP50Us(reference))} ms, mock send delay ` +
      `${referenceActivity.sendDelayMs.toFixed(3)} ms, meeting the SLOs ` +
      `${referenceMeeting.length}/${reference.length}`
    );
  };

  // NOTE: the target is loadmesh's TTFT p50 within 1 ms of the mock's 50 ms. On the 2-core
  // machines here the minimal reference client itself measures 51.1-55 ms (the mock sends
  // chunks about 0.3-0.9 ms late, plus the loopback trip), so the check is against the
  // reference. Paired runs differed by -0.6 to +0.2 ms on a quiet machine and by -2.5 to +1.9
  // ms with other load on it, so 3 ms.
  it('TTFT p50 within 3 ms of the reference', () => {
    const { ttftUs } = run.llm;

    expect(ttftUs.count, figures()).toBe(requests);
    expect(ttftUs.p50Us, figures()).toBeGreaterThanOrEqual(TTFT_MS * 1000);
    expect(ttftUs.p50Us - referenceTtftP50Us(reference), figures()).toBeLessThanOrEqual(3000);
  });

  it('TPOT p50 within 0.5 ms of 10 ms', () => {
    const { tpotUs } = run.llm;

    expect(tpotUs.count, figures()).toBe(requests);
    expect(Math.abs(tpotUs.p50Us - INTER_TOKEN_MS * 1000), figures()).toBeLessThanOrEqual(500);
  });

  it('output tokens from usage are exact', () => {
    expect(run.llm.successfulRequests).toBe(requests);
    expect(run.llm.outputTokens).toBe(requests * OUTPUT_TOKENS);
    expect(run.llm.outputTokensCountedBy).toEqual({ usage: requests, tokenizer: 0 });
  });

  it('concurrency mode sends the request count', () => {
    expect(run.summary.endReason).toBe('requests');
    expect(run.summary.totals.sent).toBe(requests);
    expect(run.llm.successfulRequests).toBe(requests);
    expect(run.llm.failedRequests).toBe(0);
    expect(runActivity.generations).toBe(requests);
    expect(run.records).toHaveLength(requests);
  });

  it('concurrency mode reuses its connections', () => {
    // The reference client's pool is capped at the concurrency, so its count checks the counter.
    expect(referenceActivity.acceptedConnections).toBe(concurrency);
    expect(runActivity.acceptedConnections).toBeLessThanOrEqual(concurrency);
  });

  it('goodput matches the records', () => {
    const meeting = run.records.filter((record) =>
      meetsSlo(record.ttftMs! * 1000, record.e2eMs * 1000),
    );
    const goodput = run.llm.goodput;

    expect(goodput?.slo).toEqual({ ttftMs: 100, tpotMs: 20 });
    // Records round times to 1 µs, which can move a request right at a bound.
    expect(Math.abs(goodput!.requests - meeting.length)).toBeLessThanOrEqual(1);
  });

  it('goodput near the reference share', () => {
    // The same SLOs applied to the reference client's requests give the share this mock and
    // machine allow; loadmesh's first second adds connection setup, hence the 10% margin
    // (and 1e-9 for the rounding of the two fractions).
    const referenceShare =
      reference.filter((timing) => meetsSlo(timing.ttftUs, timing.e2eUs)).length / reference.length;
    expect(run.llm.goodput!.requests / requests, figures()).toBeGreaterThanOrEqual(
      referenceShare - 0.1 - 1e-9,
    );
  });
});

// NOTE: at 200 streams with 10 ms between tokens the mock alone sends 20,000 chunks a second,
// which takes about one core, so on a 2-core machine the client starves. Measured here, with
// these runs alternating: the reference's TTFT p50 moved between 55 and 83 ms from one run to
// the next, loadmesh's between 66 and 86 ms with usage and 78 and 100 ms without. In the first
// round all 200 connections open at once, and those requests (a third of the 600) reach 106-240
// ms in the reference too, so the p50 sits at the edge of that group. The timing comparison runs
// only where at least 4 cores leave the mock and the client a core each.
describe('200 concurrent streams against the reference client', () => {
  const concurrency = 200;
  const requests = 600;
  /** Reference runs before, between and after the two loadmesh runs. */
  const references: ReferenceTiming[][] = [];
  const activities: MockActivity[] = [];
  let usageRun: LlmRun;
  let tokenizerRun: LlmRun;

  beforeAll(async () => {
    // The usage chunk comes after the last text, so it cannot change a TTFT, and one body
    // serves as reference for both loadmesh runs.
    const reference = (): Promise<ReferenceTiming[]> =>
      runReferenceClient({ url: mock.url, body: requestBody(true), concurrency, requests });
    const record = <T>([result, activity]: [T, MockActivity]): T => {
      activities.push(activity);
      return result;
    };

    // Reference and loadmesh alternate, so a drift of the machine shows in both.
    references.push(record(await watchMock(reference)));
    usageRun = record(await watchMock(() => runLoad(concurrency, requests, [])));
    references.push(record(await watchMock(reference)));
    tokenizerRun = record(
      await watchMock(() => runLoad(concurrency, requests, ['--no-usage', '--slo', 'ttft=10ms'])),
    );
    references.push(record(await watchMock(reference)));
  }, 120_000);

  /** Figures for assertion messages: both loadmesh runs, the reference runs and the mock lag. */
  const figures = (): string =>
    `loadmesh TTFT p50 with usage ${ms(usageRun.llm.ttftUs.p50Us)} ms (client wait p50 ` +
    `${ms(usageRun.summary.latency.waitUs.p50Us)} ms), without usage ` +
    `${ms(tokenizerRun.llm.ttftUs.p50Us)} ms (client wait p50 ` +
    `${ms(tokenizerRun.summary.latency.waitUs.p50Us)} ms); reference TTFT p50s ` +
    `${references.map((timings) => ms(referenceTtftP50Us(timings))).join(', ')} ms; ` +
    `mock send delays ${activities.map((activity) => activity.sendDelayMs.toFixed(3)).join(', ')} ms, ` +
    `connections ${activities.map((activity) => activity.acceptedConnections).join(', ')}`;

  /** Compares a loadmesh run's TTFT p50 with the reference runs just before and after it. */
  const expectNearReference = (run: LlmRun, runIndex: number): void => {
    const neighbours = [...references[runIndex]!, ...references[runIndex + 1]!];
    const referenceP50Us = median(neighbours.map((timing) => timing.ttftUs));

    expect(run.llm.ttftUs.count, figures()).toBe(requests);
    expect(Math.abs(run.llm.ttftUs.p50Us - referenceP50Us), figures()).toBeLessThanOrEqual(1000);
  };

  it.skipIf(availableParallelism() < 4)('TTFT p50 with usage near reference', () => {
    expectNearReference(usageRun, 0);
  });

  it.skipIf(availableParallelism() < 4)('TTFT p50 without usage near reference', () => {
    expectNearReference(tokenizerRun, 1);
  });

  it('output tokens from usage are exact', () => {
    expect(usageRun.llm.successfulRequests).toBe(requests);
    expect(usageRun.llm.outputTokens).toBe(requests * OUTPUT_TOKENS);
    expect(usageRun.llm.outputTokensCountedBy).toEqual({ usage: requests, tokenizer: 0 });
  });

  it('output tokens from the tokenizer are exact', () => {
    expect(tokenizerRun.llm.successfulRequests).toBe(requests);
    expect(tokenizerRun.llm.outputTokens).toBe(requests * OUTPUT_TOKENS);
    expect(tokenizerRun.llm.outputTokensCountedBy).toEqual({ usage: 0, tokenizer: requests });
  });

  it('goodput is zero below the mock TTFT', () => {
    expect(tokenizerRun.llm.goodput?.slo).toEqual({ ttftMs: 10 });
    expect(tokenizerRun.llm.goodput?.requests).toBe(0);
    expect(tokenizerRun.llm.goodput?.requestsPerSec).toBe(0);
  });
});
