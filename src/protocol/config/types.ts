/**
 * Task configuration as users write it. Key names follow the JSON that users of managed
 * stress-testing services already write, so units are stated here: `http.timeout` is in
 * milliseconds, `optional.duration` and `optional.adjustInterval` in seconds, `maxRT` in ms.
 */

/** manual: fixed concurrency per agent (closed loop); rate: open loop at `qps`. */
export type LoadMode = 'manual' | 'rate' | 'scan' | 'auto';

export const LOAD_MODES: readonly LoadMode[] = ['manual', 'rate', 'scan', 'auto'];

export type FaultAction = 'stop' | 'hold';

export const FAULT_ACTIONS: readonly FaultAction[] = ['stop', 'hold'];

export interface ServiceConfig {
  /** Name shown in lists and reports; defaults to the URL's host and path. */
  serviceName?: string;
  url: string;
}

export interface DataConfig {
  /** One request body, base64-encoded. */
  content?: string;
  /** Local files, http(s) URLs or .zip archives, comma-separated. */
  path?: string;
  /** Split each file into one entry per line instead of one entry per file. */
  multiLine: boolean;
}

export interface HttpConfig {
  /** POST when the entry has a body, GET otherwise, unless set. */
  method?: string;
  headers: Record<string, string>;
  /** Per-request timeout in milliseconds. */
  timeout: number;
  /** PEM file of the certificate authority that signed the target's certificate. */
  caFile?: string;
  /** Accept any certificate of an HTTPS target. */
  insecure: boolean;
}

export interface OptionalConfig {
  mode: LoadMode;
  /** Seconds; the task ends then even when `requestCount` is not reached. */
  duration: number;
  /** Total requests over all agents; the task ends when all are answered. */
  requestCount?: number;
  agentCount: number;
  /** Requests in flight per agent in manual mode. */
  concurrency: number;
  /** Target arrival rate of the whole task in rate mode, requests per second. */
  qps?: number;
  /** Shape of the gamma arrival process: 1 is Poisson, lower is burstier, higher is more even. */
  burstiness: number;
  seed: number;
  /** Requests per second that no mode exceeds. */
  maxQPS?: number;
  /** p99 response time limit in milliseconds for scan and auto. */
  maxRT?: number;
  minQPS: number;
  qpsGrowthDelta: number;
  adjustInterval: number;
  /** Fraction of failed requests that scan and auto tolerate. */
  faultTolerate: number;
  faultAction?: FaultAction;
  /** Milliseconds that in-flight requests get to finish when the task stops; defaults to `http.timeout`. */
  drainTimeout: number;
}

export interface TaskConfig {
  name: string;
  service: ServiceConfig;
  data: DataConfig;
  http: HttpConfig;
  optional: OptionalConfig;
}
