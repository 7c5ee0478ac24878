import { availableParallelism, hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Bus, BusMessage, Subscription } from '../bus/index.ts';
import {
  decodeOrLog,
  encodeMessage,
  makeSubjects,
  type AgentHello,
  type AgentHeartbeat,
  HEARTBEAT_INTERVAL_MS,
  type TaskDone,
  type Message,
  type Subjects,
} from '../protocol/index.ts';
import { LoadProbe } from './load.ts';
import { TaskRun } from './run.ts';

/** How long an agent keeps an ended task's windows for a restarted coordinator. */
const ENDED_KEEP_MS = 10 * 60_000;

export interface AgentOptions {
  agentId: string;
  bus: Bus;
  log: Logger;
  subjectPrefix?: string;
  version: string;
}

/**
 * A load generator. It announces itself, takes task assignments addressed to it and runs them;
 * it keeps no task state that must outlive it.
 */
export class Agent {
  readonly agentId: string;
  #bus: Bus;
  #log: Logger;
  #subjects: Subjects;
  #version: string;
  #runs = new Map<string, { run: TaskRun; subscriptions: Subscription[] }>();
  /** Tasks that ended here, kept for ENDED_KEEP_MS so a restarted coordinator can fetch them. */
  #ended = new Map<string, { subscription: Subscription; timer: NodeJS.Timeout }>();
  #subscriptions: Subscription[] = [];
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #load = new LoadProbe();

  constructor(options: AgentOptions) {
    this.agentId = options.agentId;
    this.#bus = options.bus;
    this.#log = options.log.child({ component: 'agent', agentId: options.agentId });
    this.#subjects = makeSubjects(options.subjectPrefix);
    this.#version = options.version;
  }

  start(): void {
    this.#subscriptions.push(
      this.#bus.subscribe(this.#subjects.anyAssign, (m) => this.#receive(m)),
      this.#bus.subscribe(this.#subjects.agentDiscover, () => this.#hello()),
    );
    this.#hello();
    this.#heartbeatTimer = setInterval(() => this.#heartbeat(), HEARTBEAT_INTERVAL_MS);
    this.#log.debug('agent started');
  }

  /** Stops every run at once and leaves the bus; pending windows are not sent. */
  close(): void {
    for (const { run, subscriptions } of this.#runs.values()) {
      run.stop(0);
      for (const s of subscriptions) s.unsubscribe();
    }
    for (const { subscription, timer } of this.#ended.values()) {
      subscription.unsubscribe();
      clearTimeout(timer);
    }
    for (const s of this.#subscriptions) s.unsubscribe();
    clearInterval(this.#heartbeatTimer);
  }

  #heartbeat(): void {
    const heartbeat: AgentHeartbeat = {
      type: 'heartbeat',
      agentId: this.agentId,
      host: hostname(),
      cores: availableParallelism(),
      ...this.#load.read(),
      version: this.#version,
      tasks: [...this.#runs.keys()],
    };
    this.#bus.publish(this.#subjects.agentHeartbeat(this.agentId), encodeMessage(heartbeat));
  }

  #hello(): void {
    const hello: AgentHello = {
      type: 'hello',
      agentId: this.agentId,
      host: hostname(),
      pid: process.pid,
      cores: availableParallelism(),
      version: this.#version,
    };
    this.#bus.publish(this.#subjects.agentHello, encodeMessage(hello));
  }

  #receive(busMessage: BusMessage): void {
    const message = decodeOrLog(busMessage.data, this.#log, { subject: busMessage.subject });
    if (!message) return;

    if (message.type === 'assign' && message.agentId === this.agentId) void this.#assign(message);
    else if (message.type === 'control') {
      const run = this.#runs.get(message.taskId)?.run;
      if (message.action === 'start') run?.start(message.startInMs);
      else if (message.action === 'stop') {
        if (message.agentId === undefined || message.agentId === this.agentId)
          run?.stop(message.drainTimeoutMs);
      } else if (message.action === 'resend') run?.resendWindows();
      else if (message.agentId === this.agentId) run?.setShare(message);
    } else if (message.type === 'tokens') this.#runs.get(message.taskId)?.run.addTokens(message);
  }

  async #assign(message: Extract<Message, { type: 'assign' }>): Promise<void> {
    const { taskId } = message;
    if (this.#runs.has(taskId)) {
      this.#log.warn({ taskId }, 'ignored a second assignment of a task this agent is running');
      return;
    }

    const log = this.#log.child({ taskId });
    const run = new TaskRun(message, this.#bus, this.#subjects, log, () => this.#finished(taskId));
    const subscriptions = [
      this.#bus.subscribe(this.#subjects.control(taskId), (m) => this.#receive(m)),
      this.#bus.subscribe(this.#subjects.tokens(taskId, this.agentId), (m) => this.#receive(m)),
    ];
    this.#runs.set(taskId, { run, subscriptions });

    try {
      await run.prepare();
    } catch (error) {
      log.error({ err: error }, 'cannot run the task on this agent');
      const done: TaskDone = {
        type: 'done',
        taskId,
        agentId: this.agentId,
        lastTick: -1,
        incomplete: 0,
        error: (error as Error).message,
      };
      this.#bus.publish(this.#subjects.window(taskId), encodeMessage(done));
      this.#finished(taskId);
      return;
    }

    log.info(
      { concurrency: message.concurrency, openLoop: run.openLoop },
      'task accepted on this agent',
    );
    // Preparing may have kept this thread busy past a heartbeat, so one goes out at once.
    this.#heartbeat();
    this.#bus.publish(
      this.#subjects.window(taskId),
      encodeMessage({ type: 'accepted', taskId, agentId: this.agentId }),
    );
  }

  #finished(taskId: string): void {
    const entry = this.#runs.get(taskId);
    if (!entry) return;
    for (const s of entry.subscriptions) s.unsubscribe();
    this.#runs.delete(taskId);

    // A coordinator that died before it wrote the summary comes back and requests every window
    // again, so the finished run keeps them, and its end report, for a while.
    const subscription = this.#bus.subscribe(this.#subjects.control(taskId), (m) => {
      const message = decodeOrLog(m.data, this.#log, { subject: m.subject });
      if (message?.type === 'control' && message.action === 'resend') entry.run.resendWindows();
    });
    const timer = setTimeout(() => {
      subscription.unsubscribe();
      this.#ended.delete(taskId);
    }, ENDED_KEEP_MS);
    timer.unref();
    this.#ended.set(taskId, { subscription, timer });
  }
}
