import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  describeRun,
  makeScratch,
  readSummary,
  runLoadmesh,
  type Scratch,
} from '../support/cli-process.ts';
import { startNginx, type NginxServer } from '../support/nginx.ts';
import { makeSelfSignedCert, type SelfSignedCert } from '../support/tls.ts';

let nginx: NginxServer;
let scratch: Scratch;
let cert: SelfSignedCert;

beforeAll(async () => {
  scratch = await makeScratch();
  cert = await makeSelfSignedCert(scratch.dir);
  nginx = await startNginx({
    tls: cert,
    locations: 'location = /secure { return 200 "ok\\n"; }',
  });
});

afterAll(async () => {
  await nginx?.stop();
  await scratch?.remove();
});

/** Runs 40 requests against the HTTPS route with the given extra flags. */
function runSecure(out: string, ...flags: string[]) {
  return runLoadmesh([
    '--url',
    `${nginx.url}/secure`,
    '--requests',
    '40',
    '--concurrency',
    '4',
    '--out',
    scratch.path(out),
    '--quiet',
    ...flags,
  ]);
}

describe('HTTPS with a self-signed certificate', () => {
  it('rejects the certificate by default', async () => {
    expect(nginx.url).toMatch(/^https:/);

    const result = await runSecure('default');

    expect(result.code, describeRun(result)).toBe(2);
    expect(result.stderr).toContain(`error: the certificate of ${nginx.url}/secure was rejected`);
    expect(result.stderr).toContain('self-signed certificate');
    expect(result.stderr).toContain('--ca-file FILE');
    expect(result.stderr).toContain('--insecure');
    expect(result.stdout).toBe('');
  });

  it('counts TLS failures without the preflight', async () => {
    const result = await runSecure('unchecked', '--no-preflight');

    // Every request failed, so the run exits 1, with its results written all the same.
    expect(result.code, describeRun(result)).toBe(1);
    expect(result.stderr).toContain('error: none of the 40 requests succeeded');
    const { totals } = await readSummary(scratch.path('unchecked'));
    expect(totals.completed).toBe(40);
    expect(totals.ok).toBe(0);
    expect(totals.errors).toEqual({ tls: 40 });
    expect(totals.statusCodes).toEqual({});
  });

  it('trusts the certificate given with --ca-file', async () => {
    const result = await runSecure('ca', '--ca-file', cert.certFile);

    expect(result.code, describeRun(result)).toBe(0);
    const { totals } = await readSummary(scratch.path('ca'));
    expect(totals.completed).toBe(40);
    expect(totals.ok).toBe(40);
    expect(totals.statusCodes).toEqual({ 200: 40 });
    expect(totals.errors).toEqual({});
    // TLS records are counted: more bytes than the plain request and response lines.
    expect(totals.bytesSent).toBeGreaterThan(40 * 60);
  });

  it('accepts any certificate with --insecure', async () => {
    const result = await runSecure('insecure', '--insecure');

    expect(result.code, describeRun(result)).toBe(0);
    const { totals } = await readSummary(scratch.path('insecure'));
    expect(totals.ok).toBe(40);
    expect(totals.errors).toEqual({});
  });

  it('rejects a missing --ca-file', async () => {
    const missing = scratch.path('no-such-ca.pem');

    const result = await runSecure('missing-ca', '--ca-file', missing);

    expect(result.code, describeRun(result)).toBe(2);
    expect(result.stderr).toContain(`error: http.caFile: cannot read ${missing}`);
    expect(result.stderr).toContain('Fix: give the path of a PEM file');
  });

  it('explains https to a plain HTTP port', async () => {
    const plain = await startNginx({ locations: 'location = / { return 200; }' });
    const httpsUrl = `${plain.url.replace(/^http:/, 'https:')}/`;

    try {
      const result = await runLoadmesh(['--url', httpsUrl, '--requests', '1', '--quiet']);

      expect(result.code, describeRun(result)).toBe(2);
      expect(result.stderr).toContain(`error: ${httpsUrl} did not complete the TLS handshake`);
      expect(result.stderr).toContain(`Fix: use ${plain.url}/ if it does`);
      expect(result.stderr).not.toContain('--ca-file');
    } finally {
      await plain.stop();
    }
  });

  it('explains a certificate for another host', async () => {
    // The CA file is right, but the certificate names localhost and the URL names 127.0.0.1:
    // passing --ca-file again cannot help, so the fix must point at the host name.
    const other = await makeSelfSignedCert(scratch.dir, {
      commonName: 'localhost',
      altName: 'DNS:localhost',
      filePrefix: 'localhost-',
    });
    const server = await startNginx({ tls: other, locations: 'location = / { return 200; }' });

    try {
      const result = await runLoadmesh([
        '--url',
        `${server.url}/`,
        '--ca-file',
        other.certFile,
        '--requests',
        '1',
        '--quiet',
      ]);

      expect(result.code, describeRun(result)).toBe(2);
      expect(result.stderr).toContain("IP: 127.0.0.1 is not in the cert's list");
      expect(result.stderr).not.toContain('pass --ca-file');
    } finally {
      await server.stop();
    }
  });
});
