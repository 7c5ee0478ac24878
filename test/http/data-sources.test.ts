import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { describeRun, makeScratch, runLoadmesh, type Scratch } from '../support/cli-process.ts';
import { startHttpServer, type TestHttpServer } from '../support/http-server.ts';
import { startNginx, waitForLogFile, type NginxServer } from '../support/nginx.ts';
import { makeSelfSignedCert } from '../support/tls.ts';
import {
  BODY_LOG,
  BODY_LOG_FORMAT,
  bodyRoute,
  countBy,
  parseBodyLine,
} from '../support/nginx-logs.ts';

const execFileAsync = promisify(execFile);

/** Files of the test archive, in the name order that loadmesh sends them. */
const ARCHIVE_FILES: [string, string][] = [
  ['a.json', '{"doc": "a"}'],
  ['b.txt', 'line one\nline two\n'],
  ['nested/c.json', '{"doc": "c"}'],
];

const DOWNLOAD_BODY = '{"from": "url", "n": 1}\n{"from": "url", "n": 2}\n';

let nginx: NginxServer;
let files: TestHttpServer;
let scratch: Scratch;

beforeAll(async () => {
  nginx = await startNginx({ http: BODY_LOG_FORMAT, locations: bodyRoute('/ingest') });
  // Serves the data for data.path URLs, at its path and through a redirect.
  files = await startHttpServer((request, _body, response) => {
    if (request.url === '/data/bodies.jsonl') {
      response.setHeader('content-type', 'application/x-ndjson');
      response.end(DOWNLOAD_BODY);
    } else if (request.url === '/moved/bodies.jsonl') {
      response.statusCode = 302;
      response.setHeader('location', '/data/bodies.jsonl');
      response.end();
    } else {
      response.statusCode = 404;
      response.end('not found\n');
    }
  });
});

afterAll(async () => {
  await nginx?.stop();
  await files?.stop();
});

beforeEach(async () => {
  scratch = await makeScratch();
});

afterEach(async () => {
  await scratch?.remove();
});

/** Packs ARCHIVE_FILES, plus a folder entry, into bodies.zip with the zip command. */
async function makeArchive(): Promise<string> {
  const source = scratch.path('archive');
  await mkdir(join(source, 'nested'), { recursive: true });
  for (const [name, content] of ARCHIVE_FILES) await writeFile(join(source, name), content);

  const archive = scratch.path('bodies.zip');
  await execFileAsync('zip', ['-q', '-r', archive, 'a.json', 'b.txt', 'nested'], {
    cwd: source,
    timeout: 10_000,
  });
  return archive;
}

/**
 * Runs `requests` requests with one user, so that entries go out in order, and returns the
 * bodies nginx received: the preflight request's first, then the load's.
 */
async function sentBodies(dataPath: string, requests: number, ...flags: string[]) {
  return sentBodiesWith({}, dataPath, requests, ...flags);
}

/** Runs as sentBodies does, with `env` added to the process's environment. */
async function sentBodiesWith(
  env: NodeJS.ProcessEnv,
  dataPath: string,
  requests: number,
  ...flags: string[]
) {
  const before = (await waitForLogFile(nginx, BODY_LOG, 0)).length;

  const result = await runLoadmesh(
    [
      '--url',
      `${nginx.url}/ingest`,
      '--data-path',
      dataPath,
      '--requests',
      String(requests),
      '--concurrency',
      '1',
      '--out',
      scratch.path('out'),
      '--quiet',
      ...flags,
    ],
    { env },
  );

  expect(result.code, describeRun(result)).toBe(0);
  const lines = (await waitForLogFile(nginx, BODY_LOG, before + requests + 1)).slice(before);
  const bodies = lines.map((line) => parseBodyLine(line).body);
  return { preflight: bodies[0], load: bodies.slice(1) };
}

describe('zip archives in data.path', () => {
  it('sends each file as one entry', async () => {
    const archive = await makeArchive();

    const { preflight, load } = await sentBodies(archive, 6);

    expect(preflight).toBe(ARCHIVE_FILES[0]![1]);
    expect(load).toEqual([...ARCHIVE_FILES, ...ARCHIVE_FILES].map(([, content]) => content));
  });

  it('splits each file by line with multiLine', async () => {
    const archive = await makeArchive();

    const { load } = await sentBodies(archive, 8, '--multi-line');

    const lines = ['{"doc": "a"}', 'line one', 'line two', '{"doc": "c"}'];
    expect(load).toEqual([...lines, ...lines]);
  });
});

describe('other data.path sources', () => {
  it('reads comma-separated files', async () => {
    const first = await scratch.write('first.txt', 'first body');
    const second = await scratch.write('second.txt', 'second body');

    const { load } = await sentBodies(`${first}, ${second}`, 4);

    expect(countBy(load, (body) => body)).toEqual({ 'first body': 2, 'second body': 2 });
  });

  it('downloads an http URL', async () => {
    const { load } = await sentBodies(`${files.url}/data/bodies.jsonl`, 4, '--multi-line');

    expect(countBy(load, (body) => body)).toEqual({
      '{"from": "url", "n": 1}': 2,
      '{"from": "url", "n": 2}': 2,
    });
  });

  it('downloads an https URL', async () => {
    // The data server's certificate is self-signed: Node trusts it through NODE_EXTRA_CA_CERTS,
    // as it would trust a company CA.
    const cert = await makeSelfSignedCert(scratch.dir);
    const secure = await startNginx({
      tls: cert,
      locations: `location = /bodies.jsonl { return 200 '{"from": "https"}\\n'; }`,
    });
    try {
      const env = { NODE_EXTRA_CA_CERTS: cert.certFile };
      const { load } = await sentBodiesWith(env, `${secure.url}/bodies.jsonl`, 2);

      // Without multiLine the whole download is one body, its line break included.
      expect(load).toEqual(['{"from": "https"}\n', '{"from": "https"}\n']);
    } finally {
      await secure.stop();
    }
  });

  it('follows a redirect of a URL', async () => {
    const { load } = await sentBodies(`${files.url}/moved/bodies.jsonl`, 2, '--multi-line');

    expect(load).toEqual(['{"from": "url", "n": 1}', '{"from": "url", "n": 2}']);
  });
});
