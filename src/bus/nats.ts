import { readFile } from 'node:fs/promises';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import {
  NoRespondersError,
  TimeoutError,
  connect,
  credsAuthenticator,
  nkeyAuthenticator,
  type Authenticator,
  type NatsConnection,
} from '@nats-io/transport-node';
import type { Logger } from 'pino';
import {
  BusClosedError,
  DEFAULT_REQUEST_TIMEOUT_MS,
  RequestTimeoutError,
  type Bus,
  type MessageHandler,
  type PublishOptions,
  type RequestOptions,
  type SubscribeOptions,
  type Subscription,
} from './bus.ts';

/** How to reach and authenticate to NATS; every option passes through to the NATS client. */
export interface NatsBusOptions {
  /** Server URLs such as nats://127.0.0.1:4222, comma-separated or a list. */
  servers: string | string[];
  /** Client name shown by the server's monitoring, e.g. loadmesh-agent. */
  name: string;
  user?: string;
  pass?: string;
  token?: string;
  /** File with an nkey seed (starts with SU). */
  nkeyFile?: string;
  /** A .creds file with a user JWT and seed. */
  credsFile?: string;
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  /** How long the first connection may take, in ms; default the NATS client's 20 s. */
  connectTimeoutMs?: number;
}

/** How long closing waits for buffered messages to reach the server. */
const CLOSE_DRAIN_TIMEOUT_MS = 2_000;

/** The first connection to NATS failed: unreachable, or rejected credentials. */
export class NatsConnectError extends Error {
  override readonly name = 'NatsConnectError';
  readonly code = 'ERR_NATS_CONNECT';
}

/** The cluster bus: NATS core publish, subscribe and request-reply, reconnecting without limit. */
export class NatsBus implements Bus {
  readonly connection: NatsConnection;
  #closed = false;
  #reconnecting = false;

  get connected(): boolean {
    return !this.#closed && !this.#reconnecting;
  }

  private constructor(connection: NatsConnection) {
    this.connection = connection;
  }

  /** Connects and logs every change of connection status once. */
  static async connect(options: NatsBusOptions, log: Logger): Promise<NatsBus> {
    const servers =
      typeof options.servers === 'string'
        ? options.servers.split(',').map((s) => s.trim())
        : options.servers;
    const authenticator = await buildAuthenticator(options);
    let connection: NatsConnection;
    try {
      connection = await connect({
        servers,
        name: options.name,
        user: options.user,
        pass: options.pass,
        token: options.token,
        ...(authenticator ? { authenticator } : {}),
        ...(options.connectTimeoutMs ? { timeout: options.connectTimeoutMs } : {}),
        ...(options.tls ? { tls: withServerIdentity(options.tls, servers) } : {}),
        // Agents keep running through an outage and deliver their windows once NATS is back.
        maxReconnectAttempts: -1,
        reconnectTimeWait: 500,
      });
    } catch (error) {
      throw new NatsConnectError(
        `cannot connect to NATS at ${servers.join(', ')}: ${(error as Error).message}. Fix: check --nats, and the user, password, token, nkey, creds or TLS flags`,
        { cause: error },
      );
    }
    const bus = new NatsBus(connection);
    void bus.#watchStatus(log.child({ component: 'nats' }));
    return bus;
  }

  publish(subject: string, data: Uint8Array, options: PublishOptions = {}): void {
    if (this.#closed) throw new BusClosedError(`bus is closed; cannot publish on ${subject}`);
    this.connection.publish(subject, data, options.reply ? { reply: options.reply } : undefined);
  }

  subscribe(
    subject: string,
    handler: MessageHandler,
    options: SubscribeOptions = {},
  ): Subscription {
    if (this.#closed) throw new BusClosedError(`bus is closed; cannot subscribe to ${subject}`);
    const subscription = this.connection.subscribe(subject, {
      queue: options.queue,
      callback: (error, message) => {
        if (error) return;
        handler({
          subject: message.subject,
          data: message.data,
          reply: message.reply || undefined,
        });
      },
    });
    return { unsubscribe: () => subscription.unsubscribe() };
  }

  async request(
    subject: string,
    data: Uint8Array,
    options: RequestOptions = {},
  ): Promise<Uint8Array> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    try {
      const reply = await this.connection.request(subject, data, { timeout: timeoutMs });
      return reply.data;
    } catch (error) {
      if (error instanceof NoRespondersError)
        throw new RequestTimeoutError(`no subscriber on ${subject}`, { cause: error });
      if (error instanceof TimeoutError)
        throw new RequestTimeoutError(`no reply on ${subject} within ${timeoutMs} ms`, {
          cause: error,
        });
      throw error;
    }
  }

  flush(): Promise<void> {
    return this.connection.flush();
  }

  /**
   * Drains: delivers what subscribers have pending and sends what is buffered, then closes. A
   * drain needs the server, so it gets CLOSE_DRAIN_TIMEOUT_MS before the connection just closes.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.connection.isClosed()) return;

    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      this.connection.drain().then(
        () => true,
        () => false,
      ),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), CLOSE_DRAIN_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    if (!drained) await this.connection.close().catch(() => undefined);
  }

  /** Closes at once without draining. */
  async destroy(): Promise<void> {
    this.#closed = true;
    await this.connection.close();
  }

  async #watchStatus(log: Logger): Promise<void> {
    for await (const status of this.connection.status()) {
      if (status.type === 'disconnect') {
        this.#reconnecting = true;
        log.warn({ server: status.server }, 'disconnected from NATS; reconnecting');
      } else if (status.type === 'reconnect') {
        this.#reconnecting = false;
        log.info({ server: status.server }, 'reconnected to NATS');
      } else if (status.type === 'error')
        log.error({ err: status.error }, 'NATS reported an error');
    }
  }
}

/**
 * Adds a certificate check against the hosts of `servers`. The NATS client opens TLS on a plain
 * socket without a server name for an IP address, so Node checks the certificate against
 * "localhost" and rejects one made for the server's address.
 */
function withServerIdentity(tls: NonNullable<NatsBusOptions['tls']>, servers: string[]): object {
  const hosts = servers.map((server) => hostOf(server));
  return {
    ...tls,
    checkServerIdentity: (_host: string, cert: PeerCertificate): Error | undefined => {
      const errors = hosts.map((host) => checkServerIdentity(host, cert));
      return errors.some((error) => error === undefined) ? undefined : errors[0];
    },
  };
}

/** Returns the host of a server URL such as nats://10.0.0.5:4222 or 10.0.0.5:4222. */
function hostOf(server: string): string {
  const withScheme = /^[a-z]+:\/\//i.test(server) ? server : `nats://${server}`;
  return new URL(withScheme).hostname.replace(/^\[|\]$/g, '');
}

async function buildAuthenticator(options: NatsBusOptions): Promise<Authenticator | undefined> {
  if (options.credsFile) return credsAuthenticator(await readFile(options.credsFile));
  if (options.nkeyFile) {
    const seed = (await readFile(options.nkeyFile, 'utf8')).trim();
    return nkeyAuthenticator(new TextEncoder().encode(seed));
  }
  return undefined;
}
