import type { TaskConfig } from './config/types.ts';

/**
 * Messages between coordinator and agents. Every message is a discriminated union member on
 * `type`; the codec adds and checks the protocol version.
 */

/** An agent announces itself on start and when asked. */
export interface AgentHello {
  type: 'hello';
  agentId: string;
  host: string;
  pid: number;
  cores: number;
  version: string;
}

/** Agents send a heartbeat this often. */
export const HEARTBEAT_INTERVAL_MS = 1_000;

/** The coordinator marks an agent lost after this many heartbeat intervals without one. */
export const LOST_AFTER_HEARTBEATS = 3;

/** An agent's liveness and load, every second; three missed in a row mark it lost. */
export interface AgentHeartbeat {
  type: 'heartbeat';
  agentId: string;
  host: string;
  cores: number;
  /**
   * The agent's CPU use over the last interval, in percent of one core: its process's CPU time,
   * or for an agent on a worker thread, how busy its event loop was.
   */
  cpuPercent: number;
  /** Share of one core the agent can still use, from 0 to 1; rate tokens are dealt by it. */
  freeCapacity: number;
  version: string;
  /** Tasks the agent is running. */
  tasks: string[];
}

/** A request body the agent sends, with the headers that go with it. */
export interface RequestEntry {
  body?: Uint8Array;
  contentType?: string;
  /** LLM requests: prompt tokens counted by the coordinator's tokenizer. */
  inputTokens?: number;
}

/** The coordinator gives an agent its part of a task. */
export interface TaskAssign {
  type: 'assign';
  taskId: string;
  agentId: string;
  /** Position of this agent among the task's agents, from 0; spreads the data entries. */
  agentIndex: number;
  agentCount: number;
  config: TaskConfig;
  entries: RequestEntry[];
  /** Contents of http.caFile, read by the coordinator, since agents may run on other hosts. */
  caPem?: string;
  /** Closed loop: requests in flight on this agent; 0 in open-loop modes. */
  concurrency: number;
  /** Closed loop: requests this agent sends in all, or undefined for no limit. */
  requestBudget?: number;
  /** Closed loop with a rate cap: this agent's share of maxQPS, requests per second. */
  maxRatePerSec?: number;
  /** Open loop: requests in flight above which the agent drops sends and counts them. */
  maxInFlight: number;
  /** Length of one window in milliseconds. */
  windowMs: number;
  /** Send a record of every request with the windows. */
  saveRequests: boolean;
}

/** The agent accepted an assignment and starts at the given offset. */
export interface TaskAccepted {
  type: 'accepted';
  taskId: string;
  agentId: string;
}

/**
 * Open-loop send times for one tick: offsets in microseconds from the task start. `last`
 * marks the end of the schedule.
 */
export interface RateTokens {
  type: 'tokens';
  taskId: string;
  tick: number;
  offsetsUs: number[];
  last: boolean;
  /** The coordinator has dealt every arrival before this offset, in µs from the task start. */
  untilUs: number;
  /** This agent's share of the task's rate; the agent paces itself at it while tokens stop. */
  ratePerSec: number;
}

/**
 * start: begin the load `startInMs` after receipt, once every agent has accepted.
 * stop: send no more and drain in-flight requests within drainTimeoutMs, then report done.
 */
export type TaskControl =
  | { type: 'control'; taskId: string; action: 'start'; startInMs: number }
  | {
      type: 'control';
      taskId: string;
      action: 'stop';
      drainTimeoutMs: number;
      /** Only this agent stops, such as one marked lost that may still be running. */
      agentId?: string;
    }
  /** A restarted coordinator requests every window of the task again. */
  | { type: 'control'; taskId: string; action: 'resend' }
  | {
      type: 'control';
      taskId: string;
      action: 'share';
      /** The agent this change is for; others ignore it. */
      agentId: string;
      /** Closed loop: new number of requests in flight on this agent. */
      concurrency?: number;
      /** Closed loop: requests added to this agent's budget, taken over from a lost agent. */
      addRequests?: number;
    };

/** Counters of one window; every field is a count over that window. */
export interface WindowCounters {
  /** Requests sent. */
  sent: number;
  /** Requests with an outcome: a status (any) or an error. */
  completed: number;
  ok: number;
  failed: number;
  /** Response status code to count, for requests that got a status. */
  statusCodes: Record<string, number>;
  /** Failure kind (timeout, connect, reset, tls, status, ...) to count. */
  errors: Record<string, number>;
  /** Open-loop sends dropped because the agent was at its in-flight limit. */
  dropped: number;
  bytesSent: number;
  bytesReceived: number;
  /** Highest number of requests in flight at once during the window. */
  maxInFlight: number;
}

/** One agent's measurements for one window, keyed by the window's sequence number. */
export interface MetricWindow {
  type: 'window';
  taskId: string;
  agentId: string;
  /** Window sequence number: whole windows since the task start. */
  tick: number;
  counters: WindowCounters;
  /** Encoded HDR histograms in microseconds: response time from the intended send, and service time. */
  rtUs: string;
  serviceUs: string;
  /** Time spent waiting past the intended send time before the actual send. */
  waitUs: string;
  llm?: LlmWindow;
}

/** LLM measurements of one window, for requests that streamed generated text. */
export interface LlmWindow {
  /** Encoded HDR histograms in microseconds; TPOT only for requests with more than one output token. */
  ttftUs: string;
  tpotUs: string;
  /** One value per gap between consecutive chunks with text. */
  itlUs: string;
  /** Send to the end of the stream, for requests that streamed text. */
  e2eUs: string;
  inputTokens: number;
  outputTokens: number;
  /** Requests whose output tokens came from the server's usage, and from the tokenizer. */
  usageCounted: number;
  tokenizerCounted: number;
  /** Requests that met every service-level objective the task gave. */
  good: number;
}

export function emptyLlmCounts(): Omit<LlmWindow, 'ttftUs' | 'tpotUs' | 'itlUs' | 'e2eUs'> {
  return { inputTokens: 0, outputTokens: 0, usageCounted: 0, tokenizerCounted: 0, good: 0 };
}

/** One request as written to requests.jsonl; times in ms from the task start, latencies in ms. */
export interface RequestRecord {
  agentId: string;
  intendedMs: number;
  sentMs: number;
  e2eMs: number;
  ttftMs?: number;
  inputTokens?: number;
  outputTokens?: number;
  tokenSource?: 'usage' | 'tokenizer';
  status?: number;
  error?: string;
}

/** Per-request records of one window, sent when the task requests them. */
export interface RequestRecords {
  type: 'records';
  taskId: string;
  agentId: string;
  /** Counts the agent's batches from 0, so that a batch delivered twice is kept once. */
  seq: number;
  records: RequestRecord[];
}

/** The agent finished its part: every window is sent, `incomplete` requests were cut off by the drain. */
export interface TaskDone {
  type: 'done';
  taskId: string;
  agentId: string;
  lastTick: number;
  incomplete: number;
  /** Set when the agent could not run the task at all. */
  error?: string;
}

export type Message =
  | AgentHello
  | AgentHeartbeat
  | TaskAssign
  | TaskAccepted
  | RateTokens
  | TaskControl
  | MetricWindow
  | RequestRecords
  | TaskDone;

export type MessageType = Message['type'];

export const MESSAGE_TYPES: readonly MessageType[] = [
  'hello',
  'heartbeat',
  'assign',
  'accepted',
  'tokens',
  'control',
  'window',
  'records',
  'done',
];

export function emptyCounters(): WindowCounters {
  return {
    sent: 0,
    completed: 0,
    ok: 0,
    failed: 0,
    statusCodes: {},
    errors: {},
    dropped: 0,
    bytesSent: 0,
    bytesReceived: 0,
    maxInFlight: 0,
  };
}

/**
 * Adds `from` into `into`. maxInFlight adds up too, which is right for windows of different
 * agents in the same tick; across ticks the caller keeps the largest instead.
 */
export function addCounters(into: WindowCounters, from: WindowCounters): void {
  into.sent += from.sent;
  into.completed += from.completed;
  into.ok += from.ok;
  into.failed += from.failed;
  into.dropped += from.dropped;
  into.bytesSent += from.bytesSent;
  into.bytesReceived += from.bytesReceived;
  into.maxInFlight += from.maxInFlight;
  addCounts(into.statusCodes, from.statusCodes);
  addCounts(into.errors, from.errors);
}

function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [key, count] of Object.entries(from)) into[key] = (into[key] ?? 0) + count;
}
