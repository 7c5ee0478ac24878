import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { describeRun, makeScratch, runLoadmesh, type Scratch } from '../support/cli-process.ts';
import { startNginx, waitForAccessLog, type NginxServer } from '../support/nginx.ts';
import { parseAccessLine } from '../support/nginx-logs.ts';

/**
 * /predict exists only without the trailing slash, /strict rejects every body with 400, /get
 * takes only GET, and /busy responds 503.
 */
const LOCATIONS = `
    location = /predict/ { return 404; }
    location = /predict { return 200 "ok\\n"; }
    location = /strict { return 400 "bad request\\n"; }
    location = /get { limit_except GET { deny all; } return 200 "ok\\n"; }
    location = /busy { return 503 "busy\\n"; }`;

let nginx: NginxServer;
let scratch: Scratch;

beforeAll(async () => {
  nginx = await startNginx({ locations: LOCATIONS });
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

/** Runs a short load that the preflight should stop before it starts. */
function run(...args: string[]) {
  return runLoadmesh([...args, '--requests', '50', '--out', scratch.path('out'), '--quiet']);
}

/** Returns the access log lines written since `before`, once nginx has flushed them. */
async function linesSince(before: number, expected: number) {
  return (await waitForAccessLog(nginx, before + expected)).slice(before).map(parseAccessLine);
}

describe('preflight', () => {
  it('explains a 404 on a trailing slash', async () => {
    const before = (await nginx.accessLog()).length;

    const result = await run('--url', `${nginx.url}/predict/`);

    expect(result.code, describeRun(result)).toBe(2);
    expect(result.stderr).toContain(`error: ${nginx.url}/predict/ responded 404 Not Found`);
    expect(result.stderr).toContain('without the trailing slash');
    expect(result.stderr).toContain(`try ${nginx.url}/predict.`);
    expect(result.stderr).toContain('--no-preflight');
    expect(result.stdout).toBe('');

    // Only the preflight request reached nginx: the load never started.
    const lines = await linesSince(before, 1);
    expect(lines.map((l) => `${l.status} ${l.uri}`)).toEqual(['404 /predict/']);
  });

  it('keeps the query when it suggests the URL', async () => {
    const result = await run('--url', `${nginx.url}/predict/?version=2`);

    expect(result.code, describeRun(result)).toBe(2);
    expect(result.stderr).toContain(`try ${nginx.url}/predict?version=2.`);
  });

  it('explains a 400 on JSON that lost its quotes', async () => {
    // What `echo -n {"file_names": ["xxx.pdf"]} | base64` encodes: the shell ate the quotes.
    const eaten = '{file_names: [xxx.pdf]}';
    const before = (await nginx.accessLog()).length;

    const result = await run(
      '--url',
      `${nginx.url}/strict`,
      '--data-base64',
      Buffer.from(eaten).toString('base64'),
    );

    expect(result.code, describeRun(result)).toBe(2);
    expect(result.stderr).toContain(`error: ${nginx.url}/strict responded 400 Bad Request`);
    expect(result.stderr).toContain('the request body is not valid JSON');
    expect(result.stderr).toContain(eaten);
    expect(result.stderr).toContain('quote the JSON in single quotes');
    expect(result.stderr).toContain(`echo -n '{"key": "value"}' | base64`);
    expect(result.stdout).toBe('');
    expect(await linesSince(before, 1)).toHaveLength(1);
  });

  it('stops on a 400 to valid JSON', async () => {
    // The body is valid JSON, so the 400 is the service's own response, which every request would get.
    const body = JSON.stringify({ file_names: ['xxx.pdf'] });
    const task = await scratch.writeJson('task.json', {
      service: { url: `${nginx.url}/strict` },
      data: { content: Buffer.from(body).toString('base64') },
    });

    const result = await run(task);

    expect(result.code, describeRun(result)).toBe(2);
    expect(result.stderr).toContain(`error: ${nginx.url}/strict responded 400: bad request.`);
    expect(result.stderr).toContain('--no-preflight');
    expect(result.stderr).not.toContain('not valid JSON');
    expect(result.stdout).toBe('');
  });

  it('suggests credentials on a 403', async () => {
    const result = await run('--url', `${nginx.url}/get`, '--data-base64', 'e30=');

    expect(result.code, describeRun(result)).toBe(2);
    expect(result.stderr).toContain(`error: ${nginx.url}/get responded 403`);
    expect(result.stderr).toContain('--header');
  });

  it('only warns on a 503', async () => {
    // A server error may pass as the load goes on, so the load runs and counts it; none
    // succeeded here, hence exit 1.
    const result = await run('--url', `${nginx.url}/busy`);

    expect(result.stderr).toContain(`warning: preflight: ${nginx.url}/busy responded 503: busy`);
    expect(result.code, describeRun(result)).toBe(1);
    expect(result.stdout).toContain('503: 50');
  });
});
