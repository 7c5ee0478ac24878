import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeAccount, encodeOperator, encodeUser, fmtCreds } from '@nats-io/jwt';
import { createAccount, createOperator, createUser } from '@nats-io/nkeys';
import { stopChild } from './nginx.ts';
import { canConnect, freePort } from './ports.ts';

export const NATS_BIN = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';

export interface NatsServer {
  port: number;
  url: string;
  /** Stops the server and starts it again on the same port and store, as an outage would. */
  restart(downMs: number): Promise<void>;
  stop(): Promise<void>;
}

/** Starts Debian's nats-server with JetStream on a free port of `host` and a temporary store. */
/** `extraArgs` go to nats-server as they are, e.g. ['--user', 'u', '--pass', 'p']. */
export async function startNats(host = '127.0.0.1', extraArgs: string[] = []): Promise<NatsServer> {
  const dir = await mkdtemp(join(tmpdir(), 'loadmesh-nats-'));
  const port = await freePort(host);
  let child = await launch(host, port, dir, extraArgs);

  return {
    port,
    url: `nats://${host}:${port}`,
    restart: async (downMs) => {
      await stopChild(child, 'SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, downMs));
      child = await launch(host, port, dir, extraArgs);
    },
    stop: async () => {
      await stopChild(child, 'SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function launch(
  host: string,
  port: number,
  dir: string,
  extraArgs: string[],
): Promise<ChildProcess> {
  const child = spawn(NATS_BIN, ['-a', host, '-p', String(port), '-js', '-sd', dir, ...extraArgs], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));

  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`nats-server exited with code ${child.exitCode}: ${stderr}`);
    if (await canConnect(host, port)) return child;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`nats-server did not listen on port ${port} within 10 s`);
}

export interface OperatorSetup {
  /** nats-server config that trusts the operator and preloads its accounts. */
  configFile: string;
  /** A user's .creds file: its JWT, signed by the account, and its nkey seed. */
  credsFile: string;
}

/**
 * Writes a decentralized-auth setup to `dir`, as `nsc` would: an operator, a system account,
 * an account with JetStream enabled and no other limits, and one user of that account.
 */
export async function makeOperatorSetup(dir: string): Promise<OperatorSetup> {
  const operator = createOperator();
  const system = createAccount();
  const account = createAccount();
  const user = createUser();

  const unlimited = { subs: -1, data: -1, payload: -1, conn: -1, leaf: -1, imports: -1 };
  const jetstream = { mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 };
  const operatorJwt = await encodeOperator('loadmesh-test', operator, {
    system_account: system.getPublicKey(),
  });
  const systemJwt = await encodeAccount('SYS', system, {}, { signer: operator });
  const accountJwt = await encodeAccount(
    'loadmesh',
    account,
    { limits: { ...unlimited, exports: -1, wildcards: true, ...jetstream } },
    { signer: operator },
  );
  const userJwt = await encodeUser('loadmesh-user', user, account);

  const configFile = join(dir, 'operator.conf');
  const credsFile = join(dir, 'user.creds');
  await writeFile(
    configFile,
    [
      `operator: ${operatorJwt}`,
      `system_account: ${system.getPublicKey()}`,
      'resolver: MEMORY',
      'resolver_preload: {',
      `  ${system.getPublicKey()}: ${systemJwt}`,
      `  ${account.getPublicKey()}: ${accountJwt}`,
      '}',
      '',
    ].join('\n'),
  );
  await writeFile(credsFile, fmtCreds(userJwt, user));
  return { configFile, credsFile };
}
