import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kvm } from '@nats-io/kv';
import { createUser } from '@nats-io/nkeys';
import { connect } from '@nats-io/transport-node';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, runTask } from '../support/loadmesh-cli.ts';
import { makeOperatorSetup, startNats, type NatsServer } from '../support/nats.ts';
import { startNginx, stopChild, type NginxServer } from '../support/nginx.ts';
import { startCli, type CliProcess } from '../support/processes.ts';
import { makeSelfSignedCert } from '../support/tls.ts';

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Starts nats-server with `serverArgs`, nginx, and one coordinator and agent with `clientArgs`. */
async function cluster(
  serverArgs: string[],
  clientArgs: string[],
): Promise<{ nats: NatsServer; nginx: NginxServer }> {
  const nats = await startNats('127.0.0.1', serverArgs);
  cleanups.push(() => nats.stop());
  const nginx = await startNginx({ locations: 'location / { return 200 "ok\\n"; }' });
  cleanups.push(() => nginx.stop());

  const processes: CliProcess[] = [
    startCli(['coordinator', '--nats', nats.url, ...clientArgs]),
    startCli(['agent', '--nats', nats.url, '--id', 'auth-agent', ...clientArgs]),
  ];
  cleanups.push(async () => {
    for (const process of processes) await stopChild(process.child, 'SIGTERM');
  });
  await processes[0]!.waitFor('coordinator running');
  await processes[1]!.waitFor('agent running');
  return { nats, nginx };
}

/** Runs 20 requests against nginx through the cluster, with `clientArgs` for NATS. */
function runThrough(nats: NatsServer, nginx: NginxServer, clientArgs: string[]) {
  const target = ['--url', `${nginx.url}/`, '--requests', '20', '--no-preflight'];
  return runTask(['--nats', nats.url, ...clientArgs, ...target]);
}

/** Makes a temporary folder that the test's cleanup removes. */
async function scratchDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('NATS authentication', () => {
  it('passes user and password through', async () => {
    const credentials = ['--nats-user', 'loadmesh', '--nats-pass', 's3cret'];
    const { nats, nginx } = await cluster(['--user', 'loadmesh', '--pass', 's3cret'], credentials);

    const { summary } = await runThrough(nats, nginx, credentials);
    expect(summary.totals.ok).toBe(20);
  }, 60_000);

  it('passes a token through', async () => {
    const token = ['--nats-token', 't0ken'];
    const { nats, nginx } = await cluster(['--auth', 't0ken'], token);

    const { summary } = await runThrough(nats, nginx, token);
    expect(summary.totals.ok).toBe(20);
  }, 60_000);

  it('passes an nkey seed file through', async () => {
    const user = createUser();
    const dir = await scratchDir('loadmesh-nkey-');
    const seedFile = join(dir, 'user.nk');
    await writeFile(seedFile, new TextDecoder().decode(user.getSeed()));
    const configFile = join(dir, 'nats.conf');
    await writeFile(configFile, `authorization { users = [ { nkey: ${user.getPublicKey()} } ] }\n`);

    const nkey = ['--nats-nkey', seedFile];
    const { nats, nginx } = await cluster(['-c', configFile], nkey);

    const { summary } = await runThrough(nats, nginx, nkey);
    expect(summary.totals.ok).toBe(20);
  }, 60_000);

  it('passes a creds file through', async () => {
    const dir = await scratchDir('loadmesh-creds-');
    const { configFile, credsFile } = await makeOperatorSetup(dir);

    const creds = ['--nats-creds', credsFile];
    const { nats, nginx } = await cluster(['-c', configFile], creds);

    const { summary } = await runThrough(nats, nginx, creds);
    expect(summary.totals.ok).toBe(20);

    // Without the creds file, the server rejects the connection.
    const rejected = await runCli(['ls', '--nats', nats.url], { timeoutMs: 30_000 });
    expect(rejected.code).toBe(2);
    expect(rejected.stderr).toMatch(/authoriz/i);
  }, 60_000);

  it('connects over TLS with a CA file', async () => {
    const dir = await scratchDir('loadmesh-nats-tls-');
    const cert = await makeSelfSignedCert(dir);

    const ca = ['--nats-ca', cert.certFile];
    const { nats, nginx } = await cluster(
      ['--tls', '--tlscert', cert.certFile, '--tlskey', cert.keyFile],
      ca,
    );

    const { summary } = await runThrough(nats, nginx, ca);
    expect(summary.totals.ok).toBe(20);

    // Without the CA file, the server's self-signed certificate is rejected.
    const rejected = await runCli(
      ['run', '--nats', nats.url, '--url', `${nginx.url}/`, '--requests', '5', '--quiet'],
      { timeoutMs: 30_000 },
    );
    expect(rejected.code).toBe(2);
    expect(rejected.stderr).toMatch(/certificate/i);
  }, 60_000);

  it('presents a client certificate', async () => {
    const dir = await scratchDir('loadmesh-nats-mtls-');
    const server = await makeSelfSignedCert(dir, { filePrefix: 'server-' });
    const client = await makeSelfSignedCert(dir, { filePrefix: 'client-', commonName: 'agent' });
    const serverTls = ['--tls', '--tlscert', server.certFile, '--tlskey', server.keyFile];
    const verify = ['--tlsverify', '--tlscacert', client.certFile];

    const ca = ['--nats-ca', server.certFile];
    const mutual = [...ca, '--nats-cert', client.certFile, '--nats-key', client.keyFile];
    const { nats, nginx } = await cluster([...serverTls, ...verify], mutual);

    const { summary } = await runThrough(nats, nginx, mutual);
    expect(summary.totals.ok).toBe(20);

    // Without the client certificate, the server ends the handshake.
    const rejected = await runCli(['ls', '--nats', nats.url, ...ca], { timeoutMs: 30_000 });
    expect(rejected.code).toBe(2);
    expect(rejected.stderr).toContain('cannot connect to NATS');
  }, 60_000);

  it('rejects a certificate for another host', async () => {
    const dir = await scratchDir('loadmesh-nats-tls-');
    const other = await makeSelfSignedCert(dir, {
      commonName: 'nats.example',
      altName: 'DNS:nats.example',
    });
    const nats = await startNats('127.0.0.1', [
      '--tls',
      '--tlscert',
      other.certFile,
      '--tlskey',
      other.keyFile,
    ]);
    cleanups.push(() => nats.stop());

    const result = await runCli(
      [
        'run',
        '--nats',
        nats.url,
        '--nats-ca',
        other.certFile,
        '--url',
        'http://127.0.0.1:1/',
        '--quiet',
      ],
      { timeoutMs: 30_000 },
    );

    expect(result.code).toBe(2);
    expect(result.stderr).toContain("IP: 127.0.0.1 is not in the cert's list");
  }, 60_000);

  it('reports a wrong password', async () => {
    const { nats, nginx } = await cluster(
      ['--user', 'loadmesh', '--pass', 's3cret'],
      ['--nats-user', 'loadmesh', '--nats-pass', 's3cret'],
    );

    const result = await runCli(
      [
        'run',
        '--nats',
        nats.url,
        '--nats-user',
        'loadmesh',
        '--nats-pass',
        'wrong',
        '--url',
        `${nginx.url}/`,
        '--requests',
        '5',
        '--quiet',
      ],
      { timeoutMs: 30_000 },
    );
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/authoriz/i);
  }, 60_000);
});

describe('subject prefix', () => {
  it('keeps a cluster to its prefix', async () => {
    const prefix = ['--prefix', 'team-a'];
    const { nats, nginx } = await cluster([], prefix);

    const { summary } = await runThrough(nats, nginx, prefix);
    expect(summary.totals.ok).toBe(20);

    // The task record is in the prefix's own bucket.
    const connection = await connect({ servers: nats.url });
    try {
      const kv = await new Kvm(connection).open('team-a-tasks');
      const entry = await kv.get(summary.taskId);
      const record = JSON.parse(new TextDecoder().decode(entry!.value)) as { status: string };
      expect(record.status).toBe('Stopped');
    } finally {
      await connection.close();
    }

    // A client on the default prefix reaches no coordinator.
    const other = await runCli(['ls', '--nats', nats.url], { timeoutMs: 30_000 });
    expect(other.code).toBe(2);
    expect(other.stderr).toContain('lm.ctl.list');
  }, 60_000);
});
