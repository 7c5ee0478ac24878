import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { TaskConfig } from '../protocol/index.ts';
import type { AgentInfo } from './membership.ts';
import type { AppliedChange } from './task.ts';
import type { TaskRecord } from './service.ts';

/** Returns the KV bucket of a subject prefix's task records: lm-tasks for the default prefix lm. */
export function taskBucket(prefix = 'lm'): string {
  return `${prefix.replace(/[^A-Za-z0-9_-]/g, '-')}-tasks`;
}

/** The plan of a running task, from which a restarted coordinator takes it over. */
export interface TaskPlanRecord {
  taskId: string;
  /** The config as run, credential headers included: the agents need them to go on. */
  config: TaskConfig;
  agents: AgentInfo[];
  /** Wall-clock time of the task start, in ms since the epoch. */
  startedAtEpochMs: number;
  /** Whether the agents send per-request records, which a resumed task forwards too. */
  saveRequests?: boolean;
  /** Load changes made while the task ran, for the summary of a resumed task. */
  changes?: AppliedChange[];
}

/** Task records that survive the coordinator. */
export interface TaskStore {
  put(record: TaskRecord): Promise<void>;
  putPlan(plan: TaskPlanRecord): Promise<void>;
  list(): Promise<TaskRecord[]>;
  plan(taskId: string): Promise<TaskPlanRecord | undefined>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Task records in the JetStream KV bucket `taskBucket(prefix)`, lm-tasks by default: `TASK-ID`
 * contains the record that `nats kv get lm-tasks TASK-ID` shows, and `TASK-ID.plan` what a
 * restarted coordinator needs.
 * NOTE: the plan keeps credential headers, so access to the bucket must be as restricted as
 * access to the task configs themselves.
 */
export class KvTaskStore implements TaskStore {
  #kv: KV;

  private constructor(kv: KV) {
    this.#kv = kv;
  }

  static async open(connection: NatsConnection, prefix?: string): Promise<KvTaskStore> {
    const kv = await new Kvm(connection).create(taskBucket(prefix), { history: 1 });
    return new KvTaskStore(kv);
  }

  async put(record: TaskRecord): Promise<void> {
    await this.#kv.put(record.taskId, encoder.encode(JSON.stringify(record)));
  }

  async putPlan(plan: TaskPlanRecord): Promise<void> {
    await this.#kv.put(`${plan.taskId}.plan`, encoder.encode(JSON.stringify(plan)));
  }

  async list(): Promise<TaskRecord[]> {
    const records: TaskRecord[] = [];
    for await (const key of await this.#kv.keys()) {
      if (key.endsWith('.plan')) continue;
      const entry = await this.#kv.get(key);
      if (entry && entry.operation === 'PUT')
        records.push(JSON.parse(decoder.decode(entry.value)) as TaskRecord);
    }
    return records;
  }

  async plan(taskId: string): Promise<TaskPlanRecord | undefined> {
    const entry = await this.#kv.get(`${taskId}.plan`);
    return entry && entry.operation === 'PUT'
      ? (JSON.parse(decoder.decode(entry.value)) as TaskPlanRecord)
      : undefined;
  }
}
