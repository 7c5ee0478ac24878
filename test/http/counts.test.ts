import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import {
  describeRun,
  makeScratch,
  readSummary,
  runLoadmesh,
  type Scratch,
} from '../support/cli-process.ts';
import {
  startNginx,
  waitForAccessLog,
  waitForLogFile,
  type NginxServer,
} from '../support/nginx.ts';
import {
  BODY_LOG,
  BODY_LOG_FORMAT,
  bodyRoute,
  countBy,
  parseAccessLine,
  parseBodyLine,
  sumOf,
} from '../support/nginx-logs.ts';

/**
 * /mixed responds with 503 to JSON bodies and with 200 to the rest. It passes each request on to a status
 * location, so that nginx reads the body and counts it in `$request_length` as it would for a
 * real service; a bare `return` leaves the body unread and out of that count.
 */
const MIXED_HTTP = `
  ${BODY_LOG_FORMAT}
  map $http_content_type $lm_mixed_status {
    "application/json" 503;
    default 200;
  }`;

const MIXED_LOCATIONS = `
    location = /mixed {
      proxy_pass http://127.0.0.1:$server_port/__status$lm_mixed_status;
    }
    location = /__status200 { access_log off; return 200 "ok\\n"; }
    location = /__status503 { access_log off; return 503 "busy\\n"; }
    location = /put-only {
      if ($request_method != PUT) { return 405; }
      return 200 "ok\\n";
    }
    location = /capped { return 200 "ok\\n"; }
    ${bodyRoute('/ingest')}`;

let nginx: NginxServer;
let scratch: Scratch;

beforeAll(async () => {
  nginx = await startNginx({ http: MIXED_HTTP, locations: MIXED_LOCATIONS });
});

afterAll(async () => {
  await nginx?.stop();
});

beforeEach(async () => {
  scratch = await makeScratch();
});

afterEach(async () => {
  await scratch?.remove();
});

/** Waits until nginx has logged `count` more lines than `before`, and returns the new lines. */
async function newAccessLines(before: number, count: number): Promise<string[]> {
  return (await waitForAccessLog(nginx, before + count)).slice(before);
}

async function newBodyLines(before: number, count: number): Promise<string[]> {
  return (await waitForLogFile(nginx, BODY_LOG, before + count)).slice(before);
}

async function bodyLogLength(): Promise<number> {
  return (await waitForLogFile(nginx, BODY_LOG, 0)).length;
}

describe('fixed concurrency against nginx', () => {
  it('counts requests, statuses and bytes', async () => {
    // Entries 0 and 2 are text (200), 1 and 3 are JSON (503). With 2 agents stepping through the
    // entries interleaved, 3000 requests send each entry exactly 750 times.
    await scratch.write(
      'lines.txt',
      'plain-0\n{"kind": "json", "n": 1}\nplain-2\n{"kind": "json", "n": 3}\n',
    );
    const task = await scratch.writeJson('task.json', {
      service: { url: `${nginx.url}/mixed` },
      data: { path: 'lines.txt', multiLine: true },
      optional: { concurrency: 8, agentCount: 2, requestCount: 3000, duration: 60 },
    });
    const before = (await nginx.accessLog()).length;

    const result = await runLoadmesh([task, '--out', scratch.path('out'), '--quiet']);

    expect(result.code, describeRun(result)).toBe(0);
    const summary = await readSummary(scratch.path('out'));
    const lines = (await newAccessLines(before, 3001)).map(parseAccessLine);
    expect(lines).toHaveLength(3001);

    // The preflight request is the first line: entry 0, a text body.
    expect(lines[0]!.status).toBe(200);
    const load = lines.slice(1);

    expect(summary.endReason).toBe('requests');
    expect(summary.totals.sent).toBe(3000);
    expect(summary.totals.completed).toBe(3000);
    expect(summary.totals.incomplete).toBe(0);
    expect(countBy(load, (l) => l.status)).toEqual({ 200: 1500, 503: 1500 });
    expect(summary.totals.statusCodes).toEqual({ 200: 1500, 503: 1500 });
    expect(summary.totals.ok).toBe(1500);
    expect(summary.totals.failed).toBe(1500);
    expect(summary.totals.errors).toEqual({ status: 1500 });

    expect(summary.totals.bytesSent).toBe(sumOf(load, (l) => l.requestLength));
    expect(summary.totals.bytesReceived).toBe(sumOf(load, (l) => l.bytesSent));
  });

  it('reports the peak in flight over all agents', async () => {
    // Closed loop: each of 2 agents keeps 8 requests in flight from the first send, so 16 are in
    // flight at once across the task.
    const before = (await nginx.accessLog()).length;

    const result = await runLoadmesh([
      '--url',
      `${nginx.url}/mixed`,
      '--concurrency',
      '8',
      '--agents',
      '2',
      '--requests',
      '400',
      '--no-preflight',
      '--out',
      scratch.path('out'),
      '--quiet',
    ]);

    expect(result.code, describeRun(result)).toBe(0);
    expect(await newAccessLines(before, 400)).toHaveLength(400);
    const summary = await readSummary(scratch.path('out'));
    expect(summary.totals.completed).toBe(400);
    expect(summary.totals.maxInFlight).toBe(16);
  });
});

describe('task file and flags', () => {
  it('flags override the task file', async () => {
    const task = await scratch.writeJson('task.json', {
      service: { url: 'http://127.0.0.1:1/nothing-here' },
      http: { method: 'PUT', headers: { Authorization: 'Bearer s3cret', 'X-Trace': 'visible' } },
      optional: { concurrency: 1, requestCount: 5 },
    });
    const before = (await nginx.accessLog()).length;

    const result = await runLoadmesh([
      task,
      '--url',
      `${nginx.url}/put-only`,
      '--requests',
      '30',
      '--concurrency',
      '3',
      '--no-preflight',
      '--out',
      scratch.path('out'),
      '--quiet',
    ]);

    expect(result.code, describeRun(result)).toBe(0);
    const lines = (await newAccessLines(before, 30)).map(parseAccessLine);
    expect(lines.map((l) => `${l.status} ${l.uri}`)).toEqual(Array(30).fill('200 /put-only'));
    const summary = await readSummary(scratch.path('out'));
    expect(summary.totals.statusCodes).toEqual({ 200: 30 });
    expect(summary.config.service.url).toBe(`${nginx.url}/put-only`);
    expect(summary.config.optional.concurrency).toBe(3);

    // The file's secret header is kept out of the results, and other headers stay.
    expect(summary.config.http.headers).toEqual({
      Authorization: '[redacted]',
      'X-Trace': 'visible',
    });
    const text = await readFile(scratch.path('out/summary.json'), 'utf8');
    expect(text).not.toContain('s3cret');
  });

  it('caps a closed loop with maxQPS', async () => {
    const before = (await nginx.accessLog()).length;

    const result = await runLoadmesh([
      '--url',
      `${nginx.url}/capped`,
      '--concurrency',
      '4',
      '--duration',
      '4',
      '--max-qps',
      '50',
      '--no-preflight',
      '--out',
      scratch.path('out'),
    ]);

    expect(result.code, describeRun(result)).toBe(0);
    expect(result.stdout).toContain('capped at 50 req/s (maxQPS)');
    const summary = await readSummary(scratch.path('out'));
    // Uncapped, 4 users against nginx send thousands of requests a second.
    expect(summary.totals.completed).toBeGreaterThan(50 * 4 * 0.9);
    expect(summary.totals.completed).toBeLessThanOrEqual(50 * 4 + 5);
    // Sends wait for their rate slots, and latency counts from each slot, never from later.
    const { rtUs, serviceUs } = summary.latency;
    expect(rtUs.minUs).toBeGreaterThanOrEqual(serviceUs.minUs);
    expect(rtUs.p50Us).toBeGreaterThanOrEqual(serviceUs.p50Us);
    expect(await newAccessLines(before, summary.totals.completed)).toHaveLength(
      summary.totals.completed,
    );
  });
});

describe('results folder', () => {
  it('drops requests.jsonl of an earlier run', async () => {
    // A folder reused by a run without --save-requests must not keep the records of another run.
    await mkdir(scratch.path('out'));
    await scratch.write('out/requests.jsonl', '{"e2eMs": 1}\n');

    const result = await runLoadmesh([
      '--url',
      `${nginx.url}/mixed`,
      '--requests',
      '20',
      '--no-preflight',
      '--out',
      scratch.path('out'),
      '--quiet',
    ]);

    expect(result.code, describeRun(result)).toBe(0);
    expect(existsSync(scratch.path('out/summary.json'))).toBe(true);
    expect(existsSync(scratch.path('out/requests.jsonl'))).toBe(false);
  });
});

describe('request bodies reach nginx', () => {
  it('sends data.content decoded from base64', async () => {
    const body = JSON.stringify({
      prompt: 'Summarize the quarterly report in three sentences.',
      tags: ['finance', 'summary'],
      maxWords: 120,
    });
    const beforeBodies = await bodyLogLength();
    const beforeAccess = (await nginx.accessLog()).length;

    const result = await runLoadmesh([
      '--url',
      `${nginx.url}/ingest`,
      '--data-base64',
      Buffer.from(body).toString('base64'),
      '--requests',
      '20',
      '--concurrency',
      '4',
      '--out',
      scratch.path('out'),
      '--quiet',
    ]);

    expect(result.code, describeRun(result)).toBe(0);
    // 20 requests of the load and the preflight request.
    const received = (await newBodyLines(beforeBodies, 21)).map(parseBodyLine);
    expect(received).toHaveLength(21);
    for (const line of received) {
      expect(line.status).toBe(200);
      expect(line.contentLength).toBe(Buffer.byteLength(body));
      expect(line.body).toBe(body);
    }

    const summary = await readSummary(scratch.path('out'));
    const load = (await newAccessLines(beforeAccess, 21)).slice(1).map(parseAccessLine);
    expect(summary.totals.statusCodes).toEqual({ 200: 20 });
    expect(summary.totals.bytesSent).toBe(sumOf(load, (l) => l.requestLength));
    expect(summary.totals.bytesReceived).toBe(sumOf(load, (l) => l.bytesSent));
  });

  it('sends one body per line with multiLine', async () => {
    // A CRLF line end, a blank line, and a last line without a line end.
    const path = await scratch.write(
      'bodies.jsonl',
      '{"id": 1}\r\n\n{"id": 2, "text": "two words"}\nlast line without a line end',
    );
    const lines = ['{"id": 1}', '{"id": 2, "text": "two words"}', 'last line without a line end'];
    const before = await bodyLogLength();

    const result = await runLoadmesh([
      '--url',
      `${nginx.url}/ingest`,
      '--data-path',
      path,
      '--multi-line',
      '--requests',
      '9',
      '--concurrency',
      '1',
      '--out',
      scratch.path('out'),
      '--quiet',
    ]);

    expect(result.code, describeRun(result)).toBe(0);
    const received = (await newBodyLines(before, 10)).map(parseBodyLine);
    expect(received).toHaveLength(10);
    expect(received[0]!.body).toBe(lines[0]);

    const load = received.slice(1);
    expect(countBy(load, (l) => l.body)).toEqual({
      [lines[0]!]: 3,
      [lines[1]!]: 3,
      [lines[2]!]: 3,
    });
    for (const line of load) expect(line.contentLength).toBe(Buffer.byteLength(line.body));
  });

  it('sends a whole file as one body without multiLine', async () => {
    const text = 'first line\nsecond line\n';
    const path = await scratch.write('body.txt', text);
    const before = await bodyLogLength();

    const result = await runLoadmesh([
      '--url',
      `${nginx.url}/ingest`,
      '--data-path',
      path,
      '--requests',
      '2',
      '--concurrency',
      '1',
      '--no-preflight',
      '--out',
      scratch.path('out'),
      '--quiet',
    ]);

    expect(result.code, describeRun(result)).toBe(0);
    const received = (await newBodyLines(before, 2)).map(parseBodyLine);
    expect(received.map((l) => l.body)).toEqual([text, text]);
  });
});
