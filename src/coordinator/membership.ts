import type { Logger } from 'pino';
import type { Bus, Subscription } from '../bus/index.ts';
import { AgentTaskError } from './errors.ts';
import { decodeMessage, encodeMessage, type AgentHello, type Subjects } from '../protocol/index.ts';

export type AgentInfo = Omit<AgentHello, 'type'>;

/** The agents that have said hello, in order of arrival. */
export class Membership {
  #agents = new Map<string, AgentInfo>();
  #waiters = new Set<() => void>();
  #subscription: Subscription | undefined;

  constructor(
    private readonly bus: Bus,
    private readonly subjects: Subjects,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.#subscription = this.bus.subscribe(this.subjects.agentHello, (m) => {
      let message;
      try {
        message = decodeMessage(m.data);
      } catch (error) {
        this.log.error(
          { err: error, subject: m.subject },
          'rejected a message that cannot be read',
        );
        return;
      }
      if (message.type !== 'hello') return;

      const { type: _type, ...info } = message;
      if (!this.#agents.has(info.agentId))
        this.log.info({ agentId: info.agentId, host: info.host }, 'agent joined');
      this.#agents.set(info.agentId, info);
      for (const wake of this.#waiters) wake();
    });
    // Agents that started before this coordinator announce themselves again.
    this.bus.publish(
      this.subjects.agentDiscover,
      encodeMessage({ type: 'hello', agentId: '', host: '', pid: 0, cores: 0, version: '' }),
    );
  }

  stop(): void {
    this.#subscription?.unsubscribe();
  }

  list(): AgentInfo[] {
    return [...this.#agents.values()];
  }

  /** Resolves with the first `count` agents once that many have joined. */
  waitFor(count: number, timeoutMs: number): Promise<AgentInfo[]> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.#agents.size < count) return;
        cleanup();
        resolve(this.list().slice(0, count));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new AgentTaskError(
            `only ${this.#agents.size} of ${count} agents joined within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }
}
