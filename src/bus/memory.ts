import {
  BusClosedError,
  type Bus,
  type BusMessage,
  type MessageHandler,
  type PublishOptions,
  type RequestOptions,
  type SubscribeOptions,
  type Subscription,
} from './bus.ts';
import { requestViaInbox, subjectMatches } from './subject.ts';

interface Entry {
  pattern: string;
  queue?: string;
  handler: MessageHandler;
}

/** A bus inside one process. Delivery is asynchronous, as on NATS, so handlers never nest. */
export class MemoryBus implements Bus {
  #entries = new Set<Entry>();
  #queueTurns = new Map<string, number>();
  #pending = 0;
  #idle: (() => void)[] = [];
  #closed = false;

  get connected(): boolean {
    return !this.#closed;
  }

  publish(subject: string, data: Uint8Array, options: PublishOptions = {}): void {
    if (this.#closed) throw new BusClosedError(`bus is closed; cannot publish on ${subject}`);

    const message: BusMessage = { subject, data, reply: options.reply };
    for (const entry of this.#route(subject)) {
      this.#pending += 1;
      queueMicrotask(() => {
        try {
          entry.handler(message);
        } finally {
          this.#settle();
        }
      });
    }
  }

  subscribe(
    subject: string,
    handler: MessageHandler,
    options: SubscribeOptions = {},
  ): Subscription {
    if (this.#closed) throw new BusClosedError(`bus is closed; cannot subscribe to ${subject}`);

    const entry: Entry = { pattern: subject, queue: options.queue, handler };
    this.#entries.add(entry);
    return { unsubscribe: () => this.#entries.delete(entry) };
  }

  request(subject: string, data: Uint8Array, options: RequestOptions = {}): Promise<Uint8Array> {
    return requestViaInbox(this, subject, data, options);
  }

  flush(): Promise<void> {
    if (this.#pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    this.#entries.clear();
  }

  /** Returns the plain subscribers plus one member of each queue group. */
  #route(subject: string): Entry[] {
    const plain: Entry[] = [];
    const groups = new Map<string, Entry[]>();

    for (const entry of this.#entries) {
      if (!subjectMatches(entry.pattern, subject)) continue;
      if (entry.queue === undefined) {
        plain.push(entry);
        continue;
      }
      const key = `${entry.queue}\u0000${entry.pattern}`;
      const members = groups.get(key) ?? [];
      members.push(entry);
      groups.set(key, members);
    }

    for (const [key, members] of groups) {
      const turn = this.#queueTurns.get(key) ?? 0;
      this.#queueTurns.set(key, turn + 1);
      plain.push(members[turn % members.length]!);
    }
    return plain;
  }

  #settle(): void {
    this.#pending -= 1;
    if (this.#pending > 0) return;
    for (const resolve of this.#idle.splice(0)) resolve();
  }
}
