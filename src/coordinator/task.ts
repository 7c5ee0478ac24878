import type { Logger } from 'pino';
import type { Bus, Subscription } from '../bus/index.ts';
import {
  MAX_QPS_PER_AGENT,
  decodeOrLog,
  encodeMessage,
  type Message,
  type RequestEntry,
  type RequestRecord,
  type RequestRecords,
  type Subjects,
  type TaskAssign,
  type TaskConfig,
  type TaskDone,
} from '../protocol/index.ts';
import { Aggregator, type WindowRow } from './aggregator.ts';
import { AgentTaskError } from './errors.ts';
import type { AgentInfo } from './membership.ts';
import { closedLoopShares, shareOf, type ClosedLoopShare } from './rebalance.ts';
import { ArrivalSchedule, TokenDealer, tokenWeights } from './scheduler.ts';
import { CpuWatch, HIGH_CPU_PERCENT, HIGH_CPU_WARN_MS } from './cpu-watch.ts';
import type { Membership, MembershipEvent } from './membership.ts';

export const WINDOW_MS = 1000;
/** Agents get this long to set up before the first request, so that all start together. */
const START_DELAY_MS = 300;
/** Open-loop tokens go out this far ahead of their send times, in short ticks. */
const TOKEN_TICK_MS = 100;
const TOKEN_LOOKAHEAD_MS = 500;
/** Most send offsets in one tokens message: about 180 KB of msgpack. */
const OFFSETS_PER_MESSAGE = 20_000;
/** Open loop: requests in flight per agent above which sends are dropped and counted. */
const OPEN_LOOP_MAX_IN_FLIGHT = 10_000;
const EMPTY = new Uint8Array(0);

/** Agents get this long to prepare a task, e.g. to load a tokenizer. */
const ACCEPT_TIMEOUT_MS = 60_000;
/** Open loop: the backstop stop comes this long after the schedule's end. */
const OPEN_LOOP_END_MARGIN_MS = 1_000;
/** Time after the drain for agents to report their last windows. */
const DONE_GRACE_MS = 5_000;

/** agents-lost: every agent of the task was lost before it could end. */
export type EndReason = 'duration' | 'requests' | 'stopped' | 'agents-lost';

export interface TaskPlan {
  taskId: string;
  config: TaskConfig;
  entries: RequestEntry[];
  caPem?: string;
  agents: AgentInfo[];
  /** Set when a restarted coordinator takes over a running task: its start, ms since the epoch. */
  resumeFromEpochMs?: number;
  /** Load changes that a previous coordinator made to a resumed task. */
  changes?: AppliedChange[];
  /**
   * Called once the agents start, with the start time in ms since the epoch and the config, and
   * again with the new config and every change so far after each change of the load.
   */
  onPlan?: (startedAtEpochMs: number, config: TaskConfig, changes: AppliedChange[]) => void;
  /** Reports lost agents and CPU warnings while the task runs. */
  membership?: Membership;
  /** Receives per-request records; agents send them only when this is set. */
  onRecords?: (records: RequestRecord[]) => void;
}

/** A change of a running task's load: concurrency per agent in a closed loop, or the rate. */
export interface LoadChange {
  concurrency?: number;
  qps?: number;
}

/** A change as the summary lists it, with the moment it took effect. */
export interface AppliedChange extends LoadChange {
  elapsedSec: number;
}

export interface TaskProgress {
  elapsedMs: number;
  durationMs: number;
  /** Returns the newest complete second; computed only when called, since it costs a summary. */
  row(): WindowRow | undefined;
  aggregator: Aggregator;
}

export interface TaskOutcome {
  startedAt: Date;
  endedAt: Date;
  /** From the task start to the moment the last agent was done, in milliseconds. */
  elapsedMs: number;
  endReason: EndReason;
  aggregator: Aggregator;
  agents: (AgentInfo & {
    incomplete: number;
    lastTick: number;
    done: boolean;
    lost: boolean;
    sent: number;
    completed: number;
    failed: number;
    errors: Record<string, number>;
  })[];
  /** Warnings for the report: lost agents, saturated load generators. */
  warnings: string[];
  /** Load changes made while the task ran, in order. */
  changes: AppliedChange[];
}

/**
 * Runs one task over the bus: assigns agents their share, feeds open-loop rate tokens, applies
 * the end conditions, and merges the agents' windows.
 */
export class TaskRunner {
  readonly aggregator = new Aggregator();
  #bus: Bus;
  #subjects: Subjects;
  #log: Logger;
  #plan: TaskPlan;
  #subscription: Subscription | undefined;
  #timers: NodeJS.Timeout[] = [];
  #startMs = 0;
  #schedule: ArrivalSchedule | undefined;
  /** Open loop: arrivals of the schedules that a rate change replaced. */
  #replacedArrivals = 0;
  /** Open loop: every arrival before this offset has been dealt, in µs. */
  #dealtUntilUs = 0;
  #startedAtEpochMs = 0;
  #changes: AppliedChange[] = [];
  /** Open loop: the task's rate, after the maxQPS cap. */
  #ratePerSec = 0;
  #dealer: TokenDealer | undefined;
  #tokenTick = 0;
  #tokensEnded = false;
  #done = new Map<string, TaskDone>();
  #endReason: EndReason | undefined;
  #stopSent = false;
  #finish: (() => void) | undefined;
  #accepted = new Set<string>();
  #allAccepted: (() => void) | undefined;
  /** Agents lost while the task ran, with the tick of their newest window. */
  #lost = new Map<string, { lastTick: number }>();
  #warnings: string[] = [];
  #cpuWatch: CpuWatch | undefined;
  /** Record batches already forwarded, by agent and sequence number. */
  #recordBatches = new Set<string>();
  #unsubscribeMembership: (() => void) | undefined;

  constructor(bus: Bus, subjects: Subjects, log: Logger, plan: TaskPlan) {
    this.#bus = bus;
    this.#subjects = subjects;
    this.#log = log.child({ taskId: plan.taskId });
    this.#plan = plan;
    this.#changes = [...(plan.changes ?? [])];
  }

  get elapsedMs(): number {
    return this.#startMs === 0 ? 0 : performance.now() - this.#startMs;
  }

  /** Runs the task to its end; `onProgress` is called once a second. */
  async run(onProgress?: (progress: TaskProgress) => void): Promise<TaskOutcome> {
    const { config, agents, taskId } = this.#plan;
    const finished = new Promise<void>((resolve) => (this.#finish = resolve));
    this.#subscription = this.#bus.subscribe(this.#subjects.window(taskId), (m) => {
      this.#receive(m.data);
      // Agents keep a window until this acknowledgement arrives; a repeat is merged once.
      if (m.reply) this.#bus.publish(m.reply, EMPTY);
    });

    await this.#bus.flush();
    this.#unsubscribeMembership = this.#plan.membership?.onEvent((event) =>
      this.#membershipEvent(event),
    );

    const startedAt =
      this.#plan.resumeFromEpochMs === undefined
        ? await this.#startAgents()
        : this.#resume(this.#plan.resumeFromEpochMs);
    const openLoop = config.optional.mode === 'rate';
    if (openLoop) this.#startTokens();

    // An open-loop schedule ends by itself at the duration; the stop there is a backstop.
    const durationMs = config.optional.duration * 1000;
    const endMarginMs = openLoop ? OPEN_LOOP_END_MARGIN_MS : 0;
    const untilEndMs = this.#startMs + durationMs + endMarginMs - performance.now();
    this.#later(Math.max(0, untilEndMs), () => this.stop('duration'));
    this.#every(WINDOW_MS, () => {
      const currentTick = Math.floor(this.elapsedMs / WINDOW_MS);
      // Windows arrive just after their tick ends; a tick two behind is complete unless late.
      this.aggregator.sealBefore(currentTick - 2);
      onProgress?.({
        elapsedMs: this.elapsedMs,
        durationMs,
        row: () => this.aggregator.row(currentTick - 1),
        aggregator: this.aggregator,
      });
    });

    await finished;
    const endedAt = new Date();
    const elapsedMs = this.elapsedMs;
    this.#cleanup();
    this.aggregator.sealBefore(Number.MAX_SAFE_INTEGER);
    this.#warnShortfall();

    return {
      startedAt,
      endedAt,
      elapsedMs,
      endReason: this.#endReason ?? 'requests',
      aggregator: this.aggregator,
      agents: agents.map((agent) => {
        const done = this.#done.get(agent.agentId);
        const totals = this.aggregator.agentTotals(agent.agentId);
        return {
          ...agent,
          incomplete: done?.incomplete ?? 0,
          lastTick: done?.lastTick ?? totals.lastTick,
          done: done !== undefined,
          lost: this.#lost.has(agent.agentId),
          sent: totals.sent,
          completed: totals.completed,
          failed: totals.failed,
          errors: totals.errors,
        };
      }),
      warnings: this.#warnings,
      changes: this.#changes,
    };
  }

  /** Forwards a batch of records once, even when a lost acknowledgement makes the agent send it again. */
  #receiveRecords(message: RequestRecords): void {
    const key = `${message.agentId}\u0000${message.seq}`;
    if (this.#recordBatches.has(key)) return;
    this.#recordBatches.add(key);
    this.#plan.onRecords?.(message.records);
  }

  /** Warns when an open-loop task that ran to its end sent fewer requests than its schedule held. */
  #warnShortfall(): void {
    const schedule = this.#schedule;
    if (!schedule || this.#endReason === 'stopped' || this.#endReason === 'agents-lost') return;

    const { sent, dropped } = this.aggregator.counters;
    const scheduled = this.#replacedArrivals + schedule.arrivals;
    const missing = scheduled - sent - dropped;
    if (missing <= Math.max(5, scheduled * 0.01)) return;
    this.#warnings.push(
      `${missing} of the ${scheduled} scheduled sends never went out: agents too busy to send them all (see the CPU warning and dropped sends), rate tokens of a lost agent, tokens lost while NATS was away, or sends due while no coordinator ran`,
    );
  }

  /** The config in force: the one the task started with, with the load changes applied. */
  get config(): TaskConfig {
    return this.#plan.config;
  }

  /**
   * Changes the load of the running task. A closed loop takes a new concurrency per agent, spread
   * over the agents still running. An open loop takes a new rate, whose schedule takes over
   * where the dealt tokens end. Throws when the change does not fit the task.
   */
  update(change: LoadChange): void {
    const { config } = this.#plan;
    const { optional } = config;
    const openLoop = optional.mode === 'rate';
    if (this.#startMs === 0 || this.#endReason !== undefined || this.#stopSent)
      throw new Error('the task is not running');
    if (openLoop && (change.qps === undefined || change.concurrency !== undefined))
      throw new Error(
        'an open-loop task changes its rate only. Fix: give optional.qps, e.g. -Doptional.qps=200',
      );
    if (!openLoop && (change.concurrency === undefined || change.qps !== undefined))
      throw new Error(
        'a closed-loop task changes its concurrency only. Fix: give optional.concurrency, e.g. -Doptional.concurrency=8',
      );
    if (config.llm?.mode === 'throughput')
      throw new Error('a throughput task sends every request at once; it has no load to change');
    const maxQps = MAX_QPS_PER_AGENT * this.#plan.agents.length;
    if (change.qps !== undefined && change.qps > maxQps)
      throw new Error(
        `optional.qps ${change.qps} is above ${maxQps} req/s: ${MAX_QPS_PER_AGENT} per agent for ${this.#plan.agents.length} agent(s). Fix: give a lower rate`,
      );
    if (openLoop && this.#tokensEnded)
      throw new Error('the task has dealt its last arrivals; there is no load left to change');

    this.#plan = { ...this.#plan, config: { ...config, optional: { ...optional, ...change } } };
    if (openLoop) this.#changeRate(change.qps!);
    else this.#changeConcurrency(change.concurrency!);

    this.#changes.push({ ...change, elapsedSec: Math.round(this.elapsedMs) / 1000 });
    this.#log.info({ change }, 'task load changed');
    this.#plan.onPlan?.(this.#startedAtEpochMs, this.#plan.config, this.#changes);
  }

  #changeRate(qps: number): void {
    const { optional } = this.#plan.config;
    const old = this.#schedule!;
    this.#replacedArrivals += old.arrivals;
    this.#ratePerSec = Math.min(qps, optional.maxQPS ?? Infinity);
    this.#schedule = new ArrivalSchedule({
      ratePerSec: this.#ratePerSec,
      burstiness: optional.burstiness,
      seed: optional.seed + this.#changes.length + 1,
      startUs: this.#dealtUntilUs,
      durationUs: optional.duration * 1e6,
      maxArrivals:
        optional.requestCount === undefined
          ? undefined
          : Math.max(0, optional.requestCount - this.#replacedArrivals),
    });
  }

  #changeConcurrency(concurrency: number): void {
    const running = this.#runningAgents().map((a) => a.agentId);
    this.#publishShares(
      closedLoopShares(concurrency * this.#plan.agents.length, running, undefined),
    );
  }

  #publishShares(shares: ClosedLoopShare[]): void {
    const { taskId } = this.#plan;
    for (const share of shares) {
      const message: Message = { type: 'control', taskId, action: 'share', ...share };
      this.#bus.publish(this.#subjects.control(taskId), encodeMessage(message));
    }
  }

  /** Tells the task's agents, or only `agentId`, to send nothing more and drain. */
  #publishStop(agentId?: string): void {
    const { taskId, config } = this.#plan;
    const message: Message = {
      type: 'control',
      taskId,
      action: 'stop',
      drainTimeoutMs: config.optional.drainTimeout,
      ...(agentId === undefined ? {} : { agentId }),
    };
    this.#bus.publish(this.#subjects.control(taskId), encodeMessage(message));
  }

  /** Ends the task: agents send nothing more and drain in-flight requests. */
  stop(reason: EndReason = 'stopped'): void {
    if (this.#stopSent) return;
    this.#stopSent = true;
    this.#endReason ??= reason;
    const drainTimeoutMs = this.#plan.config.optional.drainTimeout;
    this.#log.info({ reason, drainTimeoutMs }, 'stopping the task');

    this.#publishStop();
    this.#later(drainTimeoutMs + DONE_GRACE_MS, () => {
      const missing = this.#plan.agents
        .filter((a) => !this.#done.has(a.agentId))
        .map((a) => a.agentId);
      this.#log.error(
        { agents: missing },
        'agents did not report the end of the task in time; finishing without them',
      );
      this.#finish?.();
    });
  }

  #assignment(agent: AgentInfo, index: number): TaskAssign {
    const { config, entries, caPem, taskId, agents } = this.#plan;
    const { optional } = config;
    const openLoop = optional.mode === 'rate';
    const count = agents.length;
    const requestBudget =
      openLoop || optional.requestCount === undefined
        ? undefined
        : shareOf(optional.requestCount, count, index);
    // Throughput mode releases every request at once: one stream in flight per request.
    const throughput = config.llm?.mode === 'throughput' && requestBudget !== undefined;

    return {
      type: 'assign',
      taskId,
      agentId: agent.agentId,
      agentIndex: index,
      agentCount: count,
      config,
      entries,
      caPem,
      concurrency: openLoop ? 0 : throughput ? Math.max(1, requestBudget) : optional.concurrency,
      requestBudget,
      maxRatePerSec:
        !openLoop && optional.maxQPS !== undefined ? optional.maxQPS / count : undefined,
      maxInFlight: OPEN_LOOP_MAX_IN_FLIGHT,
      windowMs: WINDOW_MS,
      saveRequests: this.#plan.onRecords !== undefined,
    };
  }

  /** Assigns the agents their shares, waits for all to accept, and starts them together. */
  async #startAgents(): Promise<Date> {
    const { agents, taskId } = this.#plan;
    const accepted = new Promise<void>((resolve) => (this.#allAccepted = resolve));
    agents.forEach((agent, index) =>
      this.#bus.publish(
        this.#subjects.assign(taskId),
        encodeMessage(this.#assignment(agent, index)),
      ),
    );
    await this.#awaitAcceptance(accepted);

    // Every agent now listens for tokens; the start delay covers the start message's trip.
    const startedAt = new Date(Date.now() + START_DELAY_MS);
    this.#startMs = performance.now() + START_DELAY_MS;
    const start: Message = { type: 'control', taskId, action: 'start', startInMs: START_DELAY_MS };
    this.#bus.publish(this.#subjects.control(taskId), encodeMessage(start));
    this.#startedAtEpochMs = startedAt.getTime();
    this.#plan.onPlan?.(this.#startedAtEpochMs, this.#plan.config, this.#changes);
    return startedAt;
  }

  /** Takes over a task that agents are running, after a coordinator restart. */
  #resume(startedAtEpochMs: number): Date {
    this.#startMs = performance.now() - (Date.now() - startedAtEpochMs);
    this.#startedAtEpochMs = startedAtEpochMs;
    this.#log.info({ elapsedMs: Math.round(this.elapsedMs) }, 'resuming a running task');
    // Agents keep every window of the task; they send them all again for the new aggregator.
    const resend: Message = { type: 'control', taskId: this.#plan.taskId, action: 'resend' };
    this.#bus.publish(this.#subjects.control(this.#plan.taskId), encodeMessage(resend));
    return new Date(startedAtEpochMs);
  }

  #startTokens(): void {
    const { optional } = this.#plan.config;
    const ratePerSec = Math.min(optional.qps!, optional.maxQPS ?? Infinity);
    this.#ratePerSec = ratePerSec;
    this.#schedule = new ArrivalSchedule({
      ratePerSec,
      burstiness: optional.burstiness,
      seed: optional.seed,
      durationUs: optional.duration * 1e6,
      maxArrivals: optional.requestCount,
    });
    this.#dealer = new TokenDealer(tokenWeights(this.#plan.agents));
    // A resumed task goes on from now: what fell due while no coordinator ran is not sent.
    if (this.elapsedMs > 0) this.#schedule.take(this.elapsedMs * 1000);

    this.#sendTokens();
    this.#every(TOKEN_TICK_MS, () => this.#sendTokens());
  }

  #sendTokens(): void {
    const schedule = this.#schedule!;
    if (this.#tokensEnded) return;

    const untilUs = (this.elapsedMs + TOKEN_LOOKAHEAD_MS) * 1000;
    const hands = this.#dealer!.deal(schedule.take(untilUs));
    this.#dealtUntilUs = untilUs;
    const last = schedule.ended || this.#stopSent;
    const tick = this.#tokenTick++;
    const shares = this.#dealer!.shares();

    this.#liveAgents().forEach((agent, i) => {
      const hand = hands[i]!;
      // Several messages for a large hand keep each one well inside NATS's payload limit.
      for (let start = 0; start === 0 || start < hand.length; start += OFFSETS_PER_MESSAGE) {
        const end = start + OFFSETS_PER_MESSAGE;
        const message: Message = {
          type: 'tokens',
          taskId: this.#plan.taskId,
          tick,
          offsetsUs: hand.slice(start, end),
          last: last && end >= hand.length,
          untilUs,
          ratePerSec: this.#ratePerSec * shares[i]!,
        };
        this.#bus.publish(
          this.#subjects.tokens(this.#plan.taskId, agent.agentId),
          encodeMessage(message),
        );
      }
    });
    if (!last) return;
    this.#tokensEnded = true;
    this.#log.debug({ arrivals: schedule.arrivals }, 'sent the last rate tokens');
  }

  #receive(data: Uint8Array): void {
    const message = decodeOrLog(data, this.#log, {
      subject: this.#subjects.window(this.#plan.taskId),
    });
    if (!message) return;

    if (message.type === 'window') this.aggregator.add(message);
    else if (message.type === 'done') this.#agentDone(message);
    else if (message.type === 'records') this.#receiveRecords(message);
    else if (message.type === 'accepted') {
      this.#accepted.add(message.agentId);
      if (this.#accepted.size === this.#plan.agents.length) this.#allAccepted?.();
    }
  }

  /** Waits until every agent has prepared the task; throws when one cannot run it. */
  async #awaitAcceptance(accepted: Promise<void>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>(
      (resolve) => (timer = setTimeout(resolve, ACCEPT_TIMEOUT_MS)),
    );
    await Promise.race([accepted, timeout]);
    clearTimeout(timer);

    const failed = [...this.#done.values()].filter((d) => d.error);
    if (failed.length > 0) {
      this.#cleanup();
      throw new AgentTaskError(
        `agent ${failed[0]!.agentId} cannot run the task: ${failed[0]!.error}`,
      );
    }
    const missing = this.#plan.agents
      .filter((a) => !this.#accepted.has(a.agentId))
      .map((a) => a.agentId);
    if (missing.length > 0) {
      this.#cleanup();
      throw new AgentTaskError(
        `agents ${missing.join(', ')} did not accept the task within ${ACCEPT_TIMEOUT_MS} ms`,
      );
    }
  }

  #membershipEvent(event: MembershipEvent): void {
    const { agentId } = event.agent;
    if (!this.#plan.agents.some((a) => a.agentId === agentId)) return;

    if (event.type === 'load') {
      if (this.#startMs === 0) return;
      this.#cpuWatch ??= new CpuWatch(this.#startMs);
      if (!this.#cpuWatch.observe(agentId, event.cpuPercent, event.atMs)) return;
      this.#warnings.push(
        `agent ${agentId} on ${event.agent.host} used more than ${HIGH_CPU_PERCENT}% CPU for ${HIGH_CPU_WARN_MS / 1000} s or more: the load generator, not the target, may be the limit`,
      );
      this.#log.warn(
        { agentId, cpuPercent: event.cpuPercent },
        'agent CPU above 90% for 10 s: the load generator, not the target, may be the limit',
      );
      return;
    }
    if (this.#done.has(agentId) || this.#lost.has(agentId)) return;
    // Before it accepts, an agent may be busy preparing (building its HTTP pool, starting its
    // tokenizer thread); the acceptance timeout bounds that wait.
    if (!this.#accepted.has(agentId)) return;
    this.#agentLost(agentId);
  }

  /** Moves a lost agent's share to the agents still running, so the task keeps its load. */
  #agentLost(agentId: string): void {
    const lastTick = this.aggregator.agentTotals(agentId).lastTick;
    this.#lost.set(agentId, { lastTick });
    this.#warnings.push(
      `agent ${agentId} was lost (no heartbeat for 3 s); its last window was tick ${lastTick}`,
    );
    this.#log.warn({ agentId, lastTick }, 'agent lost; moving its share to the other agents');
    // An agent cut off from the coordinator alone may still send load. A stop goes to it, so
    // that its share is not sent twice.
    this.#publishStop(agentId);

    const remaining = this.#runningAgents();
    if (remaining.length === 0) {
      this.#log.error({ agentId }, 'no agent is left to run the task; ending it');
      this.#endReason = 'agents-lost';
      this.#finish?.();
      return;
    }

    const { config, agents } = this.#plan;
    if (config.optional.mode === 'rate') {
      this.#dealer = new TokenDealer(tokenWeights(this.#liveAgents()));
      return;
    }

    const index = agents.findIndex((a) => a.agentId === agentId);
    const budget = this.#assignment(agents[index]!, index).requestBudget;
    const unsent =
      budget === undefined
        ? undefined
        : Math.max(0, budget - this.aggregator.agentTotals(agentId).sent);
    const total = agents.reduce((sum, a, i) => sum + this.#assignment(a, i).concurrency, 0);
    this.#publishShares(
      closedLoopShares(
        total,
        remaining.map((a) => a.agentId),
        unsent,
      ),
    );
  }

  #liveAgents(): AgentInfo[] {
    return this.#plan.agents.filter((a) => !this.#lost.has(a.agentId));
  }

  /** Agents neither lost nor done with their part. */
  #runningAgents(): AgentInfo[] {
    return this.#liveAgents().filter((a) => !this.#done.has(a.agentId));
  }

  #agentDone(message: TaskDone): void {
    this.#done.set(message.agentId, message);
    if (message.error) this.#allAccepted?.();
    if (message.error)
      this.#log.error(
        { agentId: message.agentId, error: message.error },
        'agent could not run the task',
      );
    if (this.#liveAgents().some((a) => !this.#done.has(a.agentId))) return;
    const { optional } = this.#plan.config;
    const byCount =
      optional.requestCount !== undefined && this.aggregator.counters.sent >= optional.requestCount;
    this.#endReason ??= byCount ? 'requests' : 'duration';
    this.#finish?.();
  }

  #later(ms: number, fn: () => void): void {
    this.#timers.push(setTimeout(fn, ms));
  }

  /** Runs `fn` every `ms`; an error ends the task instead of the coordinator process. */
  #every(ms: number, fn: () => void): void {
    const timer = setInterval(() => {
      try {
        fn();
      } catch (error) {
        clearInterval(timer);
        this.#log.error({ err: error }, 'task step failed; stopping the task');
        this.#warnings.push(
          `the coordinator stopped the task after an error: ${(error as Error).message}`,
        );
        this.stop('stopped');
      }
    }, ms);
    this.#timers.push(timer);
  }

  #cleanup(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#subscription?.unsubscribe();
    this.#unsubscribeMembership?.();
  }
}
