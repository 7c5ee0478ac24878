import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  emptyLlmCounts,
  redactHeaders,
  type LatencySummary,
  type TaskConfig,
  type WindowCounters,
} from '../protocol/index.ts';
import type { Aggregator, WindowRow } from './aggregator.ts';
import type { AppliedChange, EndReason, TaskOutcome } from './task.ts';

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
  /** Present for LLM tasks; the names follow vLLM's benchmark where they mean the same. */
  llm?: LlmSummary;
  /** Per-agent breakdown; a lost agent's counts end at its last window. */
  agents: {
    agentId: string;
    host: string;
    /** Free capacity when the task started, from 0 to 1; it sets the agent's share of rate tokens. */
    freeCapacity?: number;
    sent: number;
    completed: number;
    /** Completed requests that failed, and their count by failure kind. */
    failed: number;
    errors: Record<string, number>;
    incomplete: number;
    reportedEnd: boolean;
    lost: boolean;
    lastTick: number;
  }[];
  warnings: string[];
  /** Load changes made while the task ran. `config` contains the values in force at the end. */
  changes?: AppliedChange[];
  windows: { late: number; duplicate: number };
  series: WindowRow[];
}

export interface LlmSummary {
  successfulRequests: number;
  failedRequests: number;
  inputTokens: number;
  outputTokens: number;
  /** Requests whose output tokens came from the server's usage, and from the tokenizer. */
  outputTokensCountedBy: { usage: number; tokenizer: number };
  requestThroughput: number;
  outputTokenThroughput: number;
  totalTokenThroughput: number;
  /** Successful requests whose TTFT and E2E start at the intended send time. */
  ttftUs: LatencySummary;
  /** (E2E - TTFT) / (output tokens - 1), for requests with more than one output token. */
  tpotUs: LatencySummary;
  /** One value per gap between consecutive chunks with text. */
  itlUs: LatencySummary;
  e2eUs: LatencySummary;
  /** Present when SLOs were given: requests meeting all of them, and their rate. */
  goodput?: {
    slo: { ttftMs?: number; tpotMs?: number; e2eMs?: number };
    requests: number;
    requestsPerSec: number;
  };
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
      rtUs: aggregator.total('rtUs'),
      serviceUs: aggregator.total('serviceUs'),
      waitUs: aggregator.total('waitUs'),
    },
    ...(config.llm ? { llm: summarizeLlm(config, aggregator, durationSec) } : {}),
    agents: outcome.agents.map((a) => ({
      agentId: a.agentId,
      host: a.host,
      freeCapacity: a.freeCapacity,
      sent: a.sent,
      completed: a.completed,
      failed: a.failed,
      errors: a.errors,
      incomplete: a.incomplete,
      reportedEnd: a.done,
      lost: a.lost,
      lastTick: a.lastTick,
    })),
    warnings: outcome.warnings,
    ...(outcome.changes.length > 0 ? { changes: outcome.changes } : {}),
    windows: { late: aggregator.lateWindows, duplicate: aggregator.duplicateWindows },
    series: aggregator.rows(),
  };
}

/** Writes summary.json into `dir`, creating it; returns the file's path. */
/** The results folder cannot be created or written. */
export class ResultsDirError extends Error {
  override readonly name = 'ResultsDirError';
}

/**
 * Creates the results folder before the load, so that a bad --out fails before anything is
 * measured. Removes a requests.jsonl of an earlier run that this one will not rewrite.
 */
export async function prepareResultsDir(
  dir: string,
  options: { saveRequests: boolean },
): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    if (!options.saveRequests) await rm(join(dir, 'requests.jsonl'), { force: true });
  } catch (error) {
    throw new ResultsDirError(
      `cannot use ${dir} as the results folder: ${(error as Error).message}. ` +
        'Fix: pass --out with a folder that you can write to (it is created when missing)',
      { cause: error },
    );
  }
}

export async function writeResults(dir: string, summary: TaskSummary): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'summary.json');
  await writeFile(path, `${JSON.stringify(summary, null, 2)}\n`);
  return path;
}

function summarizeLlm(config: TaskConfig, aggregator: Aggregator, durationSec: number): LlmSummary {
  const llm = config.llm!;
  const counts = aggregator.llm ?? emptyLlmCounts();
  const successful = counts.usageCounted + counts.tokenizerCounted;
  const slo = { ttftMs: llm.sloTtftMs, tpotMs: llm.sloTpotMs, e2eMs: llm.sloE2eMs };
  const hasSlo = Object.values(slo).some((v) => v !== undefined);

  return {
    successfulRequests: successful,
    failedRequests: aggregator.counters.failed,
    inputTokens: counts.inputTokens,
    outputTokens: counts.outputTokens,
    outputTokensCountedBy: { usage: counts.usageCounted, tokenizer: counts.tokenizerCounted },
    requestThroughput: round(successful / durationSec, 3),
    outputTokenThroughput: round(counts.outputTokens / durationSec, 2),
    totalTokenThroughput: round((counts.inputTokens + counts.outputTokens) / durationSec, 2),
    ttftUs: aggregator.total('ttftUs'),
    tpotUs: aggregator.total('tpotUs'),
    itlUs: aggregator.total('itlUs'),
    e2eUs: aggregator.total('e2eUs'),
    ...(hasSlo
      ? {
          goodput: {
            slo,
            requests: counts.good,
            requestsPerSec: round(counts.good / durationSec, 3),
          },
        }
      : {}),
  };
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
