import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { TaskConfig } from '../protocol/index.ts';
import type { AgentInfo } from './membership.ts';
import type { TaskRecord } from './service.ts';

export const TASK_BUCKET = 'lm-tasks';

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
 * Task records in the JetStream KV bucket lm-tasks: `TASK-ID` contains the record that
 * `nats kv get lm-tasks TASK-ID` shows, and `TASK-ID.plan` what a restarted coordinator needs.
 * NOTE: the plan keeps credential headers, so access to the bucket must be as restricted as
 * access to the task configs themselves.
 */
export class KvTaskStore implements TaskStore {
  #kv: KV;

  private constructor(kv: KV) {
    this.#kv = kv;
  }

  static async open(connection: NatsConnection): Promise<KvTaskStore> {
    return new KvTaskStore(await new Kvm(connection).create(TASK_BUCKET, { history: 1 }));
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
