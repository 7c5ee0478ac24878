import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  redactHeaders,
  summarizeLatency,
  type LatencySummary,
  type TaskConfig,
  type WindowCounters,
} from '../protocol/index.ts';
import type { WindowRow } from './aggregator.ts';
import type { EndReason, TaskOutcome } from './task.ts';

/** The results of one task as written to summary.json. Latencies are in microseconds. */
export interface TaskSummary {
  taskId: string;
  name: string;
  /** The config as run, with credential headers redacted. */
  config: TaskConfig;
  startedAt: string;
  endedAt: string;
  durationSec: number;
  endReason: EndReason;
  totals: WindowCounters & {
    /** Requests cut off by the drain at the end, not counted as completed or failed. */
    incomplete: number;
    requestsPerSec: number;
    okPerSec: number;
    errorRate: number;
  };
  latency: {
    /** From the intended send time to the last response byte. */
    rtUs: LatencySummary;
    /** From the actual send time to the last response byte. */
    serviceUs: LatencySummary;
    /** From the intended to the actual send time: time spent waiting on the client. */
    waitUs: LatencySummary;
  };
  agents: { agentId: string; host: string; incomplete: number; reportedEnd: boolean }[];
  windows: { late: number; duplicate: number };
  series: WindowRow[];
}

export function summarize(taskId: string, config: TaskConfig, outcome: TaskOutcome): TaskSummary {
  const { aggregator } = outcome;
  const counters = aggregator.counters;
  const durationSec = Math.max(outcome.elapsedMs / 1000, 0.001);
  const incomplete = outcome.agents.reduce((sum, a) => sum + a.incomplete, 0);

  return {
    taskId,
    name: config.name,
    config: { ...config, http: { ...config.http, headers: redactHeaders(config.http.headers) } },
    startedAt: outcome.startedAt.toISOString(),
    endedAt: outcome.endedAt.toISOString(),
    durationSec: round(durationSec, 3),
    endReason: outcome.endReason,
    totals: {
      ...counters,
      incomplete,
      requestsPerSec: round(counters.completed / durationSec, 2),
      okPerSec: round(counters.ok / durationSec, 2),
      errorRate: counters.completed === 0 ? 0 : round(counters.failed / counters.completed, 6),
    },
    latency: {
      rtUs: summarizeLatency(aggregator.totals.rtUs),
      serviceUs: summarizeLatency(aggregator.totals.serviceUs),
      waitUs: summarizeLatency(aggregator.totals.waitUs),
    },
    agents: outcome.agents.map((a) => ({
      agentId: a.agentId,
      host: a.host,
      incomplete: a.incomplete,
      reportedEnd: a.done,
    })),
    windows: { late: aggregator.lateWindows, duplicate: aggregator.duplicateWindows },
    series: aggregator.rows(),
  };
}

/** Writes summary.json into `dir`, creating it; returns the file's path. */
export async function writeResults(dir: string, summary: TaskSummary): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'summary.json');
  await writeFile(path, `${JSON.stringify(summary, null, 2)}\n`);
  return path;
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
