import type { Logger } from 'pino';
import type { Bus } from '../bus/index.ts';

/** Most messages kept for redelivery; at one window a second, ten minutes of outage. */
export const OUTBOX_MAX_PENDING = 600;
/** Messages kept for a restarted coordinator: an hour of one window a second. */
export const OUTBOX_MAX_HISTORY = 3_600;
const ACK_TIMEOUT_MS = 2_000;
const RETRY_INTERVAL_MS = 1_000;

/**
 * Delivers an agent's windows to the coordinator with acknowledgement, and keeps each one until
 * it is acknowledged, so a NATS restart or a coordinator away for a while loses nothing. The
 * coordinator merges each window once, so a window sent twice (its ack lost) counts once.
 */
export class Outbox {
  #bus: Bus;
  #subject: string;
  #log: Logger;
  #pending = new Set<Uint8Array>();
  #sending = new Set<Uint8Array>();
  #retryTimer: NodeJS.Timeout | undefined;
  #dropped = 0;
  #idle: (() => void)[] = [];
  #history: Uint8Array[] = [];
  #closed = false;
  /** performance.now() of the newest acknowledgement: the last sign of a coordinator. */
  lastAckMs = performance.now();

  constructor(bus: Bus, subject: string, log: Logger) {
    this.#bus = bus;
    this.#subject = subject;
    this.#log = log;
  }

  get pending(): number {
    return this.#pending.size;
  }

  /** Sends again every message ever sent, acknowledged or not, oldest first. */
  resendHistory(): void {
    for (const data of this.#history) {
      this.#pending.add(data);
      void this.#deliver(data);
    }
  }

  /** Sends until acknowledged; `keepInHistory: false` leaves the message out of resendHistory. */
  send(data: Uint8Array, options: { keepInHistory?: boolean } = {}): void {
    if (options.keepInHistory !== false) {
      this.#history.push(data);
      if (this.#history.length > OUTBOX_MAX_HISTORY) this.#history.shift();
    }
    if (this.#pending.size >= OUTBOX_MAX_PENDING) {
      const oldest = this.#pending.values().next().value!;
      this.#pending.delete(oldest);
      this.#dropped += 1;
      if (this.#dropped === 1)
        this.#log.error(
          { maxPending: OUTBOX_MAX_PENDING },
          'coordinator unreachable for too long; dropping the oldest windows',
        );
    }
    this.#pending.add(data);
    void this.#deliver(data);
  }

  /** Resolves once every message is acknowledged, or after `timeoutMs`; returns how many are left. */
  async drain(timeoutMs: number): Promise<number> {
    if (this.#pending.size > 0) {
      await Promise.race([
        new Promise<void>((resolve) => this.#idle.push(resolve)),
        new Promise((resolve) => setTimeout(resolve, timeoutMs)),
      ]);
    }
    return this.#pending.size;
  }

  /** Stops retrying. A later resendHistory still sends every message, once. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
  }

  async #deliver(data: Uint8Array): Promise<void> {
    if (this.#sending.has(data)) return;
    this.#sending.add(data);
    try {
      await this.#bus.request(this.#subject, data, { timeoutMs: ACK_TIMEOUT_MS });
      this.lastAckMs = performance.now();
      this.#pending.delete(data);
      if (this.#pending.size === 0) for (const resolve of this.#idle.splice(0)) resolve();
    } catch {
      this.#scheduleRetry();
    } finally {
      this.#sending.delete(data);
    }
  }

  #scheduleRetry(): void {
    if (this.#retryTimer || this.#closed) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (this.#pending.size > 0)
        this.#log.warn(
          { pending: this.#pending.size },
          'windows not acknowledged; sending them again',
        );
      for (const data of this.#pending) void this.#deliver(data);
    }, RETRY_INTERVAL_MS);
  }
}
