import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { describeRun, makeScratch, runLoadmesh, type Scratch } from '../support/cli-process.ts';
import { startHttpServer, type TestHttpServer } from '../support/http-server.ts';
import { freePort } from '../support/ports.ts';

/** Paths and addresses that the cases build their arguments from. */
interface Context {
  scratch: Scratch;
  /** A loopback address where nothing listens. */
  closedUrl: string;
  /** A server that responds with 404 to every request. */
  notFoundUrl: string;
}

interface ErrorCase {
  name: string;
  /** Files to write into the scratch folder before the run. */
  files?: Record<string, string | Buffer>;
  /** A task file written as task.json and passed first. */
  task?: (ctx: Context) => unknown;
  args?: (ctx: Context) => string[];
  /** Fragments that stderr must contain: the problem with its value, then the fix. */
  expected: (ctx: Context) => string[];
}

const url = (ctx: Context): string => `${ctx.closedUrl}/predict`;

const CASES: ErrorCase[] = [
  {
    name: 'missing task file',
    args: (ctx) => [ctx.scratch.path('missing.json')],
    expected: (ctx) => [
      `cannot read task file ${ctx.scratch.path('missing.json')}: file not found`,
      'Fix: check the path',
    ],
  },
  {
    name: 'task file that is not JSON',
    // A trailing comma, as hand-edited JSON often has.
    files: { 'broken.json': '{"service": {"url": "http://127.0.0.1:1/"},}' },
    args: (ctx) => [ctx.scratch.path('broken.json')],
    expected: (ctx) => [
      `task file ${ctx.scratch.path('broken.json')} is not valid JSON`,
      'Fix: check quotes, commas and braces',
    ],
  },
  {
    name: 'missing service.url',
    task: () => ({ optional: { concurrency: 2 } }),
    expected: () => ['service.url: is missing', 'Fix: set service.url (or --url)'],
  },
  {
    name: 'ftp URL',
    args: () => ['--url', 'ftp://127.0.0.1/data'],
    expected: () => [
      'service.url: "ftp://127.0.0.1/data" has scheme ftp: but only http: and https: are supported',
      'Fix: set service.url (or --url) to the full http(s) address',
    ],
  },
  {
    name: 'unknown top-level key',
    // A load key written outside its section, and misspelled too.
    task: (ctx) => ({ service: { url: url(ctx) }, concurency: 8 }),
    expected: () => ['concurency: is not a known key', 'Fix: did you mean optional.concurrency?'],
  },
  {
    name: 'unknown key in a section',
    task: (ctx) => ({ service: { url: url(ctx) }, optional: { concurency: 8 } }),
    expected: () => [
      'optional.concurency: is not a known key',
      'Fix: did you mean optional.concurrency?',
    ],
  },
  {
    name: 'negative concurrency',
    task: (ctx) => ({ service: { url: url(ctx) }, optional: { concurrency: -3 } }),
    expected: () => [
      'optional.concurrency: -3 is too small: it must be at least 1',
      'Fix: give the number of requests in flight per agent',
    ],
  },
  {
    name: 'non-integer agentCount',
    args: (ctx) => ['--url', url(ctx), '--agents', '1.5'],
    expected: () => [
      'optional.agentCount: 1.5 is not a whole number',
      'Fix: give a number of agents such as 1',
    ],
  },
  {
    name: 'seed above 2^32-1',
    args: (ctx) => ['--url', url(ctx), '--rate', '10', '--seed', '4294967296'],
    expected: () => [
      'optional.seed: 4294967296 is too large: it must be at most 4294967295',
      'Fix: use an integer from 0 to 4294967295',
    ],
  },
  {
    name: 'burstiness 0',
    args: (ctx) => ['--url', url(ctx), '--rate', '10', '--burstiness', '0'],
    expected: () => [
      'optional.burstiness: 0 is too small: it must be greater than 0',
      'Fix: use 1 for Poisson arrivals',
    ],
  },
  {
    name: 'rate mode without qps',
    task: (ctx) => ({ service: { url: url(ctx) }, optional: { mode: 'rate' } }),
    expected: () => [
      'optional.qps: is missing but mode is rate',
      'Fix: set optional.qps (or --rate)',
    ],
  },
  {
    name: 'rate above what the agents can be dealt',
    args: (ctx) => ['--url', url(ctx), '--rate', '1e9', '--agents', '2'],
    expected: () => [
      'optional.qps: 1000000000 req/s is above the 100000 req/s that one agent can be dealt, times 2 agent(s)',
      'Fix: lower the rate, or spread it over more agents with optional.agentCount (--agents)',
    ],
  },
  {
    name: 'qps outside rate mode',
    task: (ctx) => ({ service: { url: url(ctx) }, optional: { mode: 'manual', qps: 50 } }),
    expected: () => [
      'optional.qps: 50 is only used in rate mode but mode is manual',
      'Fix: set optional.mode to "rate" or remove optional.qps',
    ],
  },
  {
    name: 'invalid base64 content',
    args: (ctx) => ['--url', url(ctx), '--data-base64', 'not*base64'],
    expected: () => [
      'data.content: "not*base64" is not valid base64',
      `Fix: encode the body with: echo -n '{"key": "value"}' | base64`,
    ],
  },
  {
    name: 'content that decodes to nothing',
    task: (ctx) => ({ service: { url: url(ctx) }, data: { content: '' } }),
    expected: () => ['data.content decodes to an empty body', 'Fix: encode a non-empty body'],
  },
  {
    name: 'missing data.path file',
    // Relative data paths start from the task file's folder.
    task: (ctx) => ({ service: { url: url(ctx) }, data: { path: 'missing.txt' } }),
    expected: (ctx) => [
      `data.path: file missing.txt not found (looked at ${ctx.scratch.path('missing.txt')})`,
      "relative paths start from the task file's folder, or from the current folder",
    ],
  },
  {
    name: 'unreachable data.path URL',
    args: (ctx) => ['--url', url(ctx), '--data-path', `${ctx.closedUrl}/bodies.txt`],
    expected: (ctx) => [
      `data.path: download of ${ctx.closedUrl}/bodies.txt failed: connect ECONNREFUSED`,
      'Fix: check that the URL is reachable from this machine',
    ],
  },
  {
    name: 'data.path URL that returns 404',
    args: (ctx) => ['--url', url(ctx), '--data-path', `${ctx.notFoundUrl}/bodies.txt`],
    expected: (ctx) => [
      `data.path: download of ${ctx.notFoundUrl}/bodies.txt failed with HTTP status 404`,
      'Fix: check the URL',
    ],
  },
  {
    name: 'data.path with an unsupported scheme',
    args: (ctx) => ['--url', url(ctx), '--data-path', 's3://bucket/bodies.txt'],
    expected: () => [
      'data.path: s3://bucket/bodies.txt uses a scheme that loadmesh cannot read',
      'a presigned https URL works',
    ],
  },
  {
    name: 'corrupt zip',
    files: { 'bodies.zip': 'this was never a zip archive\n' },
    args: (ctx) => ['--url', url(ctx), '--data-path', ctx.scratch.path('bodies.zip')],
    expected: (ctx) => [
      `data.path: ${ctx.scratch.path('bodies.zip')} is not a readable zip archive`,
      'Fix: recreate it with zip',
    ],
  },
  {
    name: 'empty data file',
    files: { 'empty.txt': '' },
    args: (ctx) => ['--url', url(ctx), '--data-path', ctx.scratch.path('empty.txt')],
    expected: (ctx) => [
      `data.path: ${ctx.scratch.path('empty.txt')} is empty`,
      'Fix: put at least one request body in it',
    ],
  },
  {
    name: 'both data.content and data.path',
    task: (ctx) => ({
      service: { url: url(ctx) },
      data: { content: 'e30=', path: 'bodies.txt' },
    }),
    expected: () => [
      'data: has both content and path',
      'Fix: keep data.content for one body or data.path for files, not both',
    ],
  },
  {
    name: 'multiLine without data.path',
    args: (ctx) => ['--url', url(ctx), '--multi-line'],
    expected: () => ['data.multiLine: needs data.path'],
  },
  {
    // Only the first word is echoed, because the rest of such an entry is often a credential.
    name: 'header list entry without a colon',
    task: (ctx) => ({
      service: { url: url(ctx) },
      http: { headers: ['Authorization Bearer s3cret'] },
    }),
    expected: () => [
      'http.headers[0]: "Authorization"... is not a "Name: value" string',
      'a list of "Name: value" strings',
    ],
  },
  {
    name: '--header without a colon',
    args: (ctx) => ['--url', url(ctx), '--header', 'X-Trace 42'],
    expected: () => ['--header "X-Trace 42" is not "Name: value"', 'Fix: write e.g. --header "'],
  },
  {
    name: '--duration abc',
    args: (ctx) => ['--url', url(ctx), '--duration', 'abc'],
    expected: () => [
      '--duration "abc" is not a duration',
      'Fix: give seconds or a unit, e.g. --duration 30s or 5m',
    ],
  },
  {
    name: 'negative --rate',
    args: (ctx) => ['--url', url(ctx), '--rate', '-5'],
    expected: () => ['--rate -5 is negative', 'Fix: give a positive number'],
  },
  {
    name: '--rate with another --mode',
    args: (ctx) => ['--url', url(ctx), '--mode', 'manual', '--rate', '5'],
    expected: () => [
      '--mode manual conflicts with --rate 5, which sets rate mode',
      'Fix: drop --mode, or drop --rate',
    ],
  },
  {
    // One problem: the rate is given, so it must not also be reported missing.
    name: '--rate 0',
    args: (ctx) => ['--url', url(ctx), '--rate', '0'],
    expected: () => ['invalid task config (1 problem)', 'optional.qps: 0 is too small'],
  },
  {
    // Checked before the load, so that a run never measures what it then cannot write.
    name: '--out that is a file',
    files: { 'taken.txt': 'not a folder' },
    args: (ctx) => ['--url', url(ctx), '--out', ctx.scratch.path('taken.txt')],
    expected: (ctx) => [
      `cannot use ${ctx.scratch.path('taken.txt')} as the results folder`,
      'Fix: pass --out with a folder that you can write to',
    ],
  },
];

const ctx = {} as Context;
let notFound: TestHttpServer;

beforeAll(async () => {
  ctx.scratch = await makeScratch();
  ctx.closedUrl = `http://127.0.0.1:${await freePort()}`;
  notFound = await startHttpServer((_request, _body, response) => {
    response.statusCode = 404;
    response.end('not found\n');
  });
  ctx.notFoundUrl = notFound.url;
});

afterAll(async () => {
  await notFound?.stop();
  await ctx.scratch?.remove();
});

describe('runs that cannot start', () => {
  it.concurrent.each(CASES)('rejects $name', async (row) => {
    for (const [name, content] of Object.entries(row.files ?? {}))
      await ctx.scratch.write(name, content);
    const taskArgs = row.task
      ? [await ctx.scratch.writeJson(`task-${CASES.indexOf(row)}.json`, row.task(ctx))]
      : [];
    const args = [...taskArgs, ...(row.args?.(ctx) ?? []), '--quiet', '--requests', '1'];

    const result = await runLoadmesh(args, { cwd: ctx.scratch.dir });

    expect(result.code, describeRun(result)).toBe(2);
    expect(result.stderr).toMatch(/^error: /);
    expect(result.stderr).not.toContain('internal error');
    expect(result.stdout).toBe('');
    for (const fragment of row.expected(ctx)) expect(result.stderr).toContain(fragment);
    expect(result.stderr).not.toContain('s3cret');
  });

  it('reports every config problem at once', async () => {
    const task = await ctx.scratch.writeJson('several.json', {
      service: { serviceName: 'demo' },
      optional: { concurrency: -1, agentCount: 1.5, seed: 2 ** 32 },
      http: { timeout: 'soon' },
      concurency: 3,
    });

    const result = await runLoadmesh([task, '--quiet']);

    expect(result.code, describeRun(result)).toBe(2);
    expect(result.stderr).toContain('invalid task config (6 problems)');
    expect(result.stderr).toContain('  concurency: is not a known key');
    expect(result.stderr).toContain('  service.url: is missing');
    expect(result.stderr).toContain('  http.timeout: "soon" is not a number');
    expect(result.stderr).toContain('  optional.concurrency: -1 is too small');
    expect(result.stderr).toContain('  optional.agentCount: 1.5 is not a whole number');
    expect(result.stderr).toContain('  optional.seed: 4294967296 is too large');
  });

  it('reports conflicts with other problems', async () => {
    // Two conflicts (content with path, rate mode without qps) and one bad value. A user who
    // fixes the value should not meet the conflicts only on the next run.
    const task = await ctx.scratch.writeJson('conflicts.json', {
      service: { url: url(ctx) },
      data: { content: 'e30=', path: 'bodies.txt' },
      optional: { mode: 'rate', burstiness: 0 },
    });

    const result = await runLoadmesh([task, '--quiet']);

    expect(result.code, describeRun(result)).toBe(2);
    expect(result.stderr).toContain('invalid task config (3 problems)');
    expect(result.stderr).toContain('  optional.burstiness: 0 is too small');
    expect(result.stderr).toContain('  data: has both content and path');
    expect(result.stderr).toContain('  optional.qps: is missing but mode is rate');
  });
});
