import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  describeRun,
  makeScratch,
  readSummary,
  runLoadmesh,
  type Scratch,
} from '../support/cli-process.ts';
import { startHttpServer, type TestHttpServer } from '../support/http-server.ts';

const SLOW_RESPONSE_DELAY_MS = 2_000;
const TIMEOUT_MS = 300;
const DURATION_SEC = 2;

/** What the slow server saw: fast responses sent, and how long each slow request stayed open. */
interface ServerLog {
  fastResponded: number;
  slowResponded: number;
  slowReceived: number;
  /** Milliseconds from reading a slow request's body to the client closing it. */
  slowOpenMs: number[];
}

const seen: ServerLog = { fastResponded: 0, slowResponded: 0, slowReceived: 0, slowOpenMs: [] };
let server: TestHttpServer;
let scratch: Scratch;

beforeAll(async () => {
  scratch = await makeScratch();
  // A request whose body is "slow" gets its response after 2 s. Any other body gets one at once.
  server = await startHttpServer((_request, body, response) => {
    if (body.toString() !== 'slow') {
      seen.fastResponded += 1;
      response.end('fast\n');
      return;
    }

    seen.slowReceived += 1;
    const receivedMs = performance.now();
    const timer = setTimeout(() => {
      seen.slowResponded += 1;
      response.end('slow\n');
    }, SLOW_RESPONSE_DELAY_MS);
    response.on('close', () => {
      clearTimeout(timer);
      if (!response.writableFinished) seen.slowOpenMs.push(performance.now() - receivedMs);
    });
  });
});

afterAll(async () => {
  await server?.stop();
  await scratch?.remove();
});

describe('per-request timeout', () => {
  it('counts timeouts and ends on time', async () => {
    // Entry 0 is fast, so the preflight request passes within the timeout.
    const data = await scratch.write('bodies.txt', 'fast\nslow\n');

    const result = await runLoadmesh(
      [
        '--url',
        `${server.url}/work`,
        '--data-path',
        data,
        '--multi-line',
        '--timeout',
        String(TIMEOUT_MS),
        '--concurrency',
        '4',
        '--duration',
        `${DURATION_SEC}s`,
        '--out',
        scratch.path('out'),
        '--quiet',
      ],
      { timeoutMs: 20_000 },
    );

    expect(result.code, describeRun(result)).toBe(0);
    const summary = await readSummary(scratch.path('out'));
    const { totals } = summary;

    // The run ends at its duration plus at most the drain, which defaults to the timeout.
    expect(summary.endReason).toBe('duration');
    expect(summary.durationSec).toBeGreaterThanOrEqual(DURATION_SEC);
    expect(summary.durationSec).toBeLessThan(DURATION_SEC + TIMEOUT_MS / 1000 + 0.5);

    // Every slow request timed out, unless the drain cut it off at the very end.
    expect(seen.slowResponded).toBe(0);
    expect(totals.errors.timeout).toBeGreaterThan(0);
    expect(totals.errors.timeout! + totals.incomplete).toBe(seen.slowReceived);
    expect(totals.errors).toEqual({ timeout: totals.errors.timeout });
    expect(totals.failed).toBe(totals.errors.timeout);

    // Fast requests still succeed. The server also responded to the preflight request.
    expect(totals.ok).toBeGreaterThan(0);
    expect(totals.ok).toBe(seen.fastResponded - 1);
    expect(totals.statusCodes).toEqual({ 200: totals.ok });
    expect(totals.completed).toBe(totals.ok + totals.failed);

    // The client closed each slow request at its timeout, not at the server's response.
    expect(seen.slowOpenMs.length).toBe(seen.slowReceived);
    for (const openMs of seen.slowOpenMs) {
      expect(openMs).toBeGreaterThan(TIMEOUT_MS - 50);
      expect(openMs).toBeLessThan(TIMEOUT_MS + 400);
    }
  });
});
