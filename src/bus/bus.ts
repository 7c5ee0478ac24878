/**
 * The message bus between coordinator, agents and clients. Subjects and wildcards follow NATS:
 * tokens separated by dots, `*` matches one token and `>` matches the rest. The in-process and
 * worker-port buses implement it for embedded mode; a NATS client implements it for clusters.
 */
export interface Bus {
  publish(subject: string, data: Uint8Array, options?: PublishOptions): void;

  /** Queue subscribers with the same `queue` share the messages: each goes to one of them. */
  subscribe(subject: string, handler: MessageHandler, options?: SubscribeOptions): Subscription;

  /** Publishes with a private reply subject and resolves with the first reply. */
  request(subject: string, data: Uint8Array, options?: RequestOptions): Promise<Uint8Array>;

  /** Resolves when every message published so far has been handed to the transport. */
  flush(): Promise<void>;

  /** Delivers what is pending, then closes; closing twice is harmless. */
  close(): Promise<void>;

  /** False while the transport is cut off and reconnecting; in-process buses are always connected. */
  readonly connected: boolean;
}

export interface BusMessage {
  subject: string;
  data: Uint8Array;
  reply?: string;
}

export type MessageHandler = (message: BusMessage) => void;

export interface PublishOptions {
  reply?: string;
}

export interface SubscribeOptions {
  queue?: string;
}

export interface RequestOptions {
  timeoutMs?: number;
}

export interface Subscription {
  unsubscribe(): void;
}

/** A request that got no reply in time, or found no subscriber. */
export class RequestTimeoutError extends Error {
  override readonly name = 'RequestTimeoutError';
  readonly code = 'ERR_BUS_TIMEOUT';
}

export class BusClosedError extends Error {
  override readonly name = 'BusClosedError';
  readonly code = 'ERR_BUS_CLOSED';
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 5_000;
