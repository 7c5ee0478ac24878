import type { MessagePort } from 'node:worker_threads';
import {
  BusClosedError,
  type Bus,
  type MessageHandler,
  type PublishOptions,
  type RequestOptions,
  type SubscribeOptions,
  type Subscription,
} from './bus.ts';
import type { MemoryBus } from './memory.ts';
import { requestViaInbox } from './subject.ts';

/**
 * Frames between a worker thread's PortBus and the MemoryBus of the main thread. The main
 * thread subscribes on the worker's behalf, so queue groups span threads.
 */
type Frame =
  | { op: 'pub'; subject: string; data: Uint8Array; reply?: string }
  | { op: 'sub'; sid: number; subject: string; queue?: string }
  | { op: 'unsub'; sid: number }
  | { op: 'msg'; sid: number; subject: string; data: Uint8Array; reply?: string }
  | { op: 'ping'; id: number }
  | { op: 'pong'; id: number };

/** The bus of a worker thread: every call travels over a MessagePort to the main thread's bus. */
export class PortBus implements Bus {
  #port: MessagePort;
  #handlers = new Map<number, MessageHandler>();
  #nextSid = 1;
  #pings = new Map<number, () => void>();
  #closed = false;

  get connected(): boolean {
    return !this.#closed;
  }

  constructor(port: MessagePort) {
    this.#port = port;
    port.on('message', (frame: Frame) => this.#receive(frame));
  }

  publish(subject: string, data: Uint8Array, options: PublishOptions = {}): void {
    if (this.#closed) throw new BusClosedError(`bus is closed; cannot publish on ${subject}`);
    this.#send({ op: 'pub', subject, data, reply: options.reply });
  }

  subscribe(
    subject: string,
    handler: MessageHandler,
    options: SubscribeOptions = {},
  ): Subscription {
    if (this.#closed) throw new BusClosedError(`bus is closed; cannot subscribe to ${subject}`);

    const sid = this.#nextSid++;
    this.#handlers.set(sid, handler);
    this.#send({ op: 'sub', sid, subject, queue: options.queue });
    return {
      unsubscribe: () => {
        if (!this.#handlers.delete(sid) || this.#closed) return;
        this.#send({ op: 'unsub', sid });
      },
    };
  }

  request(subject: string, data: Uint8Array, options: RequestOptions = {}): Promise<Uint8Array> {
    return requestViaInbox(this, subject, data, options);
  }

  /** Resolves once the main thread has handled every frame sent before this call. */
  flush(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    const id = this.#nextSid++;
    return new Promise((resolve) => {
      this.#pings.set(id, resolve);
      this.#send({ op: 'ping', id });
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    for (const sid of this.#handlers.keys()) this.#send({ op: 'unsub', sid });
    this.#handlers.clear();
    this.#port.close();
  }

  #send(frame: Frame): void {
    this.#port.postMessage(frame);
  }

  #receive(frame: Frame): void {
    if (frame.op === 'msg') {
      this.#handlers.get(frame.sid)?.({
        subject: frame.subject,
        data: frame.data,
        reply: frame.reply,
      });
    } else if (frame.op === 'pong') {
      this.#pings.get(frame.id)?.();
      this.#pings.delete(frame.id);
    }
  }
}

/** Serves a worker's PortBus from the main thread's bus until the port closes. */
export function bridgePort(bus: MemoryBus, port: MessagePort): { close(): void } {
  const subscriptions = new Map<number, Subscription>();

  const onFrame = (frame: Frame): void => {
    switch (frame.op) {
      case 'pub':
        bus.publish(frame.subject, frame.data, { reply: frame.reply });
        break;
      case 'sub': {
        const forward: MessageHandler = (m) =>
          port.postMessage({
            op: 'msg',
            sid: frame.sid,
            subject: m.subject,
            data: m.data,
            reply: m.reply,
          } satisfies Frame);
        subscriptions.set(frame.sid, bus.subscribe(frame.subject, forward, { queue: frame.queue }));
        break;
      }
      case 'unsub':
        subscriptions.get(frame.sid)?.unsubscribe();
        subscriptions.delete(frame.sid);
        break;
      case 'ping':
        port.postMessage({ op: 'pong', id: frame.id } satisfies Frame);
        break;
    }
  };

  const close = (): void => {
    for (const subscription of subscriptions.values()) subscription.unsubscribe();
    subscriptions.clear();
    port.off('message', onFrame);
  };

  port.on('message', onFrame);
  port.once('close', close);
  return { close };
}
