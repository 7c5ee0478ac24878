import type { Logger } from 'pino';
import type { Bus, BusMessage, Subscription } from '../bus/index.ts';
import {
  HEARTBEAT_INTERVAL_MS,
  LOST_AFTER_HEARTBEATS,
  decodeOrLog,
  encodeMessage,
  type AgentHello,
  type Subjects,
} from '../protocol/index.ts';
import { AgentTaskError } from './errors.ts';

/** An agent as it announced itself, with the free capacity of its latest heartbeat. */
export type AgentInfo = Omit<AgentHello, 'type'> & { freeCapacity?: number };

const CHECK_INTERVAL_MS = HEARTBEAT_INTERVAL_MS / 4;

/** Changes of membership that running tasks react to. */
export type MembershipEvent =
  | { type: 'lost'; agent: AgentInfo; lastSeenMs: number }
  | { type: 'load'; agent: AgentInfo; cpuPercent: number; atMs: number };

interface Member {
  info: AgentInfo;
  lastSeenMs: number;
  tasks: string[];
}

/**
 * The agents that have sent a hello or a heartbeat, in order of arrival. An agent silent for
 * LOST_AFTER_HEARTBEATS heartbeat intervals is removed and reported lost.
 */
export class Membership {
  #members = new Map<string, Member>();
  #waiters = new Set<() => void>();
  #listeners = new Set<(event: MembershipEvent) => void>();
  #subscriptions: Subscription[] = [];
  #checkTimer: NodeJS.Timeout | undefined;
  #lastCheckMs = 0;
  #bus: Bus;
  #subjects: Subjects;
  #log: Logger;

  constructor(bus: Bus, subjects: Subjects, log: Logger) {
    this.#bus = bus;
    this.#subjects = subjects;
    this.#log = log;
  }

  start(): void {
    this.#subscriptions.push(
      this.#bus.subscribe(this.#subjects.agentHello, (m) => this.#receive(m)),
      this.#bus.subscribe(this.#subjects.agentHeartbeat('*'), (m) => this.#receive(m)),
    );
    this.#lastCheckMs = performance.now();
    this.#checkTimer = setInterval(() => this.#checkLiveness(), CHECK_INTERVAL_MS);
    // Agents that started before this coordinator announce themselves again.
    this.#bus.publish(
      this.#subjects.agentDiscover,
      encodeMessage({ type: 'hello', agentId: '', host: '', pid: 0, cores: 0, version: '' }),
    );
  }

  stop(): void {
    for (const subscription of this.#subscriptions) subscription.unsubscribe();
    clearInterval(this.#checkTimer);
  }

  list(): AgentInfo[] {
    return [...this.#members.values()].map((m) => ({ ...m.info }));
  }

  /** Subscribes to lost agents and CPU warnings; returns the unsubscribe function. */
  onEvent(listener: (event: MembershipEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Resolves with `count` agents once that many have joined, preferring idle ones. Rejects with
   * the signal's reason when it aborts first.
   */
  waitFor(count: number, timeoutMs: number, signal?: AbortSignal): Promise<AgentInfo[]> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.#members.size < count) return;
        cleanup();
        const members = [...this.#members.values()].sort((a, b) => a.tasks.length - b.tasks.length);
        resolve(members.slice(0, count).map((m) => ({ ...m.info })));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new AgentTaskError(
            `only ${this.#members.size} of ${count} agents joined within ${timeoutMs} ms. Fix: start more agents, or lower --agents (optional.agentCount)`,
          ),
        );
      }, timeoutMs);
      const abort = (): void => {
        cleanup();
        reject(signal!.reason);
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        signal?.removeEventListener('abort', abort);
      };
      if (signal?.aborted) return abort();
      signal?.addEventListener('abort', abort);
      this.#waiters.add(check);
      check();
    });
  }

  #receive(busMessage: BusMessage): void {
    const message = decodeOrLog(busMessage.data, this.#log, { subject: busMessage.subject });
    if (!message) return;
    if (message.type !== 'hello' && message.type !== 'heartbeat') return;
    if (message.agentId === '') return;

    const nowMs = performance.now();
    let member = this.#members.get(message.agentId);
    if (!member) {
      const info: AgentInfo = {
        agentId: message.agentId,
        host: message.host,
        pid: message.type === 'hello' ? message.pid : 0,
        cores: message.cores,
        version: message.version,
      };
      member = { info, lastSeenMs: nowMs, tasks: [] };
      this.#members.set(message.agentId, member);
      this.#log.info({ agentId: info.agentId, host: info.host }, 'agent joined');
      for (const wake of this.#waiters) wake();
    }
    member.lastSeenMs = nowMs;
    if (message.type !== 'heartbeat') return;

    member.tasks = message.tasks;
    member.info.freeCapacity = message.freeCapacity;
    this.#emit({ type: 'load', agent: member.info, cpuPercent: message.cpuPercent, atMs: nowMs });
  }

  #checkLiveness(): void {
    const nowMs = performance.now();
    if (!this.#bus.connected) {
      // No heartbeat can reach a coordinator cut off from the bus, so the silence does not
      // count. Each agent gets the full allowance again once the bus is back.
      for (const member of this.#members.values()) member.lastSeenMs = nowMs;
      this.#lastCheckMs = nowMs;
      return;
    }

    // When this check itself ran late, this process was busy (loading a dataset, say) and the
    // heartbeats wait unread in its queue: the silence was ours, so it is forgiven.
    const stallMs = nowMs - this.#lastCheckMs - CHECK_INTERVAL_MS;
    this.#lastCheckMs = nowMs;
    if (stallMs > CHECK_INTERVAL_MS) {
      for (const member of this.#members.values()) member.lastSeenMs += stallMs;
    }

    for (const [agentId, member] of this.#members) {
      if (nowMs - member.lastSeenMs <= HEARTBEAT_INTERVAL_MS * LOST_AFTER_HEARTBEATS) continue;
      this.#members.delete(agentId);
      this.#log.warn(
        { agentId, host: member.info.host },
        'agent lost: no heartbeat for 3 intervals',
      );
      this.#emit({ type: 'lost', agent: member.info, lastSeenMs: member.lastSeenMs });
    }
  }

  #emit(event: MembershipEvent): void {
    for (const listener of this.#listeners) listener(event);
  }
}
