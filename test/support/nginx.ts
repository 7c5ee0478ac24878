import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canConnect, freePort } from './ports.ts';

export const NGINX_BIN = process.env.NGINX_BIN ?? '/usr/sbin/nginx';

export interface NginxServer {
  port: number;
  url: string;
  dir: string;
  /** Lines of the access log: `status request_length bytes_sent request_uri`. */
  accessLog(): Promise<string[]>;
  stop(): Promise<void>;
}

export interface NginxOptions {
  /** Extra directives inside the server block. */
  locations: string;
  /** Extra directives inside the server block for TLS, with certificate paths. */
  tls?: { certFile: string; keyFile: string };
  /**
   * Extra directives inside the http block, before the server block: `log_format` and `map`,
   * which nginx does not accept inside a server. Relative file paths start from `dir`.
   */
  http?: string;
  /** Address to listen on: 127.0.0.1 unless a test reaches it from its own network namespaces. */
  host?: string;
}

/** Starts Debian's nginx in the foreground on a free port with a config of the test's. */
export async function startNginx(options: NginxOptions): Promise<NginxServer> {
  const dir = await mkdtemp(join(tmpdir(), 'loadmesh-nginx-'));
  const host = options.host ?? '127.0.0.1';
  const port = await freePort(host);
  const listen = options.tls
    ? `listen ${host}:${port} ssl;\n    ssl_certificate ${options.tls.certFile};\n    ssl_certificate_key ${options.tls.keyFile};`
    : `listen ${host}:${port};`;

  const config = `
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  log_format lm '$status $request_length $bytes_sent $request_uri';
  access_log ${dir}/access.log lm buffer=64k flush=100ms;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  ${options.http ?? ''}
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  default_type text/plain;
  server {
    ${listen}
    ${options.locations}
  }
}
`;
  const configFile = join(dir, 'nginx.conf');
  await writeFile(configFile, config);

  const child = spawn(NGINX_BIN, ['-c', configFile, '-p', dir, '-e', join(dir, 'error.log')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await waitForPort(host, port, child, () => stderr, dir);

  return {
    port,
    url: `${options.tls ? 'https' : 'http'}://${host}:${port}`,
    dir,
    accessLog: async () => {
      const text = await readFile(join(dir, 'access.log'), 'utf8').catch(() => '');
      return text.split('\n').filter((line) => line !== '');
    },
    stop: async () => {
      await stopChild(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function waitForPort(
  host: string,
  port: number,
  child: ChildProcess,
  stderr: () => string,
  dir: string,
): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      const log = await readFile(join(dir, 'error.log'), 'utf8').catch(() => '');
      throw new Error(`nginx exited with code ${child.exitCode}: ${stderr()} ${log}`);
    }
    if (await canConnect(host, port)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`nginx did not listen on port ${port} within 10 s`);
}

/** Stops a child process with SIGQUIT (graceful for nginx), then SIGKILL after 5 s. */
export function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGQUIT'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}

/**
 * Polls the access log until it has at least `count` lines, because nginx writes it through a
 * 64 KiB buffer that it flushes every 100 ms. Then reads it once more after a further flush, so
 * that lines beyond `count` show up in the result too. Throws after `timeoutMs`.
 */
export async function waitForAccessLog(
  server: NginxServer,
  count: number,
  timeoutMs = 5_000,
): Promise<string[]> {
  return waitForLines(() => server.accessLog(), count, timeoutMs, 'access log');
}

/** Polls another log file in the server's folder, such as one named by an `access_log` of the test's. */
export async function waitForLogFile(
  server: NginxServer,
  name: string,
  count: number,
  timeoutMs = 5_000,
): Promise<string[]> {
  const read = async (): Promise<string[]> => {
    const text = await readFile(join(server.dir, name), 'utf8').catch(() => '');
    return text.split('\n').filter((line) => line !== '');
  };
  return waitForLines(read, count, timeoutMs, name);
}

/** Longer than the `flush=100ms` of the access log. */
const FLUSH_WAIT_MS = 250;

async function waitForLines(
  read: () => Promise<string[]>,
  count: number,
  timeoutMs: number,
  logName: string,
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let lines = await read();
  while (lines.length < count && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    lines = await read();
  }
  if (lines.length < count)
    throw new Error(
      `nginx ${logName} has ${lines.length} lines after ${timeoutMs} ms, expected ${count}`,
    );

  await new Promise((r) => setTimeout(r, FLUSH_WAIT_MS));
  return read();
}
