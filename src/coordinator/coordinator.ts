import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Bus } from '../bus/index.ts';
import {
  makeSubjects,
  type RequestEntry,
  type RequestRecord,
  type Subjects,
  type TaskConfig,
} from '../protocol/index.ts';
import { loadEntries } from './data.ts';
import { buildLlmRequests } from './datasets/index.ts';
import { Membership } from './membership.ts';
import { preflight, type PreflightResult } from './preflight.ts';
import { summarize, type TaskSummary } from './results.ts';
import type { TaskPlanRecord } from './store.ts';
import { TaskRunner, type LoadChange, type TaskProgress } from './task.ts';

export interface CoordinatorOptions {
  bus: Bus;
  log: Logger;
  subjectPrefix?: string;
}

export interface RunTaskOptions {
  /** Folder that relative data paths start from. */
  baseDir: string;
  preflight: boolean;
  /** Milliseconds to wait for enough agents to join. */
  agentWaitMs: number;
  onPreflight?: (result: PreflightResult) => void;
  /** Called once when fewer agents than the task needs have joined, before the wait. */
  onWaitingForAgents?: (joined: number, needed: number) => void;
  onStart?: (info: { taskId: string; agents: number; entries: number }) => void;
  onProgress?: (progress: TaskProgress) => void;
  /** Receives per-request records as agents send them; without it agents send none. */
  onRecords?: (records: RequestRecord[]) => void;
  /**
   * Called when the agents start and after each load change, with what a restarted coordinator
   * needs to take over.
   */
  onPlan?: (plan: TaskPlanRecord) => void;
  /** Id of the task; a new one is made from the task's name when absent. */
  taskId?: string;
}

/** Returns a task id: the task's name made safe for subjects and paths, and a random suffix. */
export function newTaskId(name: string): string {
  return `${name.replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, 40)}-${randomUUID().slice(0, 8)}`;
}

/** A file named in the config that cannot be read, such as http.caFile. */
export class ConfigFileError extends Error {
  override readonly name = 'ConfigFileError';
  readonly code = 'ERR_CONFIG_FILE';
}

/** A task stopped while it loaded data or waited for agents, before any load. */
export class TaskStoppedError extends Error {
  override readonly name = 'TaskStoppedError';
  readonly code = 'ERR_TASK_STOPPED';
}

/** Keeps agent membership and runs tasks on the agents over the bus. */
export class Coordinator {
  readonly membership: Membership;
  #bus: Bus;
  #log: Logger;
  #subjects: Subjects;
  #running: TaskRunner | undefined;
  /** Aborts the task being prepared, before its runner exists. */
  #preparing: AbortController | undefined;

  constructor(options: CoordinatorOptions) {
    this.#bus = options.bus;
    this.#log = options.log.child({ component: 'coordinator' });
    this.#subjects = makeSubjects(options.subjectPrefix);
    this.membership = new Membership(this.#bus, this.#subjects, this.#log);
  }

  start(): void {
    this.membership.start();
  }

  /** Loads the data, checks the target with one request, runs the task and returns its summary. */
  async runTask(taskConfig: TaskConfig, options: RunTaskOptions): Promise<TaskSummary> {
    const taskId = options.taskId ?? newTaskId(taskConfig.name);
    const preparing = new AbortController();
    this.#preparing = preparing;
    const { config, entries, caPem, agents } = await this.#prepare(
      taskConfig,
      options,
      preparing.signal,
    ).finally(() => {
      if (this.#preparing === preparing) this.#preparing = undefined;
    });
    options.onStart?.({ taskId, agents: agents.length, entries: entries.length });
    this.#log.info({ taskId, agents: agents.length, mode: config.optional.mode }, 'task starting');

    const runner = new TaskRunner(this.#bus, this.#subjects, this.#log, {
      taskId,
      config,
      entries,
      caPem,
      agents,
      membership: this.membership,
      onRecords: options.onRecords,
      onPlan: (startedAtEpochMs, current, changes) =>
        options.onPlan?.({
          taskId,
          config: current,
          changes,
          agents,
          startedAtEpochMs,
          saveRequests: options.onRecords !== undefined,
        }),
    });
    return this.#runToEnd(runner, taskId, config, options);
  }

  /** Takes over a task that agents are still running, after this coordinator restarted. */
  async resumeTask(
    plan: TaskPlanRecord,
    options: Pick<RunTaskOptions, 'onProgress' | 'onRecords' | 'onPlan'>,
  ): Promise<TaskSummary> {
    const { taskId, config, agents } = plan;
    const runner = new TaskRunner(this.#bus, this.#subjects, this.#log, {
      taskId,
      config,
      entries: [],
      agents,
      membership: this.membership,
      onRecords: options.onRecords,
      onPlan: (startedAtEpochMs, current, changes) =>
        options.onPlan?.({ ...plan, config: current, startedAtEpochMs, changes }),
      resumeFromEpochMs: plan.startedAtEpochMs,
      changes: plan.changes,
    });
    return this.#runToEnd(runner, taskId, config, options);
  }

  async #runToEnd(
    runner: TaskRunner,
    taskId: string,
    config: TaskConfig,
    options: Pick<RunTaskOptions, 'onProgress'>,
  ): Promise<TaskSummary> {
    this.#running = runner;
    try {
      const outcome = await runner.run(options.onProgress);
      this.#log.info({ taskId, endReason: outcome.endReason }, 'task ended');
      return summarize(taskId, runner.config, outcome);
    } finally {
      this.#running = undefined;
    }
  }

  /** Loads the data and the CA file, sends the preflight request and waits for the agents. */
  async #prepare(taskConfig: TaskConfig, options: RunTaskOptions, signal: AbortSignal) {
    const { config, entries } = await this.#prepareRequests(taskConfig, options.baseDir);
    const caPem = await readCaFile(config, options.baseDir);
    signal.throwIfAborted();

    if (options.preflight) options.onPreflight?.(await preflight(config, entries[0], caPem));
    signal.throwIfAborted();

    const needed = config.optional.agentCount;
    const joined = this.membership.list().length;
    if (joined < needed) options.onWaitingForAgents?.(joined, needed);
    const agents = await this.membership.waitFor(needed, options.agentWaitMs, signal);
    return { config, entries, caPem, agents };
  }

  /** Builds the request entries: LLM requests from the dataset, or bodies from `data`. */
  async #prepareRequests(
    config: TaskConfig,
    baseDir: string,
  ): Promise<{ config: TaskConfig; entries: RequestEntry[] }> {
    if (config.llm) {
      const requests = await buildLlmRequests(config, baseDir);
      this.#log.info(
        { prompts: requests.entries.length, tokenizer: requests.tokenizer.files.tokenizerPath },
        'LLM dataset loaded',
      );
      return requests;
    }
    const entries = await loadEntries(config.data, {
      downloadTimeoutMs: config.http.timeout,
      baseDir,
    });
    return { config, entries };
  }

  /** Changes the load of the running task; throws when no task runs or the change does not fit. */
  updateTask(change: LoadChange): TaskConfig {
    if (!this.#running) throw new Error('no task is running on this coordinator');
    this.#running.update(change);
    return this.#running.config;
  }

  /**
   * Stops the running task: its agents drain and the run returns its summary. A task still
   * loading data or waiting for agents ends with a TaskStoppedError.
   */
  stopTask(): void {
    if (this.#running) return this.#running.stop('stopped');
    this.#preparing?.abort(new TaskStoppedError('the task was stopped before it started'));
  }

  close(): void {
    this.membership.stop();
  }
}

async function readCaFile(config: TaskConfig, baseDir: string): Promise<string | undefined> {
  const { caFile } = config.http;
  if (caFile === undefined) return undefined;
  const path = resolve(baseDir, caFile);
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigFileError(
      `http.caFile: cannot read ${path}: ${(error as Error).message}. Fix: give the path of a PEM file with the CA certificate`,
      { cause: error },
    );
  }
}
