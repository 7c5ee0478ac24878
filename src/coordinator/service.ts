import type { Logger } from 'pino';
import type { Bus, BusMessage, Subscription } from '../bus/index.ts';
import {
  ConfigError,
  parseTaskConfig,
  redactHeaders,
  type RequestRecord,
  type Subjects,
} from '../protocol/index.ts';
import { TaskStoppedError, type Coordinator } from './coordinator.ts';
import type { TaskSummary } from './results.ts';
import type { TaskPlanRecord, TaskStore } from './store.ts';
import type { LoadChange, TaskProgress } from './task.ts';

/** Statuses of a task, as the task commands list them. */
export type TaskStatus = 'Creating' | 'Running' | 'Stopping' | 'Stopped' | 'CreateFailed' | 'Error';

/** Reply of lm.ctl.summary: the task, and its summary once it ended on this coordinator. */
export interface SummaryReply {
  record: TaskRecord;
  summary?: TaskSummary;
}

/** A task as `list` and `describe` return it. */
export interface TaskRecord {
  taskId: string;
  name: string;
  status: TaskStatus;
  message: string;
  desiredAgents: number;
  createdAt: string;
  updatedAt: string;
}

/** Body of an lm.ctl.run request: the raw task config, checked again here. */
export interface RunRequest {
  taskId: string;
  config: unknown;
  /** Folder that relative data paths start from, on the coordinator's host. */
  baseDir: string;
  preflight: boolean;
  /** Whether to forward per-request records as `records` events. */
  saveRequests?: boolean;
}

/** Body of an lm.ctl.update request: the task, and its new load. */
export interface UpdateRequest {
  taskId?: string;
  name?: string;
  change: LoadChange;
}

/** Events on lm.task.<id>.events while a task created by lm.ctl.run runs, as JSON. */
export type TaskEvent =
  | {
      type: 'progress';
      elapsedMs: number;
      durationMs: number;
      sent: number;
      ok: number;
      failed: number;
      lastSecond?: { completed: number; p50Us: number; p99Us: number };
    }
  | { type: 'records'; records: RequestRecord[] }
  | { type: 'waiting'; joined: number; needed: number; waitMs: number }
  | { type: 'summary'; summary: TaskSummary }
  | { type: 'error'; message: string };

/** How many summaries of ended tasks are kept for clients that missed the summary event. */
const KEPT_SUMMARIES = 20;

/** Words for each end reason, in an ended task's status message. */
const END_REASON_TEXT: Record<TaskSummary['endReason'], string> = {
  duration: 'its duration passed',
  requests: 'every request was sent',
  stopped: 'stopped by request',
  'agents-lost': 'every agent was lost',
};

/** How long a task waits for its agents to join before it fails. */
const AGENT_WAIT_MS = 30_000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Serves the task commands as request-reply JSON on lm.ctl.<verb>, so any NATS client can drive
 * a coordinator: run (create and run to the end), list, describe and stop.
 */
export class CoordinatorService {
  #tasks = new Map<string, TaskRecord>();
  /** Summaries of the tasks that ended here, for a client that missed the summary event. */
  #summaries = new Map<string, TaskSummary>();
  #subscriptions: Subscription[] = [];

  constructor(
    private readonly bus: Bus,
    private readonly subjects: Subjects,
    private readonly coordinator: Coordinator,
    private readonly log: Logger,
    private readonly store?: TaskStore,
  ) {}

  /** Serves the commands, and takes over the tasks that a previous coordinator left running. */
  async start(): Promise<void> {
    if (this.store) {
      for (const record of await this.store.list()) {
        this.#tasks.set(record.taskId, record);
        if (record.status === 'Running' || record.status === 'Stopping') await this.#resume(record);
        if (record.status === 'Creating') this.#failUnstarted(record);
      }
    }
    const serve = (verb: string, handler: (body: unknown) => Promise<unknown> | unknown): void => {
      this.#subscriptions.push(
        this.bus.subscribe(this.subjects.ctl(verb), (m) => void this.#answer(m, verb, handler), {
          queue: 'coordinator',
        }),
      );
    };
    serve('run', (body) => this.#run(body as RunRequest));
    serve('create', (body) => this.#run(body as RunRequest));
    serve('list', () => [...this.#tasks.values()]);
    serve('describe', (body) => this.#find(body));
    serve('stop', (body) => this.#stop(body));
    serve('update', (body) => this.#updateLoad(body as UpdateRequest));
    serve('summary', (body) => {
      const record = this.#find(body);
      return { record, summary: this.#summaries.get(record.taskId) };
    });
  }

  close(): void {
    for (const subscription of this.#subscriptions) subscription.unsubscribe();
  }

  async #answer(
    message: BusMessage,
    verb: string,
    handler: (body: unknown) => Promise<unknown> | unknown,
  ): Promise<void> {
    let reply: unknown;
    try {
      const body: unknown = message.data.length > 0 ? JSON.parse(decoder.decode(message.data)) : {};
      reply = { ok: true, result: await handler(body) };
    } catch (error) {
      // A rejected command comes from the caller (a wrong name, a task not running), so the
      // message is enough, without the stack.
      this.log.warn({ verb, error: (error as Error).message }, 'task command failed');
      reply = { ok: false, error: (error as Error).message };
    }
    if (message.reply) this.bus.publish(message.reply, encoder.encode(JSON.stringify(reply)));
  }

  /** Checks the config, replies at once, and runs the task, publishing events as it goes. */
  #run(request: RunRequest): TaskRecord {
    if ([...this.#tasks.values()].some((t) => t.status === 'Running' || t.status === 'Creating')) {
      throw new Error(
        'this coordinator is already running a task. Fix: wait for it to end, or stop it',
      );
    }
    let config;
    try {
      config = parseTaskConfig(request.config);
    } catch (error) {
      if (error instanceof ConfigError) throw new Error(error.message, { cause: error });
      throw error;
    }

    const now = new Date().toISOString();
    const record: TaskRecord = {
      taskId: request.taskId,
      name: config.name,
      status: 'Creating',
      message: 'loading data and waiting for agents',
      desiredAgents: config.optional.agentCount,
      createdAt: now,
      updatedAt: now,
    };
    this.#tasks.set(record.taskId, record);

    this.#persist(record);
    const publish = this.#publisher(record.taskId);
    const run = this.coordinator.runTask(config, {
      taskId: record.taskId,
      baseDir: request.baseDir,
      preflight: request.preflight,
      agentWaitMs: AGENT_WAIT_MS,
      onStart: () => this.#update(record, 'Running', 'Benchmark task is running'),
      onPlan: (plan) => this.#storePlan(plan),
      onProgress: (p) => publish(progressEvent(p)),
      onRecords: request.saveRequests ? (records) => publishRecords(publish, records) : undefined,
      onWaitingForAgents: (joined, needed) =>
        publish({ type: 'waiting', joined, needed, waitMs: AGENT_WAIT_MS }),
    });
    this.#follow(record, run, publish);
    return {
      ...record,
      message: `${record.message}; config headers ${JSON.stringify(redactHeaders(config.http.headers))}`,
    };
  }

  /**
   * Finds a task by id, or by name. Tasks share a name when they target the same service, so a
   * name that several carry picks the one still active, or fails with their ids.
   */
  #find(body: unknown): TaskRecord {
    const key =
      (body as { name?: string; taskId?: string }).taskId ?? (body as { name?: string }).name;
    const tasks = [...this.#tasks.values()];
    const byId = tasks.find((t) => t.taskId === key);
    if (byId) return byId;

    const named = tasks.filter((t) => t.name === key);
    if (named.length === 0)
      throw new Error(`task ${JSON.stringify(key)} not found. Fix: run loadmesh ls for the tasks`);
    if (named.length === 1) return named[0]!;

    const active = named.filter((t) => ['Creating', 'Running', 'Stopping'].includes(t.status));
    if (active.length === 1) return active[0]!;
    throw new Error(
      `${named.length} tasks are named ${JSON.stringify(key)}: ${named.map((t) => `${t.taskId} (${t.status})`).join(', ')}. Fix: give the task id`,
    );
  }

  #updateLoad(request: UpdateRequest): TaskRecord {
    const record = this.#find(request);
    if (record.status !== 'Running')
      throw new Error(`task ${record.name} is ${record.status}, not Running`);
    const change = checkLoadChange(request.change);
    const config = this.coordinator.updateTask(change);

    const { concurrency, qps } = config.optional;
    const load =
      change.qps !== undefined ? `rate ${qps} req/s` : `concurrency ${concurrency} per agent`;
    this.#update(record, 'Running', `Benchmark task is running; load changed to ${load}`);
    return record;
  }

  #stop(body: unknown): TaskRecord {
    const record = this.#find(body);
    if (record.status !== 'Running' && record.status !== 'Creating')
      throw new Error(`task ${record.name} is ${record.status}, not Running or Creating`);
    if (record.status === 'Running') this.#update(record, 'Stopping', 'Benchmark task is stopping');
    this.coordinator.stopTask();
    return record;
  }

  /**
   * Ends a task that a previous coordinator left before it started: its data and agents were
   * held by that process, and a task left in Creating would block every later run.
   */
  #failUnstarted(record: TaskRecord): void {
    const message = 'the coordinator restarted before the task started. Fix: run the task again';
    this.#update(record, 'CreateFailed', message);
    this.log.warn({ taskId: record.taskId }, 'failed a task that had not started');
    this.#publisher(record.taskId)({ type: 'error', message });
  }

  async #resume(record: TaskRecord): Promise<void> {
    const plan = await this.store!.plan(record.taskId);
    if (!plan) {
      this.#update(
        record,
        'Error',
        'the coordinator restarted and found no plan to resume the task',
      );
      return;
    }
    const publish = this.#publisher(record.taskId);
    this.#update(
      record,
      'Running',
      'Benchmark task is running (resumed after a coordinator restart)',
    );
    const run = this.coordinator.resumeTask(plan, {
      onProgress: (p) => publish(progressEvent(p)),
      onRecords: plan.saveRequests ? (records) => publishRecords(publish, records) : undefined,
      onPlan: (changed) => this.#storePlan(changed),
    });
    this.#follow(record, run, publish);
  }

  /** Publishes the task's summary or error when its run ends, and records its final status. */
  #follow(
    record: TaskRecord,
    run: Promise<TaskSummary>,
    publish: (event: TaskEvent) => void,
  ): void {
    run
      .then((summary) => {
        this.#summaries.set(record.taskId, summary);
        for (const taskId of this.#summaries.keys()) {
          if (this.#summaries.size <= KEPT_SUMMARIES) break;
          this.#summaries.delete(taskId);
        }
        this.#update(
          record,
          'Stopped',
          `Benchmark task ended: ${END_REASON_TEXT[summary.endReason]}`,
        );
        publish({ type: 'summary', summary });
      })
      .catch((error: unknown) => {
        const { message } = error as Error;
        publish({ type: 'error', message });
        if (error instanceof TaskStoppedError) {
          this.#update(record, 'Stopped', message);
          this.log.info({ taskId: record.taskId }, message);
          return;
        }
        const status = record.status === 'Creating' ? 'CreateFailed' : 'Error';
        this.#update(record, status, message);
        this.log.error({ taskId: record.taskId, err: error }, 'task failed');
      });
  }

  #publisher(taskId: string): (event: TaskEvent) => void {
    const events = `${this.subjects.window(taskId).replace(/\.window$/, '')}.events`;
    return (event) => this.bus.publish(events, encoder.encode(JSON.stringify(event)));
  }

  #update(record: TaskRecord, status: TaskStatus, message: string): void {
    record.status = status;
    record.message = message;
    record.updatedAt = new Date().toISOString();
    this.#persist(record);
  }

  #persist(record: TaskRecord): void {
    this.store?.put(record).catch((error: unknown) => {
      this.log.error({ err: error, taskId: record.taskId }, 'storing the task record failed');
    });
  }

  #storePlan(plan: TaskPlanRecord): void {
    this.store?.putPlan(plan).catch((error: unknown) => {
      this.log.error({ err: error, taskId: plan.taskId }, 'storing the task plan failed');
    });
  }
}

/** Checks the fields of a load change from a client: positive numbers, and no other key. */
function checkLoadChange(change: unknown): LoadChange {
  if (typeof change !== 'object' || change === null)
    throw new Error('change is missing. Fix: give optional.concurrency or optional.qps');
  const checked: LoadChange = {};
  for (const [key, value] of Object.entries(change)) {
    if (key !== 'concurrency' && key !== 'qps')
      throw new Error(
        `optional.${key} cannot change while a task runs. Fix: change optional.concurrency or optional.qps, or stop the task and run it again`,
      );
    const valid =
      typeof value === 'number' && value > 0 && (key === 'qps' || Number.isInteger(value));
    if (!valid)
      throw new Error(
        `optional.${key} must be a positive ${key === 'qps' ? 'number' : 'integer'}, got ${JSON.stringify(value)}`,
      );
    checked[key] = value as number;
  }
  if (Object.keys(checked).length === 0)
    throw new Error('the change is empty. Fix: give optional.concurrency or optional.qps');
  return checked;
}

/** Records per event, so that an event stays well below NATS's default 1 MB payload limit. */
const RECORDS_PER_EVENT = 1_000;

function publishRecords(publish: (event: TaskEvent) => void, records: RequestRecord[]): void {
  for (let start = 0; start < records.length; start += RECORDS_PER_EVENT)
    publish({ type: 'records', records: records.slice(start, start + RECORDS_PER_EVENT) });
}

function progressEvent(p: TaskProgress): TaskEvent {
  const row = p.row();
  return {
    type: 'progress',
    elapsedMs: p.elapsedMs,
    durationMs: p.durationMs,
    sent: p.aggregator.counters.sent,
    ok: p.aggregator.counters.ok,
    failed: p.aggregator.counters.failed,
    ...(row
      ? {
          lastSecond: {
            completed: row.counters.completed,
            p50Us: row.latency.rtUs?.p50Us ?? 0,
            p99Us: row.latency.rtUs?.p99Us ?? 0,
          },
        }
      : {}),
  };
}
